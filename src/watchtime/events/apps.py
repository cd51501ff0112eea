"""The events Django app: heartbeats, the event log and the totals."""

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "watchtime.events"
    label = "events"
    verbose_name = "Watch-time events"
