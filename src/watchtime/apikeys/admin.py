"""The admin's view of API keys: listed and revocable, never shown or created there."""

from django.contrib import admin

from watchtime.apikeys.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "scopes", "created_at", "revoked_at"]
    readonly_fields = ["prefix", "key_hash", "created_at"]
    search_fields = ["name", "prefix"]

    def has_add_permission(self, request):
        return False  # keys are created with `watchtime createkey`, which shows the key once
