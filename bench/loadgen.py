"""HTTP/1.1 load generators over keep-alive connections, one per mode.

- closed loop (`closed_loop`): Debian's `wrk` (C, one thread), each connection sending its next
  request as soon as the previous answer arrived; gives the maximum throughput at that
  concurrency. A C generator leaves the service most of the 2 shared cores: the asyncio one
  below used about half a core at 1,000 req/s.
- fixed rate (`fixed_rate`): asyncio; request i is *intended* at start + i/R (spread over the
  connections) and its latency is measured from that intended time, not from when it was
  actually sent, so a stalled server is charged for every request it delayed (coordinated
  omission accounted for, as in wrk2, which Debian does not ship).
"""

import asyncio
import json
import math
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PERCENTILES = (50, 90, 99, 99.9)


@dataclass
class LoadResult:
    requests: int
    errors: int  # answers of status >= 400, and (wrk) socket errors and timeouts
    duration: float
    percentiles: dict[float, float] = field(repr=False)  # PERCENTILES -> seconds
    statuses: dict[int, int] = field(default_factory=dict)  # fixed rate only: wrk does not report them

    @property
    def rps(self) -> float:
        return self.requests / self.duration if self.duration else 0.0

    def percentile_ms(self, q: float) -> float:
        return self.percentiles[q] * 1000


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`; the smallest value for q=0."""
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def build_request(
    method: str, path: str, *, host: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, header_block = head.partition(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    length, chunked = None, False
    for line in header_block.split(b"\r\n"):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")  # the empty trailer
    elif length is None:
        raise RuntimeError("response without Content-Length or chunking (the generator needs keep-alive framing)")
    elif length:
        await reader.readexactly(length)
    return status


async def _run_fixed_rate(host, port, requests, connections, duration, rate):
    start = time.perf_counter() + 0.05
    deadline = start + duration
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0

    async def connection_loop(slot: int):
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            i = slot
            while True:
                # Slot k owns intended times k, k+C, k+2C, ... (in units of 1/R).
                intended = start + i / rate
                if intended >= deadline:
                    return
                index = i
                i += connections
                delay = intended - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(requests[index % len(requests)])
                status = await _read_response(reader)
                latencies.append(time.perf_counter() - intended)
                statuses[status] = statuses.get(status, 0) + 1
                if status >= 400:
                    errors += 1
        finally:
            writer.close()

    now = time.perf_counter()
    if start > now:
        await asyncio.sleep(start - now)
    await asyncio.gather(*(connection_loop(k) for k in range(connections)))
    elapsed = time.perf_counter() - start
    measured = {q: percentile(latencies, q) for q in PERCENTILES} if latencies else {q: math.nan for q in PERCENTILES}
    return LoadResult(len(latencies), errors, elapsed, measured, statuses)


def fixed_rate(
    host: str, port: int, requests: list[bytes], *, connections: int, duration: float, rate: float
) -> LoadResult:
    """Send `requests` (cycled) at `rate` req/s for `duration` seconds over `connections` connections."""
    return asyncio.run(_run_fixed_rate(host, port, requests, connections, duration, rate))


# wrk sends the prepared requests as they are, cycling; its done() hook prints the summary.
WRK_SCRIPT = """
local requests, i = {}, 0
init = function(args)
  local file = io.open(args[1], "rb")
  local data = file:read("*a")
  file:close()
  local pos = 1
  while pos <= #data do
    local newline = data:find("\\n", pos, true)
    local length = tonumber(data:sub(pos, newline - 1))
    requests[#requests + 1] = data:sub(newline + 1, newline + length)
    pos = newline + 1 + length
  end
end
request = function()
  i = i % #requests + 1
  return requests[i]
end
done = function(summary, latency, _)
  local e = summary.errors
  local p = {}
  for _, q in ipairs({PERCENTILES}) do p[#p + 1] = string.format('"%s": %d', q, latency:percentile(q)) end
  io.write(string.format('WRK {"requests": %d, "duration_us": %d, "errors": %d, "percentiles_us": {%s}}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout, table.concat(p, ", ")))
end
""".replace("PERCENTILES", ", ".join(str(q) for q in PERCENTILES))


def closed_loop_seconds(duration: float) -> int:
    """wrk runs for whole seconds."""
    return max(1, round(duration))


def closed_loop(host: str, port: int, requests: list[bytes], *, connections: int, duration: float) -> LoadResult:
    """`wrk` over `connections` keep-alive connections for `duration` seconds (closed_loop_seconds)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk; `make services` does it when root)")
    with tempfile.TemporaryDirectory(prefix="watchtime-wrk-") as directory:
        script, payload = Path(directory, "requests.lua"), Path(directory, "requests")
        script.write_text(WRK_SCRIPT)
        payload.write_bytes(b"".join(b"%d\n%s" % (len(r), r) for r in requests))
        seconds = closed_loop_seconds(duration)
        completed = subprocess.run(
            [
                wrk,
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                f"http://{host}:{port}/",
                "--",
                str(payload),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        )
    line = next((x for x in completed.stdout.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"no summary from wrk: {completed.stdout} {completed.stderr}")
    summary = json.loads(line[4:])
    percentiles = {float(q): us / 1e6 for q, us in summary["percentiles_us"].items()}
    return LoadResult(
        summary["requests"],
        summary["errors"],
        summary["duration_us"] / 1e6,
        {q: percentiles[float(q)] for q in PERCENTILES},
    )
