"""HTTP/1.1 over a plain socket, so a test controls every byte (paths, header values, framing)."""

import http.client
import socket
import threading


def build_request(method: str, target: str | bytes, headers: list[tuple[str, str | bytes]], body: bytes) -> bytes:
    lines = [method.encode() + b" " + _bytes(target) + b" HTTP/1.1"]
    lines += [name.encode() + b": " + _bytes(value) for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def exchange(port: int, method: str, request: bytes, timeout: float = 30) -> tuple[int, dict, bytes]:
    """Send `request` and read the answer: (status, headers, body).

    The request is sent from a thread while the answer is read, because the server may answer
    (413, 411) and close before it has read a large body.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sender = threading.Thread(target=_send, args=(sock, request), daemon=True)
        sender.start()
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        body = response.read()
        sender.join(timeout)
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def _send(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:  # the server answered and closed before reading everything
        pass


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")
