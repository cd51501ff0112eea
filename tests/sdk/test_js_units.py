"""The SDK's unit tests (clients/js/test/*.test.js, run by `node --test`: the retry policy, batch
packing, the stored queue, the send queue and the tracker against fakes of fetch, the clock, the
timers, localStorage and a media element) as part of `make test`; node's report is the failure
message. The files are named one by one: a directory argument runs them on Node 18 and 20 only
(21 and later read it as a glob pattern)."""

import re
import subprocess
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "js"


def test_node_unit_tests_pass():
    files = sorted(str(p.relative_to(PACKAGE)) for p in (PACKAGE / "test").glob("*.test.js"))
    assert files, "no unit tests in clients/js/test/"
    result = subprocess.run(["node", "--test", "--test-reporter=tap", *files], cwd=PACKAGE, capture_output=True,
                            text=True, timeout=300)
    report = f"node --test {' '.join(files)} (in clients/js) exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, report
    counts = {name: int(count) for name, count in re.findall(r"^# (\w+) (\d+)$", result.stdout, re.MULTILINE)}
    assert counts["tests"] > 0 and counts["pass"] == counts["tests"], report
    assert counts["skipped"] == counts["todo"] == counts["cancelled"] == 0, report
