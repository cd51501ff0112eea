"""One scenario's watchtime processes (API under gunicorn, consumers) on its own database and
queue of the suite's own PostgreSQL and RabbitMQ."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from testkit.instances import PostgresCluster, RabbitNode
from testkit.ports import free_port
from testkit.waiting import wait_until
from tests.support import WATCHTIME

API_KEY = "wt_faults01_" + "k" * 24
SECRET_KEY = "fault-suite-secret-key-0123456789abcdefghijklmnop"
# The rule's limits, set explicitly so the reference computation uses the same ones.
MAX_CREDIT_SECONDS = 120
MAX_STEP_SECONDS = 15


def base_env(postgres: PostgresCluster, rabbit: RabbitNode, database: str, queue: str) -> dict:
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(("DATABASE_", "RABBITMQ_", "WATCHTIME_", "DJANGO_", "PROMETHEUS_"))}
    return {
        **inherited,
        "DATABASE_URL": postgres.url(database),
        "RABBITMQ_URL": rabbit.url,
        "WATCHTIME_QUEUE": queue,
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "WATCHTIME_LIVE_TOKEN_KEY": SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "WATCHTIME_BOOTSTRAP_API_KEY": API_KEY,
        "WATCHTIME_LOG_LEVEL": "WARNING",
        "WATCHTIME_MAX_CREDIT_SECONDS": str(MAX_CREDIT_SECONDS),
        "WATCHTIME_MAX_STEP_SECONDS": str(MAX_STEP_SECONDS),
    }


def run_command(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([WATCHTIME, *args], env=env, capture_output=True, text=True, timeout=timeout)


class Service:
    """A watchtime process with its log file and ports."""

    def __init__(self, role: str, env: dict, log: Path):
        self.role = role
        self.env = env
        self.log = log
        self.metrics_port = int(env["WATCHTIME_METRICS_PORT"])
        with open(log, "a") as out:
            self.process = subprocess.Popen([WATCHTIME, role], env=env, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def probe(self, path: str, port: int | None = None) -> int | None:
        try:
            return requests.get(f"http://127.0.0.1:{port or self.metrics_port}{path}", timeout=2).status_code
        except requests.RequestException:
            return None

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (from /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def local_tcp_ports(self) -> set[int]:
        """Local ports of the process's TCP sockets (from /proc), to match its database sessions."""
        inodes = set()
        for fd in Path(f"/proc/{self.pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
        ports = set()
        for table in ("tcp", "tcp6"):
            for line in Path(f"/proc/{self.pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        return ports

    def state(self) -> str:
        try:
            return Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return "gone"

    def stop(self, timeout: float = 30) -> int:
        if self.alive():
            self.process.terminate()
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


class Stack:
    """API (2 gunicorn workers) and N consumers for one scenario."""

    def __init__(self, name: str, postgres: PostgresCluster, rabbit: RabbitNode, workdir: Path, template: str,
                 consumer_env: dict | None = None):
        self.name = name
        self.postgres = postgres
        self.rabbit = rabbit
        self.database = f"faults_{name}"
        self.queue = f"faults-{name}"
        self.dead_letter_queue = f"{self.queue}.dead-letter"
        self.workdir = workdir / name
        self.workdir.mkdir(parents=True)
        postgres.create_database(self.database, template=template)
        self.env = base_env(postgres, rabbit, self.database, self.queue)
        self.consumer_env = consumer_env or {}
        self.api: Service | None = None
        self.consumers: list[Service] = []
        self._logs = 0

    def _log(self, role: str) -> Path:
        self._logs += 1
        return self.workdir / f"{role}-{self._logs}.log"

    def start_api(self) -> Service:
        self.api_port = free_port()
        env = {
            **self.env,
            "PORT": str(self.api_port),
            "WATCHTIME_METRICS_PORT": str(free_port()),
            "WEB_CONCURRENCY": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(self.workdir / "prometheus"),
            "GUNICORN_GRACEFUL_TIMEOUT": "5",
        }
        self.api = Service("api", env, self._log("api"))
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        wait_until(lambda: self._api_ready(), timeout=60, interval=0.2, message="API readiness")
        return self.api

    def _api_ready(self) -> bool:
        assert self.api.alive(), self.api.log_text()[-3000:]
        return self.api.probe("/readyz", port=self.api_port) == 200

    def start_consumer(self, wait: bool = True) -> Service:
        # INFO: one "batch applied" line per committed batch, which the ledger sums.
        env = {**self.env, "WATCHTIME_METRICS_PORT": str(free_port()), "WATCHTIME_LOG_LEVEL": "INFO",
               **self.consumer_env}
        consumer = Service("consumer", env, self._log("consumer"))
        self.consumers.append(consumer)
        if wait:
            self.wait_consumer_ready(consumer)
        return consumer

    def wait_consumer_ready(self, consumer: Service, timeout: float = 60) -> None:
        def ready() -> bool:
            assert consumer.alive(), consumer.log_text()[-3000:]
            return consumer.probe("/readyz") == 200

        wait_until(ready, timeout=timeout, interval=0.2, message="consumer readiness")

    def consumer_log(self, message: str) -> list[dict]:
        """The JSON log entries with `message` of every consumer this scenario started."""
        needle = json.dumps({"message": message})[1:-1]
        return [json.loads(line) for consumer in self.consumers for line in consumer.log_text().splitlines()
                if needle in line]

    def running_consumers(self) -> list[Service]:
        return [c for c in self.consumers if c.alive()]

    def verify(self) -> subprocess.CompletedProcess:
        return run_command(self.env, "verify")

    def wait_drained(self, timeout: float) -> None:
        """Until the queue holds nothing, ready or unacknowledged (the broker's own count)."""
        wait_until(lambda: self.rabbit.ready_count(self.queue) == 0, timeout=timeout, interval=0.5,
                   message=f"queue {self.queue} to empty")
        for _ in range(2):  # twice, a second apart: one empty reading is not proof
            wait_until(lambda: self.rabbit.queue_messages(self.queue) == (0, 0), timeout=timeout, interval=0.5,
                       message=f"queue {self.queue} to have nothing unacknowledged")
            time.sleep(1)

    def stop(self) -> None:
        for service in [*self.consumers, *([self.api] if self.api else [])]:
            service.stop()


def kill(service: Service) -> None:
    service.signal(signal.SIGKILL)
    service.wait(timeout=10)


def elapsed_since(start: float) -> float:
    return time.monotonic() - start
