"""The real-time panels (live viewers now, concurrent viewers) from the API's answers, where the API has those
endpoints: each panel appears once its endpoint is among answers.VIEWS."""

from datetime import datetime, timedelta

from watchtime.dashboard.answers import VIEWS, answer
from watchtime.dashboard.series import data_url, moment, rows_and_chart

MINUTES_SHOWN = timedelta(hours=2)


def _iso(moment_: datetime) -> str:
    return moment_.isoformat().replace("+00:00", "Z")


def live_panel(request, controls, movie: int | None = None) -> dict:
    """Viewers watching now (and, overall, the top live movies), refreshed by dashboard.js every 10 s."""
    name, about = ("movie-live", {"movie": movie}) if movie else ("overall-live", {})
    if name not in VIEWS:
        return {}
    arguments = {"movie_pk": movie} if movie else {}
    live = answer(request, name, {}, **arguments)
    as_of = moment(live.data["as_of"], controls.zone).strftime("%H:%M:%S") if live.ok else ""
    return {"live": True, "live_answer": live, "live_as_of": as_of, "live_url": data_url(name, {}, fmt="json", **about)}


def concurrency_panel(request, controls, now: datetime, movie: int | None = None) -> dict:
    """The last two hours by minute, and each day's peak over the page's range."""
    name, about = ("movie-concurrency", {"movie": movie}) if movie else ("overall-concurrency", {})
    if name not in VIEWS:
        return {}
    arguments = {"movie_pk": movie} if movie else {}
    last = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    minute_query = {"interval": "minute", "from": _iso(last - MINUTES_SHOWN), "to": _iso(last)}
    peaks_query = {**controls.days_query(), "interval": "day", "tz": controls.tz}
    minutes = answer(request, name, minute_query, **arguments)
    peaks = answer(request, name, peaks_query, **arguments)
    minutes_rows, minutes_chart = rows_and_chart(minutes, controls.zone, "%H:%M")
    peaks_rows, _ = rows_and_chart(peaks, controls.zone, "%a %d %b %Y")
    for row in peaks_rows:
        row["peak_label"] = moment(row["peak_at"], controls.zone).strftime("%H:%M") if row.get("peak_at") else "–"
    highest = max(peaks_rows, key=lambda row: row["peak"], default=None)
    return {"concurrency": True, "minutes": minutes, "minutes_rows": minutes_rows, "minutes_chart": minutes_chart,
            "peaks": peaks, "peaks_rows": peaks_rows, "highest_peak": highest if highest and highest["peak"] else None,
            "minutes_csv": data_url(name, minute_query, **about), "peaks_csv": data_url(name, peaks_query, **about)}
