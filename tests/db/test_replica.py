"""Reads from a real streaming replica: a PostgreSQL primary of the test's own (the machine's
cluster admits no replication connections), a hot standby made from it with pg_basebackup, and
real `watchtime api` processes with DATABASE_READ_URL pointing at the standby.

Pausing the standby's replay is the proof of where a read went: a write on the primary is then
invisible on the standby only, so an old value answered came from the replica, a new one from
the primary.
"""

import shutil
import tempfile
import uuid
from contextlib import closing
from pathlib import Path

import psycopg2
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from testkit.instances import PostgresCluster, StandbyCluster
from testkit.waiting import wait_until
from tests.conftest import heartbeat
from tests.security.server import LiveServer, start_server, stop_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DB = "watchtime"


@pytest.fixture(scope="module")
def clusters():
    workdir = Path(tempfile.mkdtemp(prefix="watchtime-replica-"))
    workdir.chmod(0o755)  # the servers run as the postgres user
    primary = PostgresCluster(workdir)
    standby = None
    try:
        primary.start()
        primary.create_database(DB)
        # Every statement on the standby is logged: the proof that `migrate` sent it none.
        standby = StandbyCluster(primary, workdir, settings={"log_statement": "all"})
        standby.start()
        wait_until(lambda: _database_visible(standby), timeout=30, message="the standby to show the database")
        yield primary, standby
    finally:
        for cluster in (standby, primary):
            if cluster is not None and cluster.running():
                cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _database_visible(standby) -> bool:
    try:
        with closing(standby.connect(DB)):
            return True
    except psycopg2.OperationalError:
        return False


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("replica-api")


@pytest.fixture(scope="module")
def api(clusters, workdir):
    """Reads from the replica whatever its lag (DATABASE_READ_MAX_LAG_SECONDS=0)."""
    primary, standby = clusters
    server = _start(workdir, primary, standby, "0")
    yield server
    stop_server(server)


def _start(workdir, primary, standby, max_lag: str, api_key: str | None = None) -> LiveServer:
    return start_server(
        workdir, name=DB, api_key=api_key, DATABASE_URL=primary.url(DB), DATABASE_READ_URL=standby.url(DB),
        DATABASE_READ_MAX_LAG_SECONDS=max_lag, WEB_CONCURRENCY="1", GUNICORN_THREADS="2",
    )


def sql(cluster, statement: str, params=None):
    with closing(cluster.connect(DB)) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else None


def post(server: LiveServer, *events: dict) -> None:
    response = requests.post(f"{server.base_url}/", json=list(events), headers=_auth(server), timeout=10)
    assert response.status_code == 202, response.text


def total(server: LiveServer, user: str) -> int | None:
    """The user's total, None while the answering database has no such user yet (a replica behind)."""
    response = requests.get(f"{server.base_url}/users/{user}/total-watch-time/", headers=_auth(server), timeout=10)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return response.json()["total_watch_time"]


