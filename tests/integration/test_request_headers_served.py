"""Request headers read by `handler.WorkerHandler` with real sockets under
gevent (a child interpreter, so this process keeps no hub): the WSGI environ
and body the application sees are what gevent's own handler gives it, and a
malformed header block, request line or a request line too long is refused
with a JSON message without reaching the application."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

_SCENARIO = r"""
from gevent import monkey; monkey.patch_all()
import json, socket
from gevent.pywsgi import WSGIServer
from gunicorn.workers.ggevent import PyWSGIHandler
from embedding_server.worker.handler import WorkerHandler

SHOWN = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "SERVER_PROTOCOL",
         "CONTENT_TYPE", "CONTENT_LENGTH")
calls = []

class AccessLog:  # what gunicorn's handler logs to, and pywsgi writes to
    def access(self, *args):
        pass
    def write(self, *args):
        pass

def app(environ, start_response):
    calls.append(environ["PATH_INFO"])
    seen = {key: value for key, value in environ.items()
            if key in SHOWN or key.startswith("HTTP_")}
    sized = environ.get("CONTENT_LENGTH") or environ.get("HTTP_TRANSFER_ENCODING")
    seen["body"] = environ["wsgi.input"].read().decode("latin-1") if sized else ""
    body = json.dumps(seen, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]

