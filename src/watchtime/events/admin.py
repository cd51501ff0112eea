"""The admin's views of viewers, movies, watch times and the (read-only) event log."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from watchtime.events.models import CustomUser, Event, Movie, WatchTime


@admin.register(CustomUser)
class CustomUserAdmin(UserAdmin):
    list_display = ["username", "total_watch_time", "is_staff"]
    readonly_fields = ["total_watch_time"]


@admin.register(Movie)
class MovieAdmin(admin.ModelAdmin):
    list_display = ["id", "slug", "title", "duration", "total_watch_time"]
    search_fields = ["slug", "title"]
    readonly_fields = ["total_watch_time"]


@admin.register(WatchTime)
class WatchTimeAdmin(admin.ModelAdmin):
    list_display = ["user", "movie", "total", "last_moment"]
    raw_id_fields = ["user", "movie", "last_event"]
    readonly_fields = ["total", "last_moment", "last_event"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Read-only: the log is the source of truth for every total."""

    list_display = ["event_id", "user", "movie", "session", "at", "ts", "received_at"]
    raw_id_fields = ["user", "movie", "stream"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
