"""`serve` under a hostile client: raw sockets against 2 workers with API keys.

Each malformed shape must get exactly one refusal and a closed connection
(never a second answer from bytes of the refused request), slow and silent
clients must be cut by the connection deadlines, client faults must never
be 500s or tracebacks, and the server must stay healthy after each.
"""
from __future__ import annotations

import concurrent.futures
import re
import resource
import select
import socket
import time
import urllib.request

import pytest

from tests.conftest import test_environ
from tests.system.processes import BIN, free_port, start, stop, wait_for

KEY = "hardening-key"
IDLE_S, HEAD_S, BODY_S = 2.0, 1.5, 1.5
#: Scheduling slack on a busy 2-core machine, on top of a deadline.
SLACK_S = 1.0
AUTH = b"Host: t\r\nX-API-Key: " + KEY.encode() + b"\r\n"
PREDICT = b"POST /api/v1/models/bow-spanish/predict HTTP/1.1\r\n" + AUTH
#: A request hidden where a body would be: answered only if the server lost
#: the first request's framing.
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) [A-Z]")  # a body may end just before it


@pytest.fixture(scope="module")
def server(tmp_path_factory, models_dir):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))  # the flood's sockets
    tmp_path = tmp_path_factory.mktemp("hardening")
    port = free_port()
    log = tmp_path / "api.log"
    process = start(
        [str(BIN / "my-server-manage"), "serve", "--port", str(port), "--workers", "2",
         "--timeout", "20"],
        test_environ(models_dir, log, API_KEYS=KEY, KEEPALIVE_TIMEOUT=str(IDLE_S),
                     HEADER_TIMEOUT=str(HEAD_S), BODY_TIMEOUT=str(BODY_S),
                     LIMIT_REQUEST_LINE="8189", MAX_QUEUE="2", CACHE_SIZE="0"),
        tmp_path)
    try:
        wait_for(f"http://127.0.0.1:{port}/health/ready", process)
        yield port, log
    finally:
        stop(process)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def exchange(port: int, data: bytes, wait: float = 10) -> tuple[list[int], bytes, float]:
    """Send `data`, read until the server closes; the statuses of every answer
    read, the bytes, and how long the server took to close."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        started = time.monotonic()
        try:
            sock.sendall(data)
        except OSError:
            pass  # refused early: its answer may still be there to read
        received = b""
        while True:
            try:
                piece = sock.recv(65536)
            except ConnectionResetError:
                break
            if not piece:
                break
            received += piece
        closed_after = time.monotonic() - started
    return [int(code) for code in STATUS_LINE.findall(received)], received, closed_after


def assert_healthy(port: int) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=10) as response:
        assert response.status == 200


def chunked(*chunks: bytes) -> bytes:
    return (PREDICT + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"".join(chunks))


MALFORMED = {
    # Framing (RFC 9112, sections 6 and 7): each followed by a smuggled request.
    "two chunked codings": (PREDICT + b"Transfer-Encoding: chunked\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, 400),
    "identity coding": (PREDICT + b"Transfer-Encoding: identity\r\nContent-Length: "
                        + b"%d\r\n\r\n" % len(SMUGGLED) + SMUGGLED, 400),
    "unknown coding": (PREDICT + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
                       501),
    "chunked not last": (PREDICT + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"
                         + SMUGGLED, 400),
    "length and chunked": (PREDICT + b"Content-Length: 5\r\nTransfer-Encoding: chunked"
                           b"\r\n\r\n0\r\n\r\n" + SMUGGLED, 400),
    "chunk size zz": (chunked(b"zz\r\n{}\r\n0\r\n\r\n", SMUGGLED), 400),
    "chunk size -1": (chunked(b"-1\r\n{}\r\n0\r\n\r\n", SMUGGLED), 400),
    # 2**64: more than any 64-bit parser holds (nginx refuses it too).
    "chunk size of 17 hex digits": (chunked(b"1" + b"0" * 16 + b"\r\n{}\r\n0\r\n\r\n",
                                            SMUGGLED), 400),
    "chunk size 0x16": (chunked(b"0x16\r\n{}\r\n0\r\n\r\n", SMUGGLED), 400),
    "chunk longer than its size": (chunked(b"2\r\n{}" + SMUGGLED + b"\r\n0\r\n\r\n"), 400),
    "length -0": (PREDICT + b"Content-Length: -0\r\n\r\n" + SMUGGLED, 400),
    "length +22": (PREDICT + b"Content-Length: +22\r\n\r\n" + SMUGGLED, 400),
    "length 2_2": (PREDICT + b"Content-Length: 2_2\r\n\r\n" + SMUGGLED, 400),
    "two lengths": (PREDICT + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}"
                    + SMUGGLED, 400),
    # Heads.
    "no Host on HTTP/1.1": (b"GET /health/live HTTP/1.1\r\n\r\n" + SMUGGLED, 400),
    "control byte 0x01": (b"GET /health/live HTTP/1.1\r\nHost: t\r\nX-A: a\x01b\r\n\r\n"
                          + SMUGGLED, 400),
    "control byte 0x7f": (b"GET /health/live HTTP/1.1\r\nHost: t\r\nX-A: a\x7fb\r\n\r\n"
                          + SMUGGLED, 400),
    "NUL in a method": (b"GE\x00T /health/live HTTP/1.1\r\nHost: t\r\n\r\n" + SMUGGLED, 400),
    "bare LF line ends": (b"GET /health/live HTTP/1.1\nHost: t\n\n" + SMUGGLED, 400),
    "HTTP/0.9 request line": (b"GET /health/live\r\n" + SMUGGLED, 400),
    "folded header line": (b"GET /health/live HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n"
                           + SMUGGLED, 400),
    # Limits (gunicorn's defaults; LIMIT_REQUEST_LINE raised to its most, 8189, here).
    "request line over the limit": (b"GET /" + b"a" * 8200 + b" HTTP/1.1\r\nHost: t\r\n\r\n",
                                    414),
    # 8,190 bytes: one past LIMIT_REQUEST_LINE (the test below serves 8,189).
    "request line one byte over": (b"GET /" + b"a" * 8176 + b" HTTP/1.1\r\nHost: t\r\n\r\n",
                                   414),
    "lower-case method": (b"get /health/live HTTP/1.1\r\nHost: t\r\n\r\n" + SMUGGLED, 400),
    "header field over 8190 bytes": (b"GET /health/live HTTP/1.1\r\nHost: t\r\nX-A: "
                                     + b"a" * 8190 + b"\r\n\r\n" + SMUGGLED, 431),
    "101 header fields": (b"GET /health/live HTTP/1.1\r\nHost: t\r\n"
                          + b"".join(b"X-%d: a\r\n" % i for i in range(101)) + b"\r\n", 431),
    "a 6.4 MB header block": (b"GET /health/live HTTP/1.1\r\nHost: t\r\n"
                              + b"".join(b"X-%d: %s\r\n" % (i, b"a" * 65536) for i in range(100))
                              + b"\r\n", 431),
    "chunked body over MAX_CONTENT_LENGTH": (
        chunked(*[b"100000\r\n" + b" " * 0x100000 + b"\r\n" for _ in range(3)],
                b"0\r\n\r\n", SMUGGLED), 413),
}


@pytest.mark.parametrize("shape", MALFORMED)
def test_each_malformed_request_gets_one_refusal_and_a_close(server, shape):
    port, _ = server
    data, status = MALFORMED[shape]
    statuses, received, _ = exchange(port, data)
    assert statuses == [status], received[:300]
    assert b"Connection: close" in received
    assert b'{"message":' in received  # JSON, as every other client error
    assert_healthy(port)


def test_a_well_formed_chunked_request_is_served_and_kept_alive(server):
    port, _ = server
    body = b'{"title": "hola mundo"}'
    data = chunked(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)) + (
        b"GET /health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    statuses, received, _ = exchange(port, data)
    assert statuses == [200, 200]
    assert b'"modelName":"bow-spanish"' in received


def test_a_request_line_at_the_limit_is_served(server):
    port, _ = server
    line = b"GET /" + b"a" * 8175 + b" HTTP/1.1"
    assert len(line) == 8189
    statuses, received, _ = exchange(port, line + b"\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert statuses == [404], received[:200]  # past the parser: the app's unknown path


def test_a_small_unread_body_is_skipped_never_read_as_a_request(server):
    port, _ = server
    # /health/live reads no body: the server skips these bytes (their length
    # is known and small) and keeps the connection; a request hidden in them
    # is never answered.
    data = (b"POST /health/live HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
            % len(SMUGGLED) + SMUGGLED
            + b"GET /health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    statuses, received, _ = exchange(port, data)
    assert statuses == [405, 200], received[-300:]


def _idle_then_closed(port: int, data: bytes) -> tuple[bytes, float]:
    _, received, closed_after = exchange(port, data, wait=IDLE_S + HEAD_S + 10)
    return received, closed_after


def test_idle_connections_are_closed_after_the_idle_timeout(server):
    port, _ = server
    shapes = {"silent": b"", "half a request line": b"GET /heal",
              "idle after an answer": b"GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n"}
    with concurrent.futures.ThreadPoolExecutor(len(shapes)) as pool:
        results = dict(zip(shapes, pool.map(lambda data: _idle_then_closed(port, data),
                                            shapes.values())))
    for shape, (received, closed_after) in results.items():
        # A first byte starts the head's deadline: half a line is cut by it.
        limit = IDLE_S + (HEAD_S if shape == "half a request line" else 0)
        assert min(IDLE_S, HEAD_S) - 0.2 < closed_after < limit + SLACK_S, shape
    assert results["silent"][0] == results["half a request line"][0] == b""
    assert STATUS_LINE.findall(results["idle after an answer"][0]) == [b"200"]
    assert_healthy(port)


def test_a_slowloris_client_is_cut_at_the_head_deadline(server):
    port, _ = server
    head = b"GET /health/live HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.monotonic()
        cut = False
        for byte in head:  # one byte every 0.25 s: 60 s for the whole head
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                cut = True
                break
            time.sleep(0.25)
            if time.monotonic() - started > HEAD_S + SLACK_S + 1:
                break
        if not cut:
            sock.settimeout(SLACK_S)
            try:
                cut = sock.recv(100) == b""
            except ConnectionResetError:
                cut = True
        assert cut and time.monotonic() - started < HEAD_S + SLACK_S + 1
    assert_healthy(port)


def test_a_slow_body_gets_408_and_a_close(server):
    port, _ = server
    body = b'{"title": "' + b"hola " * 200 + b'"}'
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(PREDICT + b"Content-Length: %d\r\n\r\n" % len(body))
        started = time.monotonic()
        try:
            for offset in range(0, len(body), 50):  # ~500 bytes a second
                sock.sendall(body[offset:offset + 50])
                time.sleep(0.1)
        except OSError:
            pass
        received = b""
        while piece := sock.recv(65536):
            received += piece
    assert [int(code) for code in STATUS_LINE.findall(received)] == [408]
    assert b"BODY_TIMEOUT" in received and b"Connection: close" in received
    assert time.monotonic() - started < BODY_S + SLACK_S + 1.5  # + the linger
    assert_healthy(port)


def test_a_flood_of_silent_connections_delays_a_client_at_most_the_idle_timeout(server):
    port, _ = server
    # 2 workers x 1,000 connections (WORKER_CONNECTIONS), and 300 more waiting.
    silent = []
    try:
        for _ in range(2300):
            sock = socket.socket()
            sock.setblocking(False)
            try:
                sock.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            silent.append(sock)
        time.sleep(0.3)
        started = time.monotonic()
        statuses, _, _ = exchange(
            port, b"GET /health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            wait=IDLE_S + 10)
        served_after = time.monotonic() - started
    finally:
        for sock in silent:
            sock.close()
    assert statuses == [200]
    assert served_after < IDLE_S + SLACK_S


def _metric_series(port: int, name: str) -> set[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {line.rsplit(" ", 1)[0] for line in text.splitlines() if line.startswith(name)}


def test_made_up_methods_add_no_metric_series(server):
    port, _ = server
    exchange(port, b"FIRST /health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    before = _metric_series(port, "embedding_http_requests_total")
    for number in range(200):
        method = b"MADEUP%d" % number
        statuses, _, _ = exchange(
            port, method + b" /health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert statuses == [405]
    after = _metric_series(port, "embedding_http_requests_total")
    new = after - before
    assert all('method="other"' in series or 'endpoint="/metrics"' in series
               for series in new), new
    assert not any("MADEUP" in series for series in after)


def test_client_faults_are_neither_500s_nor_tracebacks(server):
    port, log = server
    # Disconnects halfway through a sized and a chunked body.
    for data in (PREDICT + b"Content-Length: 100\r\n\r\n{\"title\": ",
                 chunked(b"20\r\n{\"title\": ")):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(data)
            time.sleep(0.2)
    # Version numbers past int64 and past Python's 4,300-digit conversion limit.
    for digits in (19, 4301):
        statuses, received, _ = exchange(
            port, b"GET /v1/models/bow-spanish/versions/" + b"9" * digits
            + b" HTTP/1.1\r\n" + AUTH + b"Connection: close\r\n\r\n")
        assert statuses == [404], received[-200:]
    # Overload: 16 clients, each asking for long LSTM runs, queue of 2 per worker.
    texts = '"' + "palabra " * 300 + '"'
    body = ('{"texts": [' + ",".join([texts] * 64) + "]}").encode()
    request = (b"POST /api/v1/models/lstm-multilingual/embed HTTP/1.1\r\n" + AUTH
               + b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = [code for answer in pool.map(lambda _: exchange(port, request, wait=30)[0],
                                                range(16)) for code in answer]
    assert len(statuses) == 16 and 429 in statuses and set(statuses) <= {200, 429, 503}
    assert_healthy(port)
    time.sleep(0.5)  # the last log lines written
    text = log.read_text()
    assert "Traceback" not in text
    # Nor on the server's own output (gunicorn's and gevent's messages).
    assert "Traceback" not in (log.parent / "server.out").read_text(errors="replace")
    assert not re.search(r"\] \S+ \S+ 500 ", text)  # no access-log line of a 500
    assert text.count(" 429 ") >= statuses.count(429)
    series = _metric_series(port, "embedding_http_requests_total")
    assert not any('status="500"' in line for line in series)


def _answer(port: int, method: str, path: str, body: bytes = b"",
            content_type: str = "application/json") -> tuple[int, bytes]:
    """Status and body; the body is sent as curl does, read as soon as the
    server answers (it refuses an oversized body before reading it all)."""
    head = (f"{method} {path} HTTP/1.1\r\nHost: t\r\nX-API-Key: {KEY}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        # For a large body, wait for an answer to the head alone, as curl does.
        wait = 1.0 if len(body) > 65536 else 0.0
        for offset in range(0, len(body), 65536):
            if select.select([sock], [], [], wait)[0]:
                break
            wait = 0
            try:
                sock.sendall(body[offset:offset + 65536])
            except OSError:
                break
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:  # closed with our body unread: the answer came first
            pass
    head_bytes, _, payload = received.partition(b"\r\n\r\n")
    return int(head_bytes.split()[1]), payload


BIG = b'{"title": "' + b"a" * (10 * 1024 * 1024) + b'"}'
TEXTS_300 = b'{"texts": [' + b",".join([b'"hola"'] * 300) + b"]}"
LONG_TITLE = b'{"title": "' + b"hola " * 4001 + b'"}'


@pytest.mark.parametrize("method, path, body, content_type, status, setting", [
    ("POST", "/api/v1/models/bow-spanish/predict", BIG, "application/json", 413,
     "MAX_CONTENT_LENGTH"),
    ("POST", "/v1/embeddings", BIG, "application/json", 413, "MAX_CONTENT_LENGTH"),
    ("POST", "/v1/models/bow-spanish:predict", BIG, "text/plain", 413, "MAX_CONTENT_LENGTH"),
    ("POST", "/api/v1/models/bow-spanish/embed", TEXTS_300, "application/json", 413,
     "MAX_BATCH_TEXTS"),
    ("POST", "/api/v1/models/bow-spanish/predict", LONG_TITLE, "application/json", 413,
     "MAX_TEXT_CHARS"),
    ("GET", "/no/such/path", b"", "application/json", 404, "not found"),
    ("DELETE", "/api/v1/models", b"", "application/json", 405, "not allowed"),
    ("POST", "/api/v1/models/bow-spanish/predict", b"title=hola",
     "application/x-www-form-urlencoded", 400, "a JSON body is expected"),
    ("POST", "/api/v1/models/bow-spanish/embed", b"<texts/>", "application/xml", 415,
     "a JSON body is expected"),
    ("POST", "/v1/embeddings", b"--x\r\n", "multipart/form-data; boundary=x", 415,
     "a JSON body is expected"),
])
def test_client_errors_are_compact_json_naming_their_cause(server, method, path, body,
                                                           content_type, status, setting):
    port, _ = server
    code, received = _answer(port, method, path, body, content_type)
    assert code == status, received[:300]
    assert b"\n" not in received.rstrip(b"\n") and b": " not in received[:40], received
    assert setting.lower() in received.decode().lower(), received
