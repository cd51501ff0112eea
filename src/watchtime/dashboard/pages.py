"""The dashboard's pages: overview, movie and viewer, each drawn from the API's answers to the page's controls."""

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from watchtime.analytics import selectors
from watchtime.dashboard import controls as page_controls
from watchtime.dashboard.access import is_admin, is_open, reader_required
from watchtime.dashboard.answers import answer
from watchtime.dashboard.realtime import concurrency_panel, live_panel
from watchtime.dashboard.series import data_url, moment, rows_and_chart
from watchtime.errors import DomainError

UPLOT_VERSION = "1.6.32"  # static/dashboard/vendor/uplot/
TOP_LIMIT = 10
VIEWS_SHOWN = 50  # a viewer's newest views on the page (the CSV: the API's largest page, 500)


def _series(series_answer, controls) -> tuple[list, dict]:
    pattern = "%a %d %b %Y, %H:%M" if controls.interval == "hour" else "%a %d %b %Y"
    return rows_and_chart(series_answer, controls.zone, pattern)


def _common(request, controls, **extra) -> dict:
    return {
        "controls": controls, "presets": page_controls.PRESETS, "intervals": page_controls.INTERVALS,
        "rankings": page_controls.RANKINGS, "zones": page_controls.ZONES, "is_admin": is_admin(request),
        "is_open": is_open(), "uplot_version": UPLOT_VERSION, "page_query": urlencode(controls.page_query()), **extra,
    }


@require_GET
@reader_required
def overview(request):
    now = timezone.now()
    controls = page_controls.read(request.GET, now=now)
    series = answer(request, "overall-series", controls.series_query())
    top_query = {**controls.days_query(), **controls.definitions_query(), "by": controls.by, "limit": TOP_LIMIT}
    top = answer(request, "top-movies", top_query)
    rows, chart = _series(series, controls)
    empty = series.ok and top.ok and not any(r["watch_time"] for r in rows) and not top.data["results"]
    return render(request, "dashboard/overview.html", _common(
        request, controls, series=series, rows=rows, chart=chart, top=top, empty=empty,
        ranking=page_controls.RANKINGS[controls.by],
        series_csv=data_url("overall-series", controls.series_query()),
        top_csv=data_url("top-movies", top_query),
        ever=selectors.as_of() is not None, **live_panel(request, controls), **concurrency_panel(request, controls, now),
    ))


@require_GET
@reader_required
def movie(request, movie_pk: int):
    now = timezone.now()
    controls = page_controls.read(request.GET, now=now)
    try:
        film = selectors.movie_of(movie_pk)
    except DomainError as exc:
        return render(request, "dashboard/missing.html", _common(request, controls, what="movie", message=exc.message),
                      status=404)
    engagement_query = {**controls.range_query(), **controls.definitions_query()}
    series = answer(request, "movie-series", controls.series_query(), movie_pk=movie_pk)
    engagement = answer(request, "movie-engagement", engagement_query, movie_pk=movie_pk)
    retention = answer(request, "movie-retention", {}, movie_pk=movie_pk)
    rows, chart = _series(series, controls)
    bins = retention.data["bins"] if retention.ok else []
    retention_chart = {"x": [b["start"] for b in bins], "retention": [b["retention"] for b in bins]}
    return render(request, "dashboard/movie.html", _common(
        request, controls, movie=film, series=series, rows=rows, chart=chart, engagement=engagement,
        retention=retention, bins=bins, retention_chart=retention_chart,
        series_csv=data_url("movie-series", controls.series_query(), movie=movie_pk),
        engagement_csv=data_url("movie-engagement", engagement_query, movie=movie_pk),
        retention_csv=data_url("movie-retention", {}, movie=movie_pk),
        **live_panel(request, controls, movie=movie_pk), **concurrency_panel(request, controls, now, movie=movie_pk),
    ))


@require_GET
@reader_required
def viewer(request, username: str):
    controls = page_controls.read(request.GET)
    try:
        selectors.user_id_of(username)
    except DomainError as exc:
        return render(request, "dashboard/missing.html", _common(request, controls, what="viewer", message=exc.message),
                      status=404)
    series = answer(request, "user-series", controls.series_query(), username=username)
    progress = answer(request, "user-progress", {"state": "all", "page_size": 100}, username=username)
    views_query = {**controls.definitions_query(), "page_size": VIEWS_SHOWN}
    views = answer(request, "user-views", views_query, username=username)
    rows, chart = _series(series, controls)
    for view in views.data["results"] if views.ok else []:
        view["started_label"] = moment(view["started_at"], controls.zone).strftime("%a %d %b %Y, %H:%M")
    return render(request, "dashboard/viewer.html", _common(
        request, controls, username=username, series=series, rows=rows, chart=chart, progress=progress,
        views=views, series_csv=data_url("user-series", controls.series_query(), user=username),
        progress_csv=data_url("user-progress", {"state": "all", "page_size": 500}, user=username),
        views_csv=data_url("user-views", {**controls.definitions_query(), "page_size": 500}, user=username),
    ))


@require_GET
@reader_required
def find_viewer(request):
    username = request.GET.get("username", "").strip()
    if not username:
        messages.error(request, "Type a viewer's username to open their page.")
        return redirect("dashboard:overview")
    return redirect("dashboard:viewer", username=username)
