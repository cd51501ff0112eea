"""The dashboard through the real Django stack: sign-in (sessions, CSRF), who sees what, the figures a page shows
equal to the API's answers, the definitions restating them, CSV downloads, errors and empty states in words."""

import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from tests.conftest import heartbeat

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-dashboard-passphrase-42"


def _ts(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def viewing(client_all):
    """alice watches 100 s of heat (duration 100) yesterday, bob 20 s of it: two views, one complete."""
    created = client_all.post("/movies/", {"title": "Heat", "slug": "heat", "duration": 100}, format="json")
    assert created.status_code == 201
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    events = [heartbeat(user=user, slug="heat", at=at) | {"ts": _ts(start + timedelta(seconds=at))}
              for user, last in (("alice", 100), ("bob", 20)) for at in range(0, last + 1, 10)]
    posted = client_all.post("/", events, format="json")
    assert posted.status_code == 202, posted.content
    return created.json()["id"]


def _user(name: str, admin: bool = False) -> Client:
    get_user_model().objects.create_user(name, password=PASSWORD, is_superuser=admin, is_staff=admin)
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=name, password=PASSWORD)
    return client


@pytest.fixture
def reader():
    return _user("reader")


@pytest.fixture
def admin():
    return _user("root", admin=True)


def _csrf(client: Client, url: str) -> str:
    page = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_every_page_wants_a_sign_in_and_no_api_key_stands_in(client_all, viewing):
    key = client_all._credentials["HTTP_AUTHORIZATION"]
    for url in ("/dashboard/", f"/dashboard/movies/{viewing}/", "/dashboard/viewers/alice/",
                "/dashboard/data/top-movies/?format=csv", f"/dashboard/data/top-movies/?key={key.split()[-1]}"):
        response = Client().get(url, HTTP_AUTHORIZATION=key)
        assert response.status_code == 302 and response["Location"].startswith("/dashboard/login/?next="), url


