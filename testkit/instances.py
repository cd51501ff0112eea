"""The fault suite's own PostgreSQL cluster (and a streaming standby of it) and RabbitMQ node: real
servers on free loopback ports with data under a temporary directory, which the scenarios stop and
start at will.
They never touch the machine's shared instances on 5432/5672.
"""

import contextlib
import logging
import os
import pwd
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pika
import psycopg2

from testkit.ports import free_port
from testkit.waiting import wait_until

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
IPTABLES = Path("/usr/sbin/iptables")
# Polling a stopped broker is expected here; pika would log every refused connection as an error.
logging.getLogger("pika").setLevel(logging.CRITICAL)


def postgres_bin() -> Path:
    """The newest installed PostgreSQL server's bin directory (Debian layout)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else Path("/usr/lib/postgresql/15/bin")


def ensure_installed() -> None:
    """Install PostgreSQL, RabbitMQ and iptables with apt when missing; the suite runs as root (it
    runs PostgreSQL as the `postgres` user and drops packets to its own broker port)."""
    if os.geteuid() != 0:
        raise RuntimeError("the fault suite runs as root: it starts PostgreSQL as the postgres user with runuser")
    missing = [pkg for pkg, path in (("postgresql", postgres_bin() / "initdb"),
                                     ("rabbitmq-server", RABBITMQ_BIN / "rabbitmq-server"),
                                     ("iptables", IPTABLES)) if not path.exists()]
    if not missing:
        return
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


class PostgresCluster:
    """initdb + pg_ctl as the `postgres` OS user, trust auth, 127.0.0.1:<port>, socket in the temp
    dir; `settings` are server settings (`-c name=value`) on top of PostgreSQL's defaults."""

    def __init__(self, base: Path, settings: dict[str, str] | None = None):
        self._make_home(base / "postgres", settings)
        self.bin = postgres_bin()
        self._as_postgres(self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")

    def _make_home(self, base: Path, settings: dict[str, str] | None) -> None:
        """Its directory (owned by the `postgres` OS user), data directory, log and a free port."""
        self.settings = settings or {}
        self.base = base
        self.data = base / "data"
        self.port = free_port()
        self.log = base / "server.log"
        base.mkdir(parents=True)
        postgres = pwd.getpwnam("postgres")
        os.chown(base, postgres.pw_uid, postgres.pw_gid)

    def _as_postgres(self, *command) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *map(str, command)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, cwd=self.base)

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} -c max_connections=200"
        options += "".join(f" -c {name}={value}" for name, value in self.settings.items())
        self._as_postgres(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", options, "start")

    def stop(self) -> None:
        self._as_postgres(self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        return psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database, connect_timeout=5)

    def create_database(self, name: str, template: str | None = None) -> None:
        connection = self.connect()
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        finally:
            connection.close()


class StandbyCluster(PostgresCluster):
    """A hot standby streaming from `primary` (which must be running): `pg_basebackup -R -X stream`
    as the `postgres` OS user into its own data directory, served on a port of its own."""

    def __init__(self, primary: PostgresCluster, base: Path, settings: dict[str, str] | None = None):
        self._make_home(base / "standby", settings)
        self.bin = primary.bin
        # -R writes primary_conninfo and standby.signal: started, the copy follows the primary. A fast
        # checkpoint: the default spreads the backup's starting checkpoint over minutes.
        self._as_postgres(self.bin / "pg_basebackup", "-h", "127.0.0.1", "-p", primary.port, "-U", "postgres",
                          "-D", self.data, "-R", "-X", "stream", "--checkpoint=fast", "--no-sync")


class RabbitNode:
    """A RabbitMQ node of its own name, ports, data and cookie (HOME override), no plugins."""

    def __init__(self, base: Path):
        self.base = base / "rabbitmq"
        self.name = f"wtfaults{os.getpid()}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        home = self.base / "home"
        home.mkdir(parents=True)
        cookie = home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(20))
        cookie.chmod(0o400)
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq.conf").write_text("loopback_users = none\n")
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))},
            "HOME": str(home),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_ALLOW_INPUT": "",
        }
        self.process: subprocess.Popen | None = None
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def start(self) -> None:
        log = open(self.base / "server.out", "a")
        self.process = subprocess.Popen([str(RABBITMQ_BIN / "rabbitmq-server")], env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.wait_accepting(timeout=90)

    def shutdown(self) -> None:
        """Stop the whole node (as on a pod restart); its durable queues stay on disk."""
        self.ctl("shutdown")
        if self.process is not None:
            self.process.wait(timeout=30)
            self.process = None

    def stop_app(self) -> None:
        """The node stays up but the broker application stops: connections are refused."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.wait_accepting(timeout=60)

    def ctl(self, *args: str, timeout: float = 60) -> str:
        result = subprocess.run([str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.name, *args], env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr or result.stdout}")
        return result.stdout

    def memory_high_watermark(self) -> str:
        """The node's vm_memory_high_watermark as rabbitmqctl accepts it back (a fraction)."""
        return self.ctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().").strip()

    def set_memory_high_watermark(self, fraction: str) -> None:
        """A tiny fraction raises the memory alarm at once: the node blocks every publishing
        connection (connection.blocked) until the watermark is set back."""
        self.ctl("set_vm_memory_high_watermark", fraction)

    @contextlib.contextmanager
    def blackhole(self) -> Iterator[None]:
        """Drop every packet to and from this node's AMQP port (no reset: a network partition as
        clients see it), and only that port; the rules go again however the block ends."""
        rules = [["INPUT", "-i", "lo", "-p", "tcp", direction, str(self.port), "-j", "DROP"]
                 for direction in ("--dport", "--sport")]
        added = []
        try:
            for rule in rules:
                subprocess.run([str(IPTABLES), "-A", *rule], check=True, capture_output=True)
                added.append(rule)
            yield
        finally:
            for rule in added:
                subprocess.run([str(IPTABLES), "-D", *rule], check=True, capture_output=True)

    def queue_messages(self, queue: str) -> tuple[int, int]:
        """(ready, unacknowledged) messages of `queue`, as the broker counts them."""
        for line in self.ctl("list_queues", "-q", "--no-table-headers", "name", "messages_ready",
                             "messages_unacknowledged").splitlines():
            name, ready, unacked = line.split("\t")
            if name == queue:
                return int(ready), int(unacked)
        raise KeyError(queue)

    def ready_count(self, queue: str) -> int:
        """Ready messages via AMQP (cheap; unacknowledged ones are not included)."""
        connection = self.connect()
        try:
            return connection.channel().queue_declare(queue, passive=True).method.message_count
        finally:
            connection.close()

    def connect(self) -> pika.BlockingConnection:
        return pika.BlockingConnection(pika.URLParameters(self.url + "?connection_attempts=1&socket_timeout=2"))

    def wait_accepting(self, timeout: float) -> None:
        def accepting() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited; see {self.base / 'server.out'}")
            try:
                self.connect().close()
                return True
            except pika.exceptions.AMQPError:
                return False

        wait_until(accepting, timeout=timeout, interval=0.25, message=f"RabbitMQ node {self.name}")

    def kill(self) -> None:
        """Teardown: stop the node we started, by its process group."""
        if self.process is not None and self.process.poll() is None:
            try:
                self.ctl("shutdown", timeout=30)
            except (RuntimeError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

