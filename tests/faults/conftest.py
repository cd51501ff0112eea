"""Fixtures of the fault suite: its own PostgreSQL and RabbitMQ (session), a migrated template
database, and per scenario a fresh database, queue, API and consumers, plus the end-of-scenario
ledger check and the results table."""

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from testkit.instances import PostgresCluster, RabbitNode, ensure_installed
from testkit.waiting import wait_until
from tests.faults import ledger
from tests.faults.load import Heartbeat, LoadDriver, LoadResult, Prober, make_workload
from tests.faults.stack import API_KEY, Stack, base_env, run_command

RESULTS = Path(__file__).parent / "results" / "latest.md"
TEMPLATE_DATABASE = "faults_template"
DRAIN_TIMEOUT = 180

_rows: list[ledger.ScenarioRow] = []
_session_started: float | None = None  # when the suite's own servers start
_last_scenario_done = 0.0  # when the last scenario's checks finished (other tests may follow)


@pytest.fixture(scope="session")
def workdir():
    global _session_started
    _session_started = time.monotonic()
    path = Path(tempfile.mkdtemp(prefix="watchtime-faults-"))
    path.chmod(0o755)  # the postgres OS user owns its data dir below
    yield path
    # WATCHTIME_FAULTS_KEEP=1 keeps the servers' data and every process's log for a post-mortem.
    if os.environ.get("WATCHTIME_FAULTS_KEEP") == "1":
        print(f"\nfault suite: data and logs kept in {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def instances(workdir):
    """(PostgresCluster, RabbitNode), started in parallel (the node takes several seconds)."""
    ensure_installed()
    rabbit = RabbitNode(workdir)
    rabbit_error = []

    def start_rabbit():
        try:
            rabbit.start()
        except Exception as exc:  # reported below, on the test's thread
            rabbit_error.append(exc)

    starter = threading.Thread(target=start_rabbit)
    starter.start()
    # fsync off: the suite stops the server cleanly or kills clients, never the machine.
    postgres = PostgresCluster(workdir, settings={"fsync": "off"})
    try:
        postgres.start()
        migrate_template(postgres, rabbit)
        starter.join()
        if rabbit_error:
            raise rabbit_error[0]
        yield postgres, rabbit
    finally:
        rabbit.kill()
        if postgres.running():
            postgres.stop()


def migrate_template(postgres: PostgresCluster, rabbit: RabbitNode) -> None:
    """`watchtime migrate` once (with the bootstrap key); every scenario's database is a copy.
    Migrating needs no broker, so it runs while the node starts."""
    postgres.create_database(TEMPLATE_DATABASE)
    result = run_command(base_env(postgres, rabbit, TEMPLATE_DATABASE, "unused"), "migrate")
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(autouse=True)
def _instances_running(instances):
    """A scenario that failed mid-fault must not leave the next one without its servers."""
    postgres, rabbit = instances
    if not postgres.running():
        postgres.start()
    if rabbit.process is None:
        rabbit.start()
    else:
        try:
            rabbit.wait_accepting(timeout=1)
        except AssertionError:
            rabbit.start_app()
    yield


class Scenario:
    """One scenario's stack and load, and its check against the reference at the end."""

    def __init__(self, name: str, stack: Stack, seed: int):
        self.name = name
        self.stack = stack
        self.rabbit = stack.rabbit
        self.postgres = stack.postgres
        self.workload = make_workload(seed)
        self.started = time.monotonic()
        self.load: LoadDriver | None = None
        self.prober: Prober | None = None

    def start_load(self, threads: int = 4) -> LoadDriver:
        self.load = LoadDriver(self.stack.api_url, API_KEY, self.workload, threads=threads).start()
        return self.load

    def start_prober(self) -> Prober:
        """A client that gives up every request answered "nothing was accepted" (see load.Prober)."""
        self.prober = Prober(self.stack.api_url, API_KEY, seed=len(self.name), thread=self.load.threads).start()
        return self.prober

    def finish(self, *, direct: dict[str, Heartbeat] | None = None, expect_dead_letters: int = 0) -> ledger.ScenarioRow:
        """Wait for the load and the queue to finish, then compare the stored totals with the reference."""
        result: LoadResult = self.load.join(timeout=240)
        direct = direct or {}
        refused: set[str] = set()
        if self.prober is not None:
            self.prober.stop()
            self.prober.settle()
            assert not self.prober.errors, self.prober.errors[:5]
            direct = {**direct, **{event_id: self.prober.heartbeats[event_id] for event_id in self.prober.accepted}}
            refused = self.prober.refused
        load_done = time.monotonic() - self.started
        assert not result.errors, result.errors[:5]
        unresolved = result.unresolved - result.accepted
        assert not unresolved, f"{len(unresolved)} heartbeats never got a 202"
        # A restarted broker reports a quorum queue empty until the queue has recovered; only a
        # queue with every consumer attached again gives counts to trust.
        for consumer in self.stack.running_consumers():
            self.stack.wait_consumer_ready(consumer, timeout=60)
        self.stack.wait_drained(timeout=DRAIN_TIMEOUT)
        print(f"\n{self.name}: load sent after {load_done:.0f} s, queue drained after {time.monotonic() - self.started:.0f} s")

        accepted = result.accepted | set(direct)
        heartbeats = {**self.workload.heartbeats, **direct}
        connection = self.postgres.connect(self.stack.database)
        try:
            stored = ledger.read_stored(connection)
        finally:
            connection.close()
        expected = ledger.reference(heartbeats[event_id] for event_id in accepted)
        lost = accepted - stored.event_ids
        never_accepted = stored.event_ids - accepted
        applied_after_503 = (refused - accepted) & stored.event_ids
        over, under = ledger.over_and_under(stored.totals, expected)
        # Dead-lettering is asynchronous to the consumer's reject: give it a moment.
        if expect_dead_letters:
            wait_until(lambda: self.rabbit.ready_count(self.stack.dead_letter_queue) >= expect_dead_letters,
                       timeout=30, message=f"{expect_dead_letters} dead letters")
        dead_lettered = self.rabbit.ready_count(self.stack.dead_letter_queue)
        row = ledger.ScenarioRow(
            scenario=self.name,
            sent=len(heartbeats) + len(refused - accepted),
            accepted=len(accepted),
            rejected_503=result.statuses[503],
            unknown=result.statuses[None],
            applied=len(stored.event_ids),
            # A "batch applied" line names only the outcomes it had: "duplicate" when some were dropped.
            duplicates_dropped=sum(entry.get("duplicate", 0) for entry in self.stack.consumer_log("batch applied")),
            dead_lettered=dead_lettered,
            lost=len(lost),
            double_counted=stored.duplicate_rows + over,
            applied_after_503=len(applied_after_503),
            exact=not lost and not never_accepted and not stored.duplicate_rows and not over and not under,
            seconds=time.monotonic() - self.started,
        )
        _rows.append(row)
        global _last_scenario_done
        _last_scenario_done = time.monotonic()
        print(f"\n{ledger.markdown_table([row])}\n")

        assert not lost, f"{len(lost)} accepted heartbeats lost, e.g. {sorted(lost)[:3]}"
        assert not applied_after_503, (f"{len(applied_after_503)} heartbeats answered 503 'nothing was accepted' "
                                       f"were applied, e.g. {sorted(applied_after_503)[:3]}")
        assert not never_accepted, f"{len(never_accepted)} heartbeats applied that were never accepted"
        assert stored.duplicate_rows == 0
        assert (over, under) == (0, 0), f"{over} totals above and {under} below the reference"
        assert stored.totals == expected
        assert dead_lettered == expect_dead_letters
        verify = self.stack.verify()
        assert verify.returncode == 0, verify.stderr[-3000:]
        return row


@pytest.fixture
def scenario(instances, workdir):
    """`scenario(name, seed, consumers=2, **consumer_env)` -> a Scenario with API and consumers running."""
    postgres, rabbit = instances
    stacks: list[Stack] = []

    def make(name: str, seed: int, consumers: int = 2, **consumer_env: str) -> Scenario:
        stack = Stack(name, postgres, rabbit, workdir, TEMPLATE_DATABASE, consumer_env=consumer_env)
        stacks.append(stack)
        stack.start_api()
        for _ in range(consumers):
            stack.start_consumer(wait=False)
        for consumer in stack.consumers:
            stack.wait_consumer_ready(consumer)
        return Scenario(name, stack, seed)

    yield make
    for stack in stacks:
        stack.stop()


def scenario_tests() -> list[str]:
    from tests.faults import test_scenarios, test_scenarios_publisher

    return [name for module in (test_scenarios, test_scenarios_publisher) for name in vars(module)
            if name.startswith("test_")]


def pytest_terminal_summary(terminalreporter):
    if not _rows:
        return
    table = ledger.markdown_table(_rows)
    duration = _last_scenario_done - (_session_started or _last_scenario_done)
    terminalreporter.write_sep("=", "fault-injection scenarios")
    terminalreporter.write_line(table)
    terminalreporter.write_line(f"fault suite: {len(_rows)} scenarios in {duration:.0f} s")
    # Only a run of every scenario replaces the documented results.
    if len(_rows) == len(scenario_tests()) and os.environ.get("WATCHTIME_FAULTS_RESULTS", "1") != "0":
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(
            "# Fault-injection results (latest run)\n\n"
            "Written by `make test-faults` (tests/faults); definitions in tests/faults/ledger.py.\n\n"
            f"{table}\n\nSuite duration: {duration:.0f} s (servers' start included).\n"
        )
