"""The analytics Django app."""

from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "watchtime.analytics"
    label = "analytics"
    verbose_name = "Watch-time analytics"

    def ready(self):
        from watchtime.analytics.live import LiveViewersCollector

        # Computed when scraped (metrics.registry); importing watchtime.metrics here instead would
        # create the gunicorn master's metric values before its multiprocess directory is set up.
        self.scrape_collectors = [LiveViewersCollector()]
