"""Responses written in one call (`handler.OneWriteHandler`), with real
sockets under gevent (a child interpreter, so this process keeps no hub):
the same bytes on the wire as gevent's own handler, in fewer calls."""
from __future__ import annotations

import json
import subprocess
import sys

_SCENARIO = r"""
from gevent import monkey; monkey.patch_all()
import json, re, socket, sys
from gevent import socket as gsocket
from gevent.pywsgi import WSGIServer
from gunicorn.workers.ggevent import PyWSGIHandler
from embedding_server.worker.handler import OneWriteHandler

PATHS = ("/small", "/large", "/pieces", "/chunked", "/empty")
LARGE = bytes(range(256)) * (32 * 1024)  # 8 MB: more than a socket buffer takes at once

def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/small":
        start_response("200 OK", [("Content-Length", "5"), ("X-Test", "a")])
        return [b"hello"]
    if path == "/large":
        start_response("200 OK", [("Content-Length", str(len(LARGE)))])
        return [LARGE]
    if path == "/pieces":  # a sized list: gevent adds its Content-Length
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ab", b"cd"]
    if path == "/chunked":  # an unsized iterator: chunked transfer
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"ab", b"cd"])
    start_response("204 No Content", [])
    return []

calls = []
for name in ("sendall", "sendmsg"):
    original = getattr(gsocket.socket, name)
    def counted(self, *args, _name=name, _original=original, **kwargs):
        calls.append((_name, self))
        return _original(self, *args, **kwargs)
    setattr(gsocket.socket, name, counted)

def fetch(port, path):
    # The raw response without its Date (it differs between two servers),
    # and the client's socket.
    client = socket.create_connection(("127.0.0.1", port))
    client.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    received = bytearray()
    while chunk := client.recv(1 << 16):
        received += chunk
    client.close()
    return re.sub(rb"Date: [^\r]*\r\n", b"", bytes(received)), client

result = {}
for name, handler in (("stock", PyWSGIHandler), ("one_write", OneWriteHandler)):
    server = WSGIServer(("127.0.0.1", 0), app, handler_class=handler, log=None)
    server.start()
    for path in PATHS:
        del calls[:]
        wire, client = fetch(server.server_port, path)
        server_calls = [call for call, sock in calls if sock is not client]
        result[f"{name} {path}"] = {"calls": server_calls, "length": len(wire),
                                    "wire": wire.hex() if len(wire) < 4096 else None,
                                    "large_ok": wire.endswith(b"\r\n\r\n" + LARGE)}
    server.stop()
print(json.dumps(result))
"""


def _scenario() -> dict:
    done = subprocess.run([sys.executable, "-c", _SCENARIO], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_one_write_puts_the_same_bytes_on_the_wire_in_fewer_calls():
    result = _scenario()
    for path in ("/small", "/large", "/pieces", "/chunked", "/empty"):
        stock, one = result[f"stock {path}"], result[f"one_write {path}"]
        assert one["length"] == stock["length"] and one["wire"] == stock["wire"], path
    small = bytes.fromhex(result["one_write /small"]["wire"])
    assert small.startswith(b"HTTP/1.1 200 OK\r\n") and small.endswith(b"\r\n\r\nhello")
    assert b"X-Test: a\r\n" in small
    # A sized response leaves in one call; gevent's own handler makes two.
    assert result["one_write /small"]["calls"] == ["sendmsg"]
    assert result["stock /small"]["calls"] == ["sendall", "sendall"]
    # 8 MB does not fit a socket buffer at once: the send finishes where the
    # first call stopped, and every byte arrives in order.
    assert result["one_write /large"]["large_ok"] and result["stock /large"]["large_ok"]
    assert result["one_write /large"]["calls"][0] == "sendmsg"
    # Chunked and empty bodies keep gevent's path.
    assert result["one_write /chunked"]["calls"] == result["stock /chunked"]["calls"]
    assert bytes.fromhex(result["one_write /chunked"]["wire"]).endswith(
        b"\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n")
    assert result["one_write /empty"]["calls"] == result["stock /empty"]["calls"]
    # A body in pieces: the head leaves with the first, the rest as gevent sends it.
    assert result["one_write /pieces"]["calls"] == ["sendmsg", "sendall"]
    assert bytes.fromhex(result["one_write /pieces"]["wire"]).endswith(b"\r\n\r\nabcd")
