"""Reads of the live count: streams whose newest heartbeat by key was received within the window
and closed a credited pair (docs/analytics.md, "Live"). Each is one statement over the few rows
of analytics.models.LiveStream."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from watchtime.analytics.models import LiveStream
from watchtime.db import bulk_sql
from watchtime.events.models import Movie
from watchtime.timestamps import to_us

logger = logging.getLogger(__name__)

TOP_MOVIES = 10


@dataclass(frozen=True)
class LiveMovie:
    id: int
    slug: str
    title: str
    viewers: int


def window_start_us(now_us: int, window_seconds: int) -> int:
    """The earliest receive time still live at `now_us`."""
    return now_us - window_seconds * 1_000_000


def live_viewers(*, now_us: int, window_seconds: int, movie_id: int | None = None) -> int:
    """Live streams of one movie, or of every movie."""
    sql = f"SELECT COUNT(*) FROM {bulk_sql.table(LiveStream)} WHERE credited AND received_us >= %s"
    params: list = [window_start_us(now_us, window_seconds)]
    if movie_id is not None:
        sql += " AND movie_id = %s"
        params.append(movie_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def live_overview(*, now_us: int, window_seconds: int, limit: int = TOP_MOVIES) -> tuple[int, list[LiveMovie]]:
    """Live streams of every movie, and the `limit` movies with most, ties by id: one scan of the
    live rows (counts per movie, summed here), then the top movies' names by primary key."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT movie_id, COUNT(*) FROM {bulk_sql.table(LiveStream)} WHERE credited AND received_us >= %s"
                       " GROUP BY movie_id", [window_start_us(now_us, window_seconds)])
        counts = cursor.fetchall()
    top = sorted(counts, key=lambda row: (-row[1], row[0]))[:limit]
    names = {pk: (slug, title) for pk, slug, title in Movie.objects.filter(pk__in=[m for m, _ in top])
             .values_list("id", "slug", "title")}
    # A movie deleted since the count (its rows go with it) is left out.
    return sum(n for _, n in counts), [LiveMovie(m, *names[m], n) for m, n in top if m in names]


class LiveViewersCollector:
    """`watchtime_live_viewers` computed when scraped (metrics.SCRAPE_COLLECTORS): one COUNT over the
    live rows. Each scrape runs in a thread of its own, so its connection is closed after; when the
    database does not answer the gauge is left out (an absent series, not a wrong zero)."""

    def collect(self):
        try:
            viewers = live_viewers(now_us=to_us(timezone.now()), window_seconds=settings.WATCHTIME_LIVE_WINDOW_SECONDS)
        except DatabaseError:
            logger.warning("watchtime_live_viewers left out of the scrape: the database did not answer")
            return
        finally:
            connection.close()
        yield GaugeMetricFamily("watchtime_live_viewers", "Streams live now, over every movie (docs/analytics.md, \"Live\").",
                                value=viewers)

    def describe(self):
        return []  # registering must not run the query
