"""Session-wide running APIs for the tests that talk to one over HTTP (the browser suite, the Python
client): the embedded default (`watchtime dev` on SQLite) and the full stack (gunicorn API and a
consumer on PostgreSQL/RabbitMQ, plus a second API whose broker connection runs through a relay
the tests can cut). Registered as fixtures in tests/conftest.py; nothing starts unless asked for.
"""

import os
import secrets
import socket
import subprocess
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from testkit.ports import free_port
from testkit.rabbitmq import RABBITMQ_URL, delete_queues
from testkit.waiting import wait_until
from tests import support
from tests.security.server import LiveServer, create_database, drop_database, new_api_key, start_server, stop_server

PAGE_HOST = "localhost"  # the player pages' origin; the APIs are on 127.0.0.1, so every call is cross-origin


@dataclass
class Api:
    """A running API and the two keys a player set-up has: a page's ingest-only key, a reader's key."""

    name: str
    base_url: str
    read_key: str
    ingest_key: str
    log_path: Path
    processes: list = field(default_factory=list)
    env: dict = field(default_factory=dict)  # its processes' environment: `watchtime` commands on its database

    def watchtime(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        """Run a `watchtime` command against this API's database."""
        return subprocess.run([support.WATCHTIME, *args], env=self.env, input=stdin, capture_output=True, text=True,
                              timeout=120)

    def get(self, path: str, **params) -> requests.Response:
        return requests.get(self.base_url + path, params=params, timeout=30,
                            headers={"Authorization": f"Bearer {self.read_key}"})

    def user_total(self, user: str) -> int | None:
        response = self.get(f"/users/{user}/total-watch-time/")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()["total_watch_time"]

    def user_events(self, user: str) -> list[dict]:
        """Every stored event of `user` (all pages of GET /?user=)."""
        events, url, params = [], self.base_url + "/", {"user": user, "page_size": 500}
        while url:
            response = requests.get(url, params=params, timeout=30, headers={"Authorization": f"Bearer {self.read_key}"})
            response.raise_for_status()
            page = response.json()
            events += page["results"]
            url, params = page["next"], None
        return events

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class FullStack:
    api: Api  # publishes to the machine's RabbitMQ directly
    relayed_api: Api  # publishes through `relay`: cut it and this API answers 503
    relay: "Relay"
    queue: str


class Relay:
    """A TCP relay from a loopback port to `upstream`. `cut()` closes every relayed connection and
    refuses new ones (as a broker that went away); `restore()` listens again on the same port."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def restore(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: rebinds at once
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)  # shutdown() first: close() alone would not wake the thread in accept()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            _close(sock)
            with self._lock:
                self._sockets.discard(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _create_key(env: dict, name: str, scope: str) -> str:
    result = subprocess.run([support.WATCHTIME, "createkey", "--name", name, "--scope", scope], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return next(word for word in result.stdout.split() if word.startswith("wt_"))


@pytest.fixture(scope="session")
def page_port() -> int:
    """The port the player pages are served on (the APIs allow http://localhost:<it> for CORS)."""
    return free_port()


@pytest.fixture(scope="session")
def page_origin(page_port) -> str:
    return f"http://{PAGE_HOST}:{page_port}"


def start_embedded(workdir: Path, **extra_env: str) -> Api:
    """`watchtime dev` (SQLite under `workdir`, events applied in the request) with API keys on."""
    read_key = new_api_key()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir),
        "WATCHTIME_VAR_DIR": str(workdir / "var"),
        "DJANGO_DEBUG": "true",
        "WATCHTIME_AUTH": "true",
        "WATCHTIME_BOOTSTRAP_API_KEY": read_key,
        "WATCHTIME_BOOTSTRAP_API_KEY_SCOPES": "ingest,read,admin",
        "WATCHTIME_METRICS_PORT": str(free_port()),
        "WATCHTIME_LOG_LEVEL": "WARNING",
        # The code under test, where the virtualenv's editable install points at another checkout.
        **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
        **extra_env,
    }
    migrated = subprocess.run([support.WATCHTIME, "migrate"], env=env, capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    ingest_key = _create_key(env, "player-page", "ingest")
    port = free_port()
    log_path = workdir / "dev.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([support.WATCHTIME, "dev", "--port", str(port)], env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    api = Api("embedded", f"http://127.0.0.1:{port}", read_key, ingest_key, log_path, [process], env)
    wait_until(lambda: _answers(api, process), timeout=60, message="watchtime dev")
    return api


def stop_embedded(api: Api) -> None:
    for process in api.processes:
        support.stop(process)


@pytest.fixture(scope="session")
def embedded_api(tmp_path_factory, page_origin):
    api = start_embedded(tmp_path_factory.mktemp("embedded-api"), WATCHTIME_CORS_ALLOWED_ORIGINS=page_origin)
    yield api
    stop_embedded(api)


@pytest.fixture(scope="session")
def full_stack(tmp_path_factory, page_origin):
    """gunicorn API + consumer on a fresh PostgreSQL database and queue of the machine's servers;
    static files collected as the image does, so /docs/ and the admin are served as in production."""
    workdir = tmp_path_factory.mktemp("full-stack")
    database = f"watchtime_stack_{os.getpid()}"
    queue = f"watchtime-stack-{uuid.uuid4().hex[:10]}"
    static_root = workdir / "static"
    common = {
        "RABBITMQ_URL": RABBITMQ_URL,
        "WATCHTIME_QUEUE": queue,
        "WATCHTIME_CORS_ALLOWED_ORIGINS": page_origin,
        "DJANGO_STATIC_ROOT": str(static_root),
    }
    with ThreadPoolExecutor(max_workers=3) as pool:  # independent start-up steps overlap
        collected = pool.submit(
            subprocess.run, [support.WATCHTIME, "manage", "collectstatic", "--no-input", "--verbosity", "0"],
            env={"PATH": os.environ["PATH"], "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
                 "WATCHTIME_LIVE_TOKEN_KEY": secrets.token_urlsafe(32), **common},
            capture_output=True, text=True, timeout=120,
        )
        create_database(database)
        relay = Relay(_broker_address())
        relay.restore()
        servers: list[LiveServer] = []
        consumer = None
        try:
            result = collected.result()
            assert result.returncode == 0, result.stdout + result.stderr
            server = start_server(workdir, name=database, **common)
            servers.append(server)
            consumer_env = {**server.env, **common, "WATCHTIME_METRICS_PORT": str(free_port())}
            consumer = support.start("consumer", consumer_env)
            relayed_url = RABBITMQ_URL.replace(f":{_broker_address()[1]}/", f":{relay.port}/", 1)
            relayed = pool.submit(start_server, workdir, name=database, api_key=server.api_key, migrate=False,
                                  WEB_CONCURRENCY="1", **{**common, "RABBITMQ_URL": relayed_url})
            ingest_key = pool.submit(_create_key, server.env, "player-page", "ingest")
            wait_until(lambda: _consumer_ready(consumer, consumer_env), timeout=60,
                               message="consumer readiness")
            servers.append(relayed.result())
            apis = [Api(name, s.base_url, s.api_key, ingest_key.result(), s.log_path, [s.process], s.env)
                    for name, s in (("full", server), ("full-relayed", servers[1]))]
            yield FullStack(api=apis[0], relayed_api=apis[1], relay=relay, queue=queue)
        finally:
            for server in servers:
                stop_server(server)
            if consumer is not None:
                support.stop(consumer)
            relay.cut()
            delete_queues(queue)
            drop_database(database)


def _broker_address() -> tuple[str, int]:
    import pika

    params = pika.URLParameters(RABBITMQ_URL)
    return params.host, params.port


def _answers(api: Api, process: subprocess.Popen) -> bool:
    assert process.poll() is None, f"{api.name} API exited:\n{api.log()}"
    try:
        return requests.get(api.base_url + "/readyz", timeout=5).status_code == 200
    except requests.RequestException:  # not up yet, or too busy to answer within the second
        return False


def _consumer_ready(process: subprocess.Popen, env: dict) -> bool:
    assert process.poll() is None, process.stdout.read()
    try:
        return requests.get(f"http://127.0.0.1:{env['WATCHTIME_METRICS_PORT']}/readyz", timeout=5).status_code == 200
    except requests.RequestException:  # not up yet, or too busy to answer within the second
        return False