def test_sign_in_needs_the_csrf_token_and_the_password(viewing):
    get_user_model().objects.create_user("reader", password=PASSWORD)
    client = Client(enforce_csrf_checks=True)
    assert client.post("/dashboard/login/", {"username": "reader", "password": PASSWORD}).status_code == 403
    token = _csrf(client, "/dashboard/login/")
    wrong = client.post("/dashboard/login/", {"username": "reader", "password": "nope", "csrfmiddlewaretoken": token})
    assert "did not match a dashboard user" in wrong.content.decode()
    signed = client.post("/dashboard/login/", {"username": "reader", "password": PASSWORD, "csrfmiddlewaretoken": token,
                                               "next": "/dashboard/"})
    assert signed.status_code == 302 and signed["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_the_overview_shows_the_top_movies_the_api_answers(reader, client_all, viewing):
    page = reader.get("/dashboard/?by=views").content.decode()
    link = re.search(r'href="/dashboard/data/top-movies/\?([^"]+)"', page).group(1).replace("&amp;", "&")
    answer = client_all.get("/stats/top-movies/?" + link.replace("format=csv", "format=json")).json()
    assert answer["results"][0]["views"] == 2 and answer["by"] == "views"
    row = re.search(rf'<tr data-id="{viewing}">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r'data-value="(\d+)"', row) == ["120", "2", "2", "1"]  # watch time, viewers, views, completions
    assert "2 min" in row  # 120 s for people


def test_a_definition_restates_the_movie_page(reader, client_all, viewing):
    def figures(query: str) -> dict:
        page = reader.get(f"/dashboard/movies/{viewing}/{query}").content.decode()
        return dict(re.findall(r'data-figure="(\w+)" data-value="([^"]*)"', page))

    assert (figures("")["views"], figures("")["completions"]) == ("2", "1")
    restated = figures("?min_view_seconds=30&completion_ratio=0.5")
    assert (restated["views"], restated["completions"]) == ("1", "1")
    api = client_all.get(f"/movies/{viewing}/engagement/?min_view_seconds=30&completion_ratio=0.5").json()
    assert restated["views"] == str(api["views"]) and restated["completion_rate"] == str(api["completion_rate"])


def test_csv_downloads_are_the_api_answers_rendered_by_the_csv_renderer(reader, client_all, viewing):
    download = reader.get(f"/dashboard/data/movie-retention/?movie={viewing}&format=csv")
    assert download["Content-Type"].startswith("text/csv")
    assert download["Content-Disposition"] == f'attachment; filename="watchtime-movie-retention-{viewing}.csv"'
    assert download.content == client_all.get(f"/movies/{viewing}/retention/?format=csv").content
    rows = download.content.decode().splitlines()
    assert rows[:2] == ["start,viewers,retention", "0,2,1.0"]
    assert reader.get("/dashboard/data/user-export/?user=alice").status_code == 404  # not a table: the admin's export
    assert reader.get("/dashboard/data/movie-retention/?movie=x").status_code == 404


def test_a_reader_sees_no_export_or_erasure_and_may_not_use_them(reader, viewing):
    page = reader.get("/dashboard/viewers/alice/").content.decode()
    assert 'id="progress"' in page and "Erase alice" not in page and 'id="export"' not in page
    assert reader.get("/dashboard/viewers/alice/export/").status_code == 403
    token = _csrf(reader, "/dashboard/viewers/alice/")
    assert reader.post("/dashboard/viewers/alice/erase/", {"confirm": "alice", "csrfmiddlewaretoken": token}).status_code == 403


def test_an_admin_exports_and_erases_with_a_typed_confirmation(admin, client_all, viewing):
    export = admin.get("/dashboard/viewers/alice/export/")
    lines = [json.loads(line) for line in b"".join(export.streaming_content).decode().splitlines()]
    assert export["Content-Type"] == "application/x-ndjson"
    assert (lines[0]["type"], lines[0]["username"], lines[0]["total_watch_time"]) == ("user", "alice", 100)
    assert admin.post("/dashboard/viewers/alice/erase/", {"confirm": "alice"}).status_code == 403  # no CSRF token
    token = _csrf(admin, "/dashboard/viewers/alice/")
    refused = admin.post("/dashboard/viewers/alice/erase/", {"confirm": "alice ", "csrfmiddlewaretoken": token}, follow=True)
    assert "Nothing was erased" in refused.content.decode()
    assert client_all.get("/users/alice/total-watch-time/").status_code == 200
    erased = admin.post("/dashboard/viewers/alice/erase/", {"confirm": "alice", "csrfmiddlewaretoken": token}, follow=True)
    assert "Erased alice" in erased.content.decode()
    assert client_all.get("/users/alice/total-watch-time/").status_code == 404


def test_open_where_the_api_is_open(settings, viewing):
    settings.WATCHTIME_AUTH = False
    page = Client().get("/dashboard/viewers/alice/").content.decode()
    assert 'id="export"' in page  # the API's erasure is open too: nothing hidden
    assert Client().get("/dashboard/login/")["Location"] == "/dashboard/"


def test_errors_and_empty_states_say_what_to_do(reader):
    empty = reader.get("/dashboard/").content.decode()
    assert "No watch time yet" in empty and "Send a first heartbeat" in empty
    assert reader.get("/dashboard/movies/999/").status_code == 404
    assert "No movie with id 999." in reader.get("/dashboard/movies/999/").content.decode()
    wrong = reader.get("/dashboard/?range=custom&from=2026-01-01&to=2027-06-01&interval=hour").content.decode()
    assert "The series could not be shown: At most" in wrong  # the API's limit, in its words
    assert "is not a time zone name" in reader.get("/dashboard/?tz=Nowhere").content.decode()


def test_createuser_makes_a_reader_or_an_admin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    call_command("createuser", "ana")
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    call_command("createuser", "boss", "--admin")
    users = {u.username: u for u in get_user_model().objects.filter(username__in=["ana", "boss"])}
    assert not users["ana"].is_superuser and users["boss"].is_superuser
    assert users["ana"].check_password(PASSWORD)


def test_session_cookie_is_secure_and_http_only_in_production(settings):
    assert settings.DEBUG is False
    assert settings.SESSION_COOKIE_SECURE and settings.SESSION_COOKIE_HTTPONLY and settings.CSRF_COOKIE_SECURE
