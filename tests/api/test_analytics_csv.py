"""`?format=csv` on the analytics endpoints (issue 25): each table of an answer as CSV, rendered by
djangorestframework-csv from the same data as the JSON answer; a header line when there are no rows; errors
in the one JSON shape whatever format was asked; any other format a 400."""

import csv
import io

import pytest

from tests.api.test_analytics import movie, watch

pytestmark = pytest.mark.django_db


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def text(value) -> str:
    return "" if value is None else str(value)


@pytest.fixture
def heat(client_all):
    pk = movie("heat", duration=100)
    watch(client_all, "alice", "heat", (0, 0), (10, 10), (20, 20))
    watch(client_all, "bob", "heat", (0, 3600), (10, 3610))
    return pk


@pytest.mark.parametrize("url", [
    "/movies/{pk}/watch-time/?interval=hour&from=2026-01-01&to=2026-01-02", "/stats/watch-time/?from=2026-01-01&to=2026-01-03",
    "/users/alice/watch-time/?from=2026-01-01&to=2026-01-03", "/stats/top-movies/?from=2026-01-01&to=2026-01-02",
    "/users/alice/progress/?state=all", "/users/alice/views/?min_view_seconds=0",
])
def test_each_table_is_the_json_answers_results(client_all, heat, url):
    url = url.format(pk=heat)
    answer = client_all.get(url + "&format=json").json()
    table = rows(client_all.get(url + "&format=csv"))
    assert table == [{k: text(v) for k, v in row.items()} for row in answer["results"]]
    assert table  # something to compare


def test_retention_is_its_bins_and_engagement_one_row(client_all, heat):
    answer = client_all.get(f"/movies/{heat}/retention/").json()
    assert rows(client_all.get(f"/movies/{heat}/retention/?format=csv")) == [
        {k: text(v) for k, v in b.items()} for b in answer["bins"]]
    (row,) = rows(client_all.get(f"/movies/{heat}/engagement/?format=csv&min_view_seconds=15"))
    assert (row["views"], row["definitions.min_view_seconds"]) == ("1", "15")


def test_no_rows_is_the_header_line_alone(client_all, heat):
    empty = client_all.get("/stats/top-movies/?from=2020-01-01&to=2020-01-02&format=csv")
    assert empty.content.decode() == "id,slug,title,watch_time,viewers,views,completions\r\n"


def test_errors_stay_json_and_another_format_is_refused(client_all, heat):
    bad = client_all.get("/stats/watch-time/?interval=week&format=csv")
    assert bad.status_code == 400 and bad["Content-Type"] == "application/json"
    assert "interval" in bad.json()["error"]["details"]
    missing = client_all.get("/movies/999/retention/?format=csv")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    other = client_all.get("/stats/watch-time/?format=xml")
    assert other.status_code == 400 and other.json()["error"]["details"] == {"format": ["Must be json or csv."]}
