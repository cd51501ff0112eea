"""HEALTHCHECK for docker/podman (Kubernetes ignores it and uses the chart's probes).

The image runs every role, so the role is read from PID 1's command line: `api` answers /livez on $PORT,
`consumer` on $WATCHTIME_METRICS_PORT; one-shot roles (migrate, ...) have nothing to probe.
"""

import os
import sys
import urllib.request

PROBE_PORT_BY_ROLE = {
    "api": ("PORT", "8000"),
    "consumer": ("WATCHTIME_METRICS_PORT", "9100"),
}


def main() -> int:
    with open("/proc/1/cmdline", "rb") as cmdline:
        args = cmdline.read().decode(errors="replace").split("\0")
    role = next((arg for arg in args if arg in PROBE_PORT_BY_ROLE), None)
    if role is None:
        return 0
    variable, default = PROBE_PORT_BY_ROLE[role]
    port = os.environ.get(variable, default)
    for index, arg in enumerate(args):  # `watchtime api --port N` wins over $PORT, as in the CLI
        if role == "api" and arg == "--port" and index + 1 < len(args):
            port = args[index + 1]
        elif role == "api" and arg.startswith("--port="):
            port = arg.partition("=")[2]
    url = f"http://127.0.0.1:{port}/livez"
    try:
        with urllib.request.urlopen(url, timeout=4) as response:  # noqa: S310 - fixed loopback http URL
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
