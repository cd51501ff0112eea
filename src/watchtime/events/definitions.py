"""The rule's parameters, read from settings (the rule itself takes them as plain values)."""

from django.conf import settings

from watchtime.rule.credit import Limits


def limits_from_settings() -> Limits:
    return Limits(
        max_credit_seconds=settings.WATCHTIME_MAX_CREDIT_SECONDS,
        max_step_seconds=settings.WATCHTIME_MAX_STEP_SECONDS,
    )
