"""HTTP/1.1 load generator: asyncio, keep-alive connections, two modes.

- closed loop (`rate=None`): each connection sends its next request as soon as the previous
  answer arrived; gives the maximum throughput at that concurrency.
- fixed rate (`rate=R`): request i is *intended* at start + i/R (spread over the connections);
  its latency is measured from that intended time, not from when it was actually sent, so a
  stalled server is charged for every request it delayed (coordinated omission accounted for,
  as in wrk2).
"""

import asyncio
import math
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    requests: int
    errors: int
    duration: float
    latencies: list[float] = field(repr=False)  # seconds, one per completed request
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.duration if self.duration else 0.0

    def percentile_ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`; the smallest value for q=0."""
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def build_request(method: str, path: str, *, host: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
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


async def _run(host, port, requests, connections, duration, rate):
    start = time.perf_counter() + 0.05
    deadline = start + duration
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    counter = 0  # next request index (shared; the loop is single-threaded)

    async def connection_loop(slot: int):
        nonlocal errors, counter
        reader, writer = await asyncio.open_connection(host, port)
        try:
            i = slot
            while True:
                if rate is None:
                    intended = time.perf_counter()
                    if intended >= deadline:
                        return
                    index = counter
                    counter += 1
                else:
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
                done = time.perf_counter()
                latencies.append(done - intended)
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
    return LoadResult(len(latencies), errors, elapsed, latencies, statuses)


def run(
    host: str,
    port: int,
    requests: list[bytes],
    *,
    connections: int,
    duration: float,
    rate: float | None = None,
) -> LoadResult:
    """Send `requests` (cycled) for `duration` seconds over `connections` keep-alive connections."""
    return asyncio.run(_run(host, port, requests, connections, duration, rate))
