"""Who may call the API and how often, and the headers every response carries.

API keys guard /api/v1 except its documentation (the Swagger UI and spec);
health probes and metrics stay open, so probes never fail once keys are set.
Rate limits (flask-limiter) count per API key, or per client address when
anonymous, in memory or in Redis (shared by every worker and instance).
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, Flask, Response, g, request
from flask_limiter import Limiter
from limits import parse_many
from werkzeug.middleware.proxy_fix import ProxyFix

from ..observability.request_log import RESPONSE_HEADERS
from ..settings import ConfigError, Settings
from .common import json_response
from .keys import REALM, KeyRing, key_from

#: Endpoints open to everyone: the documentation, the probes, the metrics.
OPEN_ENDPOINTS = frozenset({"api.doc", "api.root", "api.specs", "restx_doc.static",
                            "ops.live", "ops.ready", "ops.metrics", "static"})

_STRICT_CSP = "default-src 'none'; frame-ancestors 'none'"


def client_id(keyring: KeyRing) -> str | None:
    """The calling key's id, once per request (None: no key or a wrong one)."""
    if "client_id" not in g:
        g.client_id = keyring.identify(key_from(request)) if keyring else None
    return g.client_id


def _json_message(message: str) -> Response:
    return json_response({"message": message}, 401)


def install_auth(blueprint: Blueprint, keyring: KeyRing,
                 reject: Callable[[str], Response] = _json_message) -> None:
    """Require a valid key on every endpoint of `blueprint` but the
    documentation; `reject` shapes the 401 body (OpenAI's routes nest it)."""
    if not keyring:
        return  # anonymous serving, allowed explicitly (or outside production)

    @blueprint.before_request
    def require_key() -> Response | None:
        if request.endpoint in OPEN_ENDPOINTS or request.method == "OPTIONS":
            return None
        if client_id(keyring) is not None:
            return None
        sent = key_from(request) is not None
        response = reject("invalid API key" if sent else
                          "an API key is required: send 'Authorization: Bearer <key>' "
                          "or 'X-API-Key: <key>'")
        response.headers["WWW-Authenticate"] = REALM + (
            ', error="invalid_token"' if sent else "")
        return response


def install_rate_limits(app: Flask, config: Settings, keyring: KeyRing) -> Limiter | None:
    """RATE_LIMIT per key (or address), counted in RATELIMIT_STORAGE_URI."""
    if not config.RATE_LIMIT.strip():
        return None
    try:
        parse_many(config.RATE_LIMIT)
    except ValueError as error:
        raise ConfigError(f"RATE_LIMIT={config.RATE_LIMIT!r} is not valid: {error} "
                          "(e.g. 600/minute;20/second)") from None

    def identity() -> str:
        key = client_id(keyring)
        return f"key:{key}" if key else f"addr:{request.remote_addr}"

    limiter = Limiter(
        identity, app=app, default_limits=[config.RATE_LIMIT],
        storage_uri=config.RATELIMIT_STORAGE_URI, headers_enabled=True,
        # A storage outage must not take the API down: count in memory meanwhile.
        swallow_errors=True, in_memory_fallback_enabled=True,
        key_prefix="embedding-server")

    @limiter.request_filter
    def unlimited() -> bool:
        return request.endpoint in OPEN_ENDPOINTS

    return limiter


def install_response_headers(app: Flask, config: Settings) -> None:
    """Security headers on every response; CORS only when origins are set."""
    if config.TRUST_PROXY:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.TRUST_PROXY,  # type: ignore
                                x_proto=config.TRUST_PROXY)
    if config.CORS_ORIGINS:
        from flask_cors import CORS

        CORS(app, origins=list(config.CORS_ORIGINS),
             expose_headers=["X-Request-ID", "X-Queue-Time", "X-Inference-Time",
                             "Retry-After"],
             allow_headers=["Authorization", "X-API-Key", "Content-Type",
                            "Content-Encoding", "X-Request-ID"])

    app.wsgi_app = ResponseHeaders(app.wsgi_app)  # type: ignore[method-assign]


class ResponseHeaders:
    """Adds the security headers, and the ones our code noted for this request
    (request id, timings: `request_log.RESPONSE_HEADERS`), at the WSGI layer.

    They are appended as ready-made tuples: Werkzeug's header object validates
    and searches on each set, which cost ~40 us a request for the four
    security headers alone (measured); the per-request ones skip it too.
    """

    COMMON = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
              ("Referrer-Policy", "no-referrer")]
    STRICT = COMMON + [("Content-Security-Policy", _STRICT_CSP)]
    HSTS = ("Strict-Transport-Security", "max-age=31536000")

    def __init__(self, app: Callable):
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        def with_headers(status: str, headers: list, exc_info: Any = None) -> Any:
            html = any(name.lower() == "content-type" and value.startswith("text/html")
                       for name, value in headers)
            # The Swagger UI page needs its scripts: no strict CSP on HTML.
            headers.extend(self.COMMON if html else self.STRICT)
            if environ.get("wsgi.url_scheme") == "https":  # as ProxyFix left it
                headers.append(self.HSTS)
            headers.extend(environ.get(RESPONSE_HEADERS, ()))
            return start_response(status, headers, exc_info)

        return self.app(environ, with_headers)
