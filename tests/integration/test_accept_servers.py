"""Two balanced servers on one listening socket, as two gunicorn workers are,
in one gevent loop (a child interpreter, so this process keeps no hub):
which one takes each new connection, with real sockets."""
from __future__ import annotations

import json
import subprocess
import sys

_SCENARIO = r"""
import json, sys, time
import gevent
from gevent import socket as gsocket
from gevent.pool import Pool
from embedding_server.worker.accept import BalancedServer, ConnectionTable

mode = sys.argv[1]
listener = gsocket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(64)
port = listener.getsockname()[1]

def app(environ, start_response):
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]

table = ConnectionTable(2)
servers = [BalancedServer(listener, application=app, spawn=Pool(100), log=None,
                          table=table if mode != "unbalanced" else None, slot=slot)
           for slot in (0, 1)]
for server in servers:
    server.start()

def connect():
    client = gsocket.create_connection(("127.0.0.1", port))
    client.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
    assert client.recv(1024).startswith(b"HTTP/1.1 200")
    return client

result = {}
if mode in ("balanced", "unbalanced"):
    clients = [connect() for _ in range(12)]
    result["held"] = [len(server.pool) for server in servers]
elif mode == "stuck":
    first = connect()  # someone holds one connection
    holder = 0 if len(servers[0].pool) else 1
    other = servers[1 - holder]
    other.stop_accepting()  # a peer that holds fewer but takes nothing
    started = time.monotonic()
    second = connect()
    result["waited_s"] = time.monotonic() - started
    result["held"] = [len(servers[holder].pool), len(other.pool)]
print(json.dumps(result))
"""


def _scenario(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _SCENARIO, mode], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_each_new_connection_goes_to_the_server_holding_fewer():
    assert sorted(_scenario("balanced")["held"]) == [6, 6]


def test_without_the_table_the_first_server_to_wake_takes_them_all():
    # What gunicorn's workers did: the control for the test above.
    assert sorted(_scenario("unbalanced")["held"]) == [0, 12]


def test_a_peer_that_takes_nothing_delays_a_connection_by_the_wait_only():
    from embedding_server.worker.accept import WAIT_S

    result = _scenario("stuck")
    # It waited for the peer first (a lower bound: a busy machine cannot fail it)...
    assert result["waited_s"] >= WAIT_S
    # ...then went to the holder, rather than waiting for the peer for ever.
    assert result["held"] == [2, 0]
