"""The bench's own PostgreSQL cluster and queue, and the service processes run against them.

The cluster is started for the run with PostgreSQL's defaults (fsync and synchronous commit
on, so a commit is durable; autovacuum on, as in any deployment) rather than borrowed from the
machine, whose server may be tuned for tests (this machine's has autovacuum off, which let
planner statistics go stale and dead rows pile up within one run). One setting is not the
default: `wal_compression` on (lz4 where the server is built with it, else pglz), as the chart's
PostgreSQL runs and docs/operations.md recommends: the full-page images written after each
checkpoint were about a fifth of the WAL per event.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import closing
from pathlib import Path

import pika

# One implementation of these for the tests and the bench.
from testkit.instances import PostgresCluster, ensure_installed, postgres_bin
from testkit.ports import free_port
from testkit.rabbitmq import RABBITMQ_URL, declare_queues, delete_queues, queue_depth

WATCHTIME = str(Path(sys.executable).with_name("watchtime"))
API_KEY_PREFIX = "bench"


class Stack:
    """A PostgreSQL cluster of its own holding database `watchtime_bench`, and queue
    `watchtime-bench-<pid>`; `close()` stops the one and deletes the other."""

    def __init__(self):
        run_id = os.getpid()
        ensure_installed()
        self.workdir = tempfile.mkdtemp(prefix="watchtime-bench-")
        os.chmod(self.workdir, 0o755)  # the server runs as the postgres user
        self.postgres = PostgresCluster(Path(self.workdir), settings=server_settings())
        self.db_name = "watchtime_bench"
        self.queue = f"watchtime-bench-{run_id}"
        self.api_key = f"wt_{API_KEY_PREFIX}{run_id}_{os.urandom(16).hex()}"
        self.database_url = self.postgres.url(self.db_name)
        self.processes: list[subprocess.Popen] = []
        self.scratch_dirs: list[str] = []
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "RABBITMQ_URL": RABBITMQ_URL,
            "WATCHTIME_QUEUE": self.queue,
            "DJANGO_SECRET_KEY": "bench-secret-key-not-for-production-0123456789",
            "WATCHTIME_LIVE_TOKEN_KEY": "bench-live-token-key-not-for-production",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "DJANGO_DEBUG": "false",
            "WATCHTIME_LOG_LEVEL": "WARNING",
            "WATCHTIME_BOOTSTRAP_API_KEY": self.api_key,
            "WATCHTIME_BOOTSTRAP_API_KEY_SCOPES": "ingest,read",
            "MALLOC_ARENA_MAX": "2",  # as the image sets it
        }

    # database ---------------------------------------------------------------------------------

    def create(self) -> None:
        self.postgres.start()
        self.postgres.create_database(self.db_name)
        subprocess.run([WATCHTIME, "migrate"], env=self.env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.declare_queue()

    def connect(self):
        conn = self.postgres.connect(self.db_name)
        conn.autocommit = True
        return conn

    def sql(self, statement: str, params=None):
        with closing(self.connect()) as conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else None

    def truncate_events(self) -> None:
        analytics = [name for (name,) in self.sql("SELECT tablename FROM pg_tables WHERE tablename LIKE 'analytics\\_%%'")]
        self.sql(
            "TRUNCATE events_eventlog, events_eventid, events_stream, events_watchtime, events_movie, events_customuser"
            f"{''.join(', ' + name for name in analytics)} RESTART IDENTITY CASCADE"
        )

    def close(self) -> None:
        for process in self.processes:
            stop(process)
        for directory in self.scratch_dirs:
            shutil.rmtree(directory, ignore_errors=True)
        try:
            delete_queues(self.queue)
        finally:
            try:
                if self.postgres.running():
                    self.postgres.stop()
            finally:
                shutil.rmtree(self.workdir, ignore_errors=True)

    # broker -----------------------------------------------------------------------------------

    def declare_queue(self) -> None:
        with closing(blocking_connection()) as conn:
            declare_queues(conn.channel(), self.queue)

    def purge(self) -> int:
        """Empty the queue once it stops growing: requests still in flight when a load generator
        stops are published after it returns, and would otherwise reach a later section. Returns
        the number of messages purged (what the API published since the last purge)."""
        with closing(blocking_connection()) as conn:
            channel = conn.channel()
            depth = -1
            while (now := channel.queue_declare(self.queue, passive=True).method.message_count) != depth:
                depth = now
                time.sleep(0.2)
            return channel.queue_purge(self.queue).method.message_count

    def depth(self) -> int:
        return queue_depth(self.queue)

    # processes --------------------------------------------------------------------------------

    def start(self, role: str, **extra_env) -> tuple[subprocess.Popen, int]:
        """Start `watchtime <role>`; returns the process and its metrics port."""
        return self.start_command([WATCHTIME, role], gunicorn=role == "api", **extra_env)

    def start_command(self, argv: list[str], *, gunicorn: bool, **extra_env) -> tuple[subprocess.Popen, int]:
        """Start `argv` in the bench's environment; returns the process and its metrics port."""
        metrics_port = free_port()
        env = {**self.env, "WATCHTIME_METRICS_PORT": str(metrics_port), **extra_env}
        if gunicorn:
            env["PROMETHEUS_MULTIPROC_DIR"] = f"/tmp/watchtime-bench-prometheus-{metrics_port}"
            self.scratch_dirs.append(env["PROMETHEUS_MULTIPROC_DIR"])
        process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self.processes.append(process)
        return process, metrics_port

    def stop(self, process: subprocess.Popen) -> None:
        stop(process)
        self.processes.remove(process)


def server_settings() -> dict[str, str]:
    """The bench cluster's settings on top of PostgreSQL's defaults."""
    return {"wal_compression": wal_compression_method(pg_configure())}


def pg_configure() -> str:
    """The server's build options (`pg_config --configure`), "" when pg_config is not there."""
    try:
        return subprocess.run([str(postgres_bin() / "pg_config"), "--configure"], capture_output=True, text=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""


def wal_compression_method(configure: str) -> str:
    """lz4 when the server is built with it (PostgreSQL 15 and later take a method name), else pglz."""
    return "lz4" if "--with-lz4" in configure else "pglz"


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def blocking_connection() -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def scrape(port: int) -> dict[str, float]:
    """`name{labels}` -> value from a Prometheus text endpoint on 127.0.0.1."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        match = METRIC_LINE.match(line)
        if match:
            samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


def applied(port: int) -> float:
    try:
        return scrape(port).get('watchtime_events_processed_total{outcome="applied"}', 0.0)
    except OSError:
        return 0.0


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found
