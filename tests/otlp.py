"""A minimal OpenTelemetry collector for tests: an OTLP/HTTP receiver on
127.0.0.1 that decodes each protobuf export (as the real collector's
otlphttp receiver does) and keeps its spans."""
from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    status_code: int


def _value(value: AnyValue) -> Any:
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


def _attributes(pairs) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


class OtlpReceiver:
    """`with OtlpReceiver() as receiver:` serves POST /v1/traces at
    `receiver.endpoint` (the OTLP base URL) until the block ends."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.exports = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces" or \
                        self.headers.get("Content-Type") != "application/x-protobuf":
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver._keep(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "OtlpReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def _keep(self, export: ExportTraceServiceRequest) -> None:
        spans = []
        for resource_spans in export.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(ReceivedSpan(
                        span.name, span.trace_id.hex(), span.span_id.hex(),
                        span.parent_span_id.hex(), span.kind, span.start_time_unix_nano,
                        span.end_time_unix_nano, _attributes(span.attributes), resource,
                        span.status.code))
        with self._lock:
            self.spans.extend(spans)
            self.exports += 1

    def wait_for(self, found: Callable[[list[ReceivedSpan]], Any],
                 timeout: float = 20) -> Any:
        """`found(spans)` once it is truthy; AssertionError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                result = found(list(self.spans))
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"not received within {timeout}s; got {self.spans}")
            time.sleep(0.05)

    def tree(self, trace_id: str) -> tuple[ReceivedSpan, list[ReceivedSpan]]:
        """A trace's server span and its children, the children by start time."""
        with self._lock:
            spans = [span for span in self.spans if span.trace_id == trace_id]
        (root,) = [span for span in spans if span.kind == 2]  # SPAN_KIND_SERVER
        children = sorted((span for span in spans if span.parent_id == root.span_id),
                          key=lambda span: span.start_ns)
        return root, children
