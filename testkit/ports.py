"""Free loopback ports for the servers a test or bench run starts."""

import random
import socket
from contextlib import closing

# Below Linux's ephemeral range (32768-60999), so no outgoing connection of any process can take
# the port between choosing it and the server binding it.
PORT_RANGE = (20000, 32000)
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nobody listens on, never handed out twice in this process."""
    while True:
        port = random.randint(*PORT_RANGE)
        if port in _handed_out:
            continue
        with closing(socket.socket()) as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
