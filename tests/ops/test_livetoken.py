"""`watchtime livetoken`, run as an operator runs it: the token it prints opens its movie's live count
to a client without an API key, for as long as --ttl says; mistakes are refused with a message."""

import os
import re
import subprocess
import time

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests import support
from watchtime.apikeys import livetokens
from watchtime.events.models import Movie

pytestmark = pytest.mark.django_db(transaction=True)  # the command sees the movie the test wrote


def watchtime(*args: str) -> subprocess.CompletedProcess:
    db = connection.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "WATCHTIME_LOG_LEVEL": "WARNING"}
    return subprocess.run([support.WATCHTIME, *args], env=env, capture_output=True, text=True, timeout=60)


def test_the_printed_token_reads_its_movie_until_the_ttl():
    movie = Movie.objects.create(slug="premiere", title="Premiere")
    before = int(time.time())
    result = watchtime("livetoken", "--movie", str(movie.pk), "--ttl", "2h")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert re.fullmatch(rf"wtl_{movie.pk}_\d+_[A-Za-z0-9_-]{{43}}", token)
    grant = livetokens.verified(token, now=before)
    assert grant.movie_id == movie.pk and before + 7200 <= grant.expires <= int(time.time()) + 7200
    assert "valid until" in result.stderr
    assert APIClient().get(f"/movies/{movie.pk}/live/", {"token": token}).json()["viewers"] == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--movie", "999999"], "No movie with id 999999."),
    (["--movie", "{movie}", "--ttl", "forever"], "'forever' is not a TTL"),
])
def test_mistakes_are_refused(args, message):
    movie = Movie.objects.create(slug="m", title="m")
    result = watchtime("livetoken", *[a.format(movie=movie.pk) for a in args])
    assert result.returncode != 0 and message in result.stderr
    assert "wtl_" not in result.stdout
