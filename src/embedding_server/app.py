"""The application factory: the one place config, logging, registry and API meet."""
from __future__ import annotations

import logging
from typing import Any, Mapping, cast

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SessionInterface

from .api.native import create_blueprint
from .api.access import install_rate_limits, install_response_headers
from .api.errors import already_logged, register_app_errors
from .api.openai import create_openai_blueprint
from .api.ops import create_ops_blueprint
from .api.tfserving import create_tfserving_blueprint
from .api.keys import build_keyring
from .settings import Settings, check_can_serve, load_settings
from .observability.logs import configure_logging
from .observability.request_log import install_request_log
from .observability.tracing import install_tracing
from .serving.cache import make_cache
from .serving.errors import ServingError
from .serving.registry import ModelState, Registry
from .serving.hooks import ProcessHooks
from .serving.watcher import Watcher

log = logging.getLogger(__name__)


class NoSessions(SessionInterface):
    """The API is stateless: no cookie session is opened or saved.

    Flask's default interface builds an itsdangerous signer on every request
    whenever SECRET_KEY is set (which the seed's configuration always does):
    measured at ~50 us of each request, on every endpoint, for nothing.
    """

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response) -> None:
        return None


class EmbeddingServerFlask(Flask):
    """Flask, with exceptions logged once.

    flask-restx hands every 5xx it answers to `log_exception`, with its
    traceback: an overload (429/503 from a model's queue) is no fault, and a
    true server fault is logged already, with its request id, by the error
    handlers (`api.errors`). Only what those never saw is logged here.
    """

    def log_exception(self, exc_info: Any) -> None:
        error = exc_info[1] if exc_info else None
        if isinstance(error, ServingError) or already_logged(error):
            return
        super().log_exception(exc_info)


def build_registry(config: Settings, hooks: ProcessHooks | None = None) -> Registry:
    """A registry of the configured models, loaded (failures recorded, not raised)."""
    registry = Registry(config, make_cache(config.CACHE_URL, config.CACHE_SIZE,
                                           config.CACHE_TTL_SECONDS), hooks)
    registry.load_all()
    return registry


def create_app(config: Settings | Mapping[str, str] | None = None,
               hooks: ProcessHooks | None = None) -> Flask:
    """A new app; `config` is a config object, a mapping of variables, or
    None for the process environment (over ./.env); `hooks` are what the
    hosting process offers (default: nothing).
    Raises ConfigError when the configuration must not serve (production
    with development settings)."""
    hooks = hooks or ProcessHooks()
    if not isinstance(config, Settings):
        config = load_settings(config)
    check_can_serve(config)
    keyring = build_keyring(config)
    configure_logging(config.LOG_LEVEL, config.LOG_FILE, config.CONSOLE_LOG,
                      config.LOG_FORMAT)
    app = EmbeddingServerFlask(__name__)
    app.config.from_mapping(config.flask_config())
    provider = cast(DefaultJSONProvider, app.json)
    provider.sort_keys = False
    provider.ensure_ascii = False
    app.session_interface = NoSessions()
    registry = build_registry(config, hooks)
    app.extensions["registry"] = registry
    watcher = Watcher(registry, config.MODEL_POLL_SECONDS, hooks.notify_siblings)
    if config.MODEL_POLL_SECONDS:
        watcher.start()
    app.extensions["watcher"] = watcher
    available = [e.name for e in registry.entries() if e.state is ModelState.AVAILABLE]
    level = logging.INFO if len(available) == len(registry.names()) else logging.WARNING
    log.log(level, "serving %d of %d configured models: %s", len(available),
            len(registry.names()), ", ".join(available) or "none")
    install_request_log(app)
    # After the request log: its request id is a span attribute, and its
    # access line (written last) shows the span's trace id.
    app.extensions["tracing"] = install_tracing(app, config)
    register_app_errors(app)
    install_rate_limits(app, config, keyring)
    install_response_headers(app, config)
    app.register_blueprint(create_blueprint(keyring, config.SWAGGER_UI))
    app.register_blueprint(create_ops_blueprint())
    app.register_blueprint(create_openai_blueprint(keyring))
    app.register_blueprint(create_tfserving_blueprint(keyring))
    return app
