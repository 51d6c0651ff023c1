"""OpenTelemetry tracing, opt-in: a span per request, with children for the
stages of its embedding (tokenize, queue, inference), exported over OTLP/HTTP.

On when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
is set, unless OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. Off,
OpenTelemetry is not imported and no hook is installed: a request pays
nothing for it.

The stage spans are written after the fact, in the request's own thread,
from the times the serving layer measures anyway (`Embeddings.submitted`,
`tokenize_s`, `queued_s`, `inference_s`): the batcher's thread, which runs
many requests' rows at once, never touches a span or a context, and the
serving layer never imports OpenTelemetry.
"""
from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from flask import Flask, Response, g, request

from ..settings import ConfigError, Settings

if TYPE_CHECKING:  # the SDK is an optional extra
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'embedding-server[tracing]'"


class Stages(Protocol):
    """What a request's embedding reports of its stages (serving's `Embeddings`)."""
    tokens: Sequence[Sequence[str]]
    tokenize_s: float
    submitted: float
    queued_s: float
    inference_s: float
    batch_size: int
    batch: int
    cache_hits: int


def traces_endpoint(settings: Settings) -> str | None:
    """Where spans go, by the OTLP exporter's rules: the traces endpoint as
    given, else the base endpoint with /v1/traces; None when tracing is off."""
    if settings.OTEL_SDK_DISABLED or settings.OTEL_TRACES_EXPORTER == "none":
        return None
    traces = settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.strip()
    if traces:
        return traces
    base = settings.OTEL_EXPORTER_OTLP_ENDPOINT.strip()
    return base.rstrip("/") + "/v1/traces" if base else None


def tracer_provider(endpoint: str, service_name: str) -> TracerProvider:
    """A provider of this app's own (not the process-global one, so each app
    and test has its own), batching spans to `endpoint`. The SDK reads the
    other OTEL_* variables itself: headers, timeout, compression, sampler
    (default: parent-based, always on), OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as error:
        raise ConfigError(
            f"tracing is on (OTLP endpoint {endpoint}) but OpenTelemetry is not installed: "
            f"{INSTALL_HINT}") from error
    resource = Resource.create({
        "service.name": service_name,
        # Workers share a service name; the pid tells whose batch a span joined.
        "process.pid": os.getpid()})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def install_tracing(app: Flask, settings: Settings) -> TracerProvider | None:
    """Trace every request of `app` when the settings ask for it; the
    provider (to flush or shut down), or None when tracing is off."""
    endpoint = traces_endpoint(settings)
    if endpoint is None:
        return None
    provider = tracer_provider(endpoint, settings.OTEL_SERVICE_NAME)
    tracer = provider.get_tracer("embedding_server")
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode

    @app.before_request
    def start_span() -> None:
        current = request._get_current_object()  # type: ignore[attr-defined]
        rule = current.url_rule
        route = rule.rule if rule else "unmatched"
        # W3C traceparent (or whatever OTEL_PROPAGATORS names) continues the
        # client's trace; without one, the request starts a trace.
        parent = propagate.extract(current.headers)
        span = tracer.start_span(f"{current.method} {route}", context=parent,
                                 kind=SpanKind.SERVER, attributes={
                                     "http.request.method": current.method,
                                     "url.path": current.path,
                                     "http.route": route,
                                     "client.address": current.remote_addr or "",
                                     "embedding.request_id": g.get("request_id", "")})
        g.span = span
        context = span.get_span_context()
        if context.is_valid:
            g.trace_id = trace.format_trace_id(context.trace_id)

    @app.after_request
    def end_span(response: Response) -> Response:
        span = g.pop("span", None)
        if span is not None:
            served = g.get("served")
            # An unsampled request's span records nothing: no attributes, no stages.
            if served is not None and span.is_recording():
                model, version, _, stages = served
                span.set_attributes({"embedding.model": model,
                                     "embedding.model.version": version})
                if stages is not None:
                    record_stages(tracer, span, stages)
            status = response.status_code
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.end()
        return response

    @app.teardown_request
    def end_unanswered(error: BaseException | None) -> None:
        # An exception that escaped every handler: no after_request ran.
        span = g.pop("span", None)
        if span is not None:
            if error is not None:
                span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR))
            span.end()

    log.info("tracing: spans go to %s (OTLP/HTTP)", endpoint)
    return provider


def record_stages(tracer: Tracer, parent: Span, stages: Stages) -> None:
    """The request's tokenize, queue and inference spans, placed by the
    times serving measured (perf_counter readings, turned into epoch ns)."""
    from opentelemetry.trace import set_span_in_context

    texts = len(stages.tokens)
    parent.set_attributes({"embedding.texts": texts, "embedding.cache_hits": stages.cache_hits})
    if not stages.submitted:  # every text came from the cache: nothing ran
        return
    offset_ns = time.time_ns() - time.perf_counter_ns()

    def at(reading: float) -> int:
        return offset_ns + int(reading * 1e9)

    context = set_span_in_context(parent)
    batch: dict[str, Any] = {"embedding.batch.size": stages.batch_size,
                             "embedding.batch.id": stages.batch}
    queued = stages.submitted + stages.queued_s
    spans = [("queue", stages.submitted, queued, batch),
             ("inference", queued, queued + stages.inference_s, batch)]
    if stages.tokenize_s:  # token ids in the request: nothing was tokenized
        spans.insert(0, ("tokenize", stages.submitted - stages.tokenize_s, stages.submitted,
                         {"embedding.texts": texts - stages.cache_hits}))
    for name, start, end, attributes in spans:
        span = tracer.start_span(name, context=context, start_time=at(start),
                                 attributes=attributes)
        span.end(end_time=at(end))
