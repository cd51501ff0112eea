"""API keys (hash and prefix only) and the per-key request windows of the rate limit."""

from django.db import models

from watchtime.apikeys import SCOPES  # noqa: F401 (importers take it from here too)


class ApiKey(models.Model):
    """A client's key. Only a hash is stored; the short prefix identifies it in lists and logs."""

    name = models.SlugField(max_length=100, unique=True)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.CharField(max_length=100, help_text="Comma-separated: ingest, read, admin.")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(s for s in self.scopes.split(",") if s)


class RateWindow(models.Model):
    """Requests counted per key per fixed window, shared by every API process."""

    key_prefix = models.CharField(max_length=16)
    window_start = models.BigIntegerField(help_text="Unix seconds.")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key_prefix", "window_start"], name="ratewindow_key_window_unique")]