REQUESTS = {
    "post": (b"POST /embed?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: t/1\r\n"
             b"Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: close\r\n"
             b"Content-Length: 11\r\nContent-Type: application/json\r\n\r\n{\"a\": [1]}\n"),
    "repeated": (b"GET /r HTTP/1.1\r\nHost: h\r\nX-Trace: a\r\nX-Trace: b\r\nCookie: c=1\r\n"
                 b"Cookie: d=2\r\nX_Spoofed: no\r\nConnection: close\r\n\r\n"),
    "chunked": (b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                b"Connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
    "length_and_chunked": (b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                           b"Content-Length: 99\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
    "http10": b"GET /old HTTP/1.0\r\nHost: h\r\n\r\n",
    # Two requests on one connection, the second sent once the first is answered.
    "keepalive": (b"GET /one HTTP/1.1\r\nHost: h\r\n\r\n",
                  b"GET /two HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
    "spaced_name": b"GET /bad HTTP/1.1\r\nHost : h\r\nConnection: close\r\n\r\n",
    "folded": b"GET /bad HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  2\r\nConnection: close\r\n\r\n",
    "no_colon": b"GET /bad HTTP/1.1\r\nHost: h\r\njunk\r\nConnection: close\r\n\r\n",
    "bad_line": b"GET /x HTTP/1.1 extra\r\nHost: h\r\n\r\n",
    "long_line": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: h\r\n\r\n",
    "two_lengths": (b"POST /bad HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
                    b"Content-Length: 2\r\nConnection: close\r\n\r\nab"),
}

def answers(wire):
    # Each whole response's status and body (the JSON of what the app saw),
    # read one after another by their Content-Length.
    out = []
    while "\r\n\r\n" in wire:
        head, _, rest = wire.partition("\r\n\r\n")
        lines = head.split("\r\n")
        fields = {name.lower(): value for name, value in
                  (line.split(": ", 1) for line in lines[1:])}
        size = int(fields.get("content-length", len(rest)))
        if len(rest) < size:
            break
        out.append({"status": lines[0].split(" ", 1)[1], "body": rest[:size],
                    "type": fields.get("content-type"),
                    "nosniff": fields.get("x-content-type-options") == "nosniff"})
        wire = rest[size:]
    return out

MALFORMED = ("spaced_name", "folded", "no_colon", "two_lengths", "length_and_chunked")

def exchange(port, raw):
    parts = raw if isinstance(raw, tuple) else (raw,)
    client = socket.create_connection(("127.0.0.1", port))
    client.settimeout(10)
    received = b""
    for answered, part in enumerate(parts[:-1], 1):
        client.sendall(part)
        while len(answers(received.decode("latin-1"))) < answered:
            received += client.recv(1 << 16)
    client.sendall(parts[-1])
    while chunk := client.recv(1 << 16):
        received += chunk
    client.close()
    return received.decode("latin-1")

result = {}
for name, handler in (("stock", PyWSGIHandler), ("worker", WorkerHandler)):
    server = WSGIServer(("127.0.0.1", 0), app, handler_class=handler, log=AccessLog(),
                        error_log=None)
    server.start()
    for request, raw in REQUESTS.items():
        if name == "stock" and request in MALFORMED:
            continue  # gevent's reader drops the lines after a bad one, Connection included
        del calls[:]
        result[f"{name} {request}"] = {"answers": answers(exchange(server.server_port, raw)),
                                       "app_calls": list(calls)}
    server.stop()
print(json.dumps(result))
"""

VALID = ("post", "repeated", "chunked", "http10", "keepalive")


@pytest.fixture(scope="module")
def result() -> dict:
    done = subprocess.run([sys.executable, "-c", _SCENARIO], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_headers_reach_the_application_as_with_gevents_own_reader(result):
    for request in VALID:
        assert result[f"worker {request}"] == result[f"stock {request}"], request
    post = json.loads(result["worker post"]["answers"][0]["body"])
    assert post == {"REQUEST_METHOD": "POST", "PATH_INFO": "/embed", "QUERY_STRING": "x=1",
                    "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_TYPE": "application/json",
                    "CONTENT_LENGTH": "11", "HTTP_HOST": "127.0.0.1", "HTTP_USER_AGENT": "t/1",
                    "HTTP_ACCEPT_ENCODING": "gzip, deflate", "HTTP_ACCEPT": "*/*",
                    "HTTP_CONNECTION": "close", "body": '{"a": [1]}\n'}
    repeated = json.loads(result["worker repeated"]["answers"][0]["body"])
    assert repeated["HTTP_X_TRACE"] == "a,b" and repeated["HTTP_COOKIE"] == "c=1; d=2"
    assert not any("SPOOFED" in key for key in repeated)  # a name with '_' is dropped
    chunked = json.loads(result["worker chunked"]["answers"][0]["body"])
    assert chunked["body"] == "abcde" and "CONTENT_LENGTH" not in chunked
    assert result["worker keepalive"]["app_calls"] == ["/one", "/two"]


def test_a_malformed_header_block_is_a_400_the_application_never_sees(result):
    for request in ("spaced_name", "folded", "no_colon", "two_lengths", "length_and_chunked"):
        worker = result[f"worker {request}"]
        assert [answer["status"] for answer in worker["answers"]] == ["400 Bad Request"], request
        assert json.loads(worker["answers"][0]["body"])["message"].startswith(
            "malformed request headers: "), request
        assert worker["app_calls"] == [], request
        assert worker["answers"][0]["type"] == "application/json", request
        assert worker["answers"][0]["nosniff"], request
    assert json.loads(result["worker two_lengths"]["answers"][0]["body"]) == {
        "message": "malformed request headers: more than one Content-Length"}


def test_a_malformed_request_line_is_a_400_with_a_json_message(result):
    for name in ("stock", "worker"):
        assert [answer["status"] for answer in result[f"{name} bad_line"]["answers"]] == [
            "400 Bad Request"]
    assert result["stock bad_line"]["answers"][0]["body"] == ""  # gevent's own: no body
    assert json.loads(result["worker bad_line"]["answers"][0]["body"]) == {
        "message": "the request line is not 'METHOD target HTTP/1.x'"}


def test_a_request_line_too_long_is_a_414_with_a_json_message(result):
    assert result["stock long_line"]["answers"] == [
        {"status": "414 Request URI Too Long", "body": "", "type": None, "nosniff": False}]
    answer, = result["worker long_line"]["answers"]
    assert answer["status"] == "414 URI Too Long" and answer["nosniff"]
    assert json.loads(answer["body"]) == {
        "message": "the request line is longer than 4094 bytes (LIMIT_REQUEST_LINE)"}
    assert result["worker long_line"]["app_calls"] == []
