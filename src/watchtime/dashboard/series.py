"""An API answer's buckets for a page: rows for its table (times on the viewer's wall clock) and columns for
its chart (epoch seconds); and the dashboard's download URL of an answer."""

from datetime import datetime
from urllib.parse import urlencode

from django.urls import reverse


def data_url(name: str, query: dict, fmt: str = "csv", **arguments) -> str:
    """The dashboard's download of an API answer (the session stands in for the API key)."""
    query = {**{k: v for k, v in query.items() if v not in (None, "")}, **arguments, "format": fmt}
    return reverse("dashboard:data", args=[name]) + "?" + urlencode(query)


def moment(text: str, zone) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(zone)


def rows_and_chart(series_answer, zone, pattern: str) -> tuple[list, dict]:
    rows, chart = [], {"x": []}
    for bucket in series_answer.data["results"] if series_answer.ok else []:
        start = moment(bucket["start"], zone)
        rows.append({**bucket, "label": start.strftime(pattern)})
        chart["x"].append(int(start.timestamp()))
        for name, value in bucket.items():
            if name != "start" and not isinstance(value, str):
                chart.setdefault(name, []).append(value)
    return rows, chart
