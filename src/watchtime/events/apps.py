from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "watchtime.events"
    label = "events"
    verbose_name = "Watch-time events"