def series_total(server: LiveServer, user: str) -> int:
    """The user's hourly watch-time series (an analytics read) summed over the day of the heartbeats."""
    query = {"interval": "hour", "from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}
    response = requests.get(f"{server.base_url}/users/{user}/watch-time/", params=query, headers=_auth(server), timeout=10)
    assert response.status_code == 200, response.text
    return sum(row["watch_time"] for row in response.json()["results"])


def _auth(server: LiveServer) -> dict:
    return {"Authorization": f"Bearer {server.api_key}"}


def metric(server: LiveServer, name: str, **labels: str) -> float | None:
    text = requests.get(f"http://127.0.0.1:{server.env['WATCHTIME_METRICS_PORT']}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


def primary_total(primary, user: str) -> int:
    return sql(primary, "SELECT total_watch_time FROM events_customuser WHERE username = %s", [user])[0][0]


def pause_replay(standby) -> None:
    sql(standby, "SELECT pg_wal_replay_pause()")
    wait_until(lambda: sql(standby, "SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused",
                       timeout=10, message="replay to pause")


def resume_replay(standby) -> None:
    sql(standby, "SELECT pg_wal_replay_resume()")


def new_user() -> str:
    return f"u{uuid.uuid4().hex[:8]}"


def test_migrate_never_touches_the_replica(clusters, api):
    _, standby = clusters
    # `start_server` ran `watchtime migrate` with DATABASE_READ_URL set; the standby logged no statement of it.
    log = standby.log.read_text(errors="replace")
    assert "django_migrations" not in log and "CREATE TABLE" not in log
    assert sql(standby, "SELECT count(*) FROM django_migrations")[0][0] > 0  # the tables came by replication


def test_total_and_analytics_reads_come_from_the_replica_and_writes_go_to_the_primary(clusters, api):
    primary, standby = clusters
    user = new_user()
    post(api, heartbeat(user=user, at=0, ts=0), heartbeat(user=user, at=10, ts=10))
    wait_until(lambda: total(api, user) == 10, timeout=10, message="the replica to replay the first write")

    pause_replay(standby)
    try:
        # The write succeeds while the replica replays nothing, and a replica refuses writes anyway:
        # it went to the primary.
        post(api, heartbeat(user=user, at=20, ts=20))
        assert primary_total(primary, user) == 20
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
            sql(standby, "UPDATE events_customuser SET total_watch_time = 0 WHERE username = %s", [user])
        # The reads answer what the paused replica holds, not the primary's newer value.
        assert total(api, user) == 10
        assert series_total(api, user) == 10
    finally:
        resume_replay(standby)
    wait_until(lambda: total(api, user) == 20, timeout=10, message="the replica to replay the second write")
    assert series_total(api, user) == 20


def test_the_lag_is_exported_and_over_the_limit_reads_go_to_the_primary(clusters, api, workdir):
    primary, standby = clusters
    strict = _start(workdir, primary, standby, "1", api_key=api.api_key)  # same database, same bootstrap key
    try:
        user = new_user()
        post(api, heartbeat(user=user, at=0, ts=0), heartbeat(user=user, at=10, ts=10))
        wait_until(lambda: total(api, user) == 10, timeout=10, message="the replica to replay the write")
        wait_until(lambda: metric(strict, "watchtime_database_replica_lag_seconds") == 0, timeout=10,
                           message="the strict server to measure no lag")
        assert metric(strict, "watchtime_dependency_up", dependency="replica") == 1

        pause_replay(standby)
        try:
            post(api, heartbeat(user=user, at=20, ts=20))
            wait_until(lambda: (metric(strict, "watchtime_database_replica_lag_seconds") or 0) > 1, timeout=15,
                               message="the lag to exceed DATABASE_READ_MAX_LAG_SECONDS=1")
            assert metric(api, "watchtime_database_replica_lag_seconds") > 0
            assert total(api, user) == 10  # no limit: still the replica's value
            assert total(strict, user) == 20  # over its limit: the primary's
            assert series_total(strict, user) == 20
            assert metric(strict, "watchtime_database_replica_fallback_reads_total", reason="lagging") >= 2
        finally:
            resume_replay(standby)
        wait_until(lambda: metric(strict, "watchtime_database_replica_lag_seconds") == 0, timeout=15,
                           message="the lag to go back to 0")
        lagging = metric(strict, "watchtime_database_replica_fallback_reads_total", reason="lagging")
        assert total(strict, user) == 20
        assert metric(strict, "watchtime_database_replica_fallback_reads_total", reason="lagging") == lagging
        assert "read replica lagging" in strict.log()
    finally:
        stop_server(strict)


def test_a_stopped_replica_leaves_the_reads_to_the_primary(clusters, api):
    primary, standby = clusters
    user = new_user()
    post(api, heartbeat(user=user, at=0, ts=0), heartbeat(user=user, at=10, ts=10))
    wait_until(lambda: total(api, user) == 10, timeout=10, message="the replica to replay the write")

    standby.stop()
    try:
        post(api, heartbeat(user=user, at=20, ts=20))
        assert total(api, user) == 20  # 200, from the primary: the first read may meet the dead connection
        assert series_total(api, user) == 20
        wait_until(lambda: metric(api, "watchtime_dependency_up", dependency="replica") == 0, timeout=10,
                           message="the poller to notice the replica is gone")
        assert total(api, user) == 20
        assert metric(api, "watchtime_database_replica_fallback_reads_total", reason="unavailable") >= 2
        assert "read replica unavailable" in api.log()
    finally:
        standby.start()
    wait_until(lambda: metric(api, "watchtime_dependency_up", dependency="replica") == 1, timeout=20,
                       message="the replica back in use")
    assert total(api, user) == 20
