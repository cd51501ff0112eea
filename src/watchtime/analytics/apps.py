"""The analytics Django app."""

from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "watchtime.analytics"
    label = "analytics"
    verbose_name = "Watch-time analytics"

    def ready(self):
        from watchtime import metrics
        from watchtime.analytics.live import LiveViewersCollector

        if not any(isinstance(c, LiveViewersCollector) for c in metrics.SCRAPE_COLLECTORS):
            metrics.SCRAPE_COLLECTORS.append(LiveViewersCollector())
