"""Settings: one typed object, every field read from the environment variable
of the same name (the seed's names), parsed once.

Each field declares its type, its default (as the variable would spell it),
its parser and what it is for; `Settings.from_environ` reads them all. The
environment (FLASK_ENV: development, testing or production) supplies
defaults the operator may override, and forces the few values safety needs.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from dotenv import dotenv_values


DEFAULT_SECRET_KEY = "my_precious_secret_key"


class ConfigError(ValueError):
    """A variable has a value that cannot be used; the message names it."""


def parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true/false, yes/no, on/off or 1/0")


def int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """A parser of whole numbers from `low` to `high` (unbounded when None)."""
    def parse(raw: str) -> int:
        value = int(raw.strip())
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise ValueError(f"expected a whole number {bounds}")
        return value
    return parse


parse_positive_int = int_in(1)
parse_non_negative_int = int_in(0)
parse_port = int_in(0, 65535)


def parse_non_negative_float(raw: str) -> float:
    value = float(raw.strip())
    if not value >= 0 or value == float("inf"):
        raise ValueError("expected a finite number of at least 0")
    return value


def parse_positive_float(raw: str) -> float:
    value = parse_non_negative_float(raw)
    if value == 0:
        raise ValueError("expected a finite number above 0")
    return value


def parse_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def parse_log_level(raw: str) -> int:
    value = raw.strip().upper()
    if value.isdigit():
        return int(value)
    level = logging.getLevelName(value)
    if not isinstance(level, int):
        raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def parse_environment(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ENVIRONMENTS:
        raise ValueError("expected one of " + ", ".join(ENVIRONMENTS))
    return value


def parse_log_format(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("text", "json"):
        raise ValueError("expected text or json")
    return value


def parse_traces_exporter(raw: str) -> str:
    # OTLP is the one exporter shipped; another name would silently trace nothing.
    value = raw.strip().lower()
    if value not in ("otlp", "none"):
        raise ValueError("expected otlp or none")
    return value


def parse_model_files(raw: str) -> tuple[str, ...]:
    files = parse_list(raw)
    if len(files) != 4:
        raise ValueError(
            "expected four comma-separated names, in the order: checkpoint "
            "prefix, network config, meta graph, word mapping")
    return files


@dataclass(frozen=True)
class Variable:
    """How a field is read from its environment variable."""
    parse: Callable[[str], Any]
    #: The value as the variable spells it; "" leaves it to the environment.
    default: str
    help: str
    #: An empty value is a value (e.g. LOG_FILE= turns the file log off)
    #: rather than "use the default".
    keep_empty: bool = False


def setting(default: str, parse: Callable[[str], Any], help: str, keep_empty: bool = False,
            value: Any = dataclasses.MISSING) -> Any:
    """A field read from the variable of its name; its Python default is
    `value`, else `default` parsed (what production reads with no variable)."""
    variable = Variable(parse, default, help, keep_empty)
    typed = parse(default) if value is dataclasses.MISSING else value
    return field(default=typed, metadata={"variable": variable})


@dataclass(frozen=True)
class Environment:
    """What FLASK_ENV selects: defaults for the fields whose default is
    empty, and values forced whatever the variables say."""
    defaults: Mapping[str, str]
    forced: Mapping[str, Any] = field(default_factory=dict)


ENVIRONMENTS: Mapping[str, Environment] = {
    "development": Environment({"DEBUG": "true", "LOG_LEVEL": "DEBUG", "CONSOLE_LOG": "true",
                                "ALLOW_ANONYMOUS": "true"}),
    "testing": Environment({"DEBUG": "false", "LOG_LEVEL": "INFO", "CONSOLE_LOG": "true",
                            "ALLOW_ANONYMOUS": "true"}, {"TESTING": True}),
    # The debugger runs arbitrary code for whoever reaches it.
    "production": Environment({"DEBUG": "false", "LOG_LEVEL": "WARNING",
                               "CONSOLE_LOG": "false", "ALLOW_ANONYMOUS": "false"},
                              {"DEBUG": False}),
}


@dataclass(frozen=True)
class Settings:
    """Every option of the server, typed; `from_environ` reads them."""

    FLASK_ENV: str = setting(
        "production", parse_environment,
        "development, testing or production; selects the defaults below")
    SECRET_KEY: str = setting(
        DEFAULT_SECRET_KEY, str, "Flask secret key; set your own outside development")
    DEBUG: bool = setting(
        "", parse_bool, "Flask debugger and auto-reload (never on in production)",
        value=False)
    LOG_FILE: str = setting(
        "api.log", str, "log file path; empty disables the file log", keep_empty=True)
    LOG_LEVEL: int = setting(
        "", parse_log_level, "DEBUG, INFO, WARNING, ERROR or CRITICAL",
        value=logging.WARNING)
    CONSOLE_LOG: bool = setting(
        "", parse_bool, "also log to the console (stderr)", value=False)
    LOG_FORMAT: str = setting(
        "text", parse_log_format,
        "text (one readable line per record) or json (one JSON object per line)")
    # OpenTelemetry's own names: tracing is on once an OTLP endpoint is set.
    OTEL_EXPORTER_OTLP_ENDPOINT: str = setting(
        "", str,
        "OpenTelemetry collector's OTLP/HTTP base URL (/v1/traces is appended); set, it "
        "turns tracing on")
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: str = setting(
        "", str, "the full OTLP/HTTP URL for traces; wins over OTEL_EXPORTER_OTLP_ENDPOINT")
    OTEL_SERVICE_NAME: str = setting(
        "embedding-server", str, "service.name of the spans")
    OTEL_TRACES_EXPORTER: str = setting(
        "otlp", parse_traces_exporter, "otlp, or none: no tracing whatever the endpoint")
    OTEL_SDK_DISABLED: bool = setting(
        "false", parse_bool, "true: no tracing whatever the endpoint")
    MODELS_BASE_DIR: str = setting(
        "models", str, "directory holding one sub-directory per model")
    MODEL_NAMES: tuple[str, ...] = setting(
        "bow-spanish,lstm-multilingual", parse_list,
        "comma-separated models to serve (sub-directories of MODELS_BASE_DIR)")
    MODEL_FILES: tuple[str, ...] = setting(
        "tensorflow_model,net_config.json,tensorflow_model.meta,word_mapping.json",
        parse_model_files,
        "file names inside a model directory: checkpoint prefix, network config, meta "
        "graph, word mapping (in that order)")
    MODEL_POLL_SECONDS: float = setting(
        "0", parse_non_negative_float,
        "look for new model versions every so many seconds; 0: only on SIGHUP or "
        "POST .../reload")
    MODEL_SETTLE_MS: int = setting(
        "1000", parse_non_negative_int,
        "a version found on SIGHUP or reload loads only if its files are the same this "
        "many ms later")
    OOV_TOKEN: str = setting(
        "<OOV>", str, "token unknown words map to, when the vocabulary has it")
    MAX_CONTENT_LENGTH: int = setting(
        str(2 * 1024 * 1024), parse_positive_int,
        "largest request body accepted, in bytes (larger: 413)")
    MAX_BATCH_TEXTS: int = setting(
        "256", parse_positive_int, "most texts accepted in one /embed request (more: 413)")
    BATCHING: bool = setting(
        "true", parse_bool, "coalesce concurrent requests' texts into one model run")
    BATCH_MAX_SIZE: int = setting(
        "64", parse_positive_int, "most texts in one batched model run")
    BATCH_MAX_TOKENS: int = setting(
        "65536", parse_non_negative_int,
        "most padded token ids in one model run (rows x the run's width); 0: no bound")
    BATCH_TIMEOUT_MS: float = setting(
        "0", parse_non_negative_float,
        "how long a batch waits for more texts before it runs, in ms")
    MAX_QUEUE: int = setting(
        "256", parse_positive_int, "most requests waiting per model and worker (more: 429)")
    REQUEST_TIMEOUT_MS: int = setting(
        "10000", parse_positive_int,
        "longest a request waits for its model, in ms (then 503)")
    TF_THREADS: int = setting(
        "0", parse_non_negative_int,
        "TensorFlow threads per model session; 0: TensorFlow decides")
    MAX_TEXT_CHARS: int = setting(
        "20000", parse_positive_int,
        "longest text accepted, in characters (longer: 413, or cut when the request says "
        "\"truncate\": true)")
    API_KEYS: tuple[str, ...] = setting(
        "", parse_list,
        "comma-separated API keys clients send as `Authorization: Bearer <key>` or "
        "`X-API-Key`")
    API_KEYS_FILE: str = setting(
        "", str, "file of API keys as SHA-256 hex digests, one per line (# comments allowed)")
    ALLOW_ANONYMOUS: bool = setting(
        "", parse_bool,
        "serve without API keys; production refuses to start keyless unless true",
        value=False)
    RATE_LIMIT: str = setting(
        "", str,
        "requests per API key (or client address when anonymous), e.g. "
        "`600/minute;20/second`; empty: no limit")
    RATELIMIT_STORAGE_URI: str = setting(
        "memory://", str,
        "where rate-limit counters live: memory:// (per worker) or redis://host:port/db "
        "(shared by all workers and instances)")
    TRUST_PROXY: int = setting(
        "0", parse_non_negative_int,
        "proxies in front (nginx: 1) whose X-Forwarded-For gives the client address")
    CORS_ORIGINS: tuple[str, ...] = setting(
        "", parse_list,
        "comma-separated origins allowed by CORS (`*` for any); empty: CORS off")
    SWAGGER_UI: bool = setting("true", parse_bool, "serve the Swagger UI at /api/v1/")
    CACHE_SIZE: int = setting(
        "10000", parse_non_negative_int,
        "embeddings kept in each worker's in-process LRU cache; 0: no cache")
    CACHE_URL: str = setting(
        "", str,
        "redis://host:port/db: a Redis cache shared by all workers and instances "
        "(replaces the in-process one)")
    CACHE_TTL_SECONDS: int = setting(
        "86400", parse_non_negative_int,
        "how long a Redis cache entry lives; 0: until Redis evicts it")
    HOST: str = setting("127.0.0.1", str, "address `run` and `serve` bind")
    PORT: int = setting("5000", parse_port, "port `run` and `serve` bind")
    WORKERS: int = setting(
        "0", parse_non_negative_int, "`serve` worker processes; 0: one per CPU core")
    THREADS: int = setting(
        "8", parse_positive_int, "`serve` threads per worker (gthread worker class only)")
    WORKER_TIMEOUT: int = setting(
        "60", parse_positive_int,
        "`serve`: seconds a silent worker lives before it is restarted, and the graceful "
        "shutdown time")
    # The HTTP layer of `serve`: gunicorn's names and defaults.
    WORKER_CONNECTIONS: int = setting(
        "1000", parse_positive_int,
        "`serve`: most open connections per worker; more wait in the listen backlog "
        "until one closes")
    KEEPALIVE_TIMEOUT: float = setting(
        "5", parse_positive_float,
        "`serve`: seconds a connection may sit idle (new, or after a response) before its "
        "next request begins; then it is closed")
    HEADER_TIMEOUT: float = setting(
        "10", parse_positive_float,
        "`serve`: seconds from a request's first byte to the end of its head; then the "
        "connection is closed")
    BODY_TIMEOUT: float = setting(
        "30", parse_positive_float,
        "`serve`: seconds from the end of a request's head to the end of its body; then "
        "408 and the connection is closed")
    # gevent reads a request line of at most 8,191 bytes with its CRLF.
    LIMIT_REQUEST_LINE: int = setting(
        "4094", int_in(64, 8189), "`serve`: longest request line, in bytes (longer: 414)")
    LIMIT_REQUEST_FIELDS: int = setting(
        "100", int_in(1, 32768), "`serve`: most header fields in a request (more: 431)")
    LIMIT_REQUEST_FIELD_SIZE: int = setting(
        "8190", int_in(64, 65536),
        "`serve`: longest header field, name and value, in bytes (longer: 431)")

    #: Not read from a variable: on in the testing environment only.
    TESTING: bool = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Every field from `environ`, over FLASK_ENV's defaults; ConfigError
        names the first variable whose value cannot be used."""
        raw_env = environ.get("FLASK_ENV", "").strip() or "production"
        try:
            environment = ENVIRONMENTS[parse_environment(raw_env)]
        except ValueError as error:
            raise ConfigError(f"FLASK_ENV={raw_env!r} is not valid: {error}") from None
        values: dict[str, Any] = {}
        for name, variable in variables().items():
            raw = environ.get(name)
            if raw is None or (raw.strip() == "" and not variable.keep_empty):
                raw = environment.defaults.get(name, variable.default)
            try:
                values[name] = variable.parse(raw)
            except ValueError as error:
                raise ConfigError(f"{name}={raw!r} is not valid: {error}") from None
        values.update(environment.forced)
        return cls(**values)

    def serving_problems(self) -> list[str]:
        """What must change before these settings may serve (none outside
        production: development and tests run keyless with the sample key)."""
        if self.FLASK_ENV != "production":
            return []
        problems = []
        if self.SECRET_KEY == DEFAULT_SECRET_KEY:
            problems.append(
                "SECRET_KEY is the public default; set SECRET_KEY to a long random "
                "value (python -c 'import secrets; print(secrets.token_hex(32))')")
        if not (self.API_KEYS or self.API_KEYS_FILE or self.ALLOW_ANONYMOUS):
            problems.append(
                "no API keys: set API_KEYS or API_KEYS_FILE, or ALLOW_ANONYMOUS=true "
                "to serve without authentication")
        return problems

    def flask_config(self) -> dict[str, Any]:
        """The settings as Flask's `config.from_mapping` takes them, with the
        Flask and flask-restx switches this server always sets."""
        return {**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
                "PROPAGATE_EXCEPTIONS": False, "RESTX_MASK_SWAGGER": False,
                "RESTX_ERROR_404_HELP": False}


def variables() -> dict[str, Variable]:
    """Every field read from an environment variable, by name, in order."""
    return {f.name: f.metadata["variable"] for f in dataclasses.fields(Settings)
            if "variable" in f.metadata}


def read_environment(environ: Mapping[str, str] | None = None,
                     dotenv_path: str = ".env") -> dict[str, str]:
    """Variables from `environ` (default: the process), over a `.env` file.

    Already-set variables win over the file, as python-dotenv's loader does;
    the file is only read, never copied into os.environ.
    """
    if environ is None:
        environ = os.environ
    values = {key: value for key, value in dotenv_values(dotenv_path).items()
              if value is not None} if os.path.isfile(dotenv_path) else {}
    values.update(environ)
    return values


def check_can_serve(settings: Settings) -> None:
    """Refuse to serve with settings only fit for development."""
    problems = settings.serving_problems()
    if problems:
        raise ConfigError(f"{settings.FLASK_ENV} refuses to start: " + "; ".join(problems))


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings for the environment named by FLASK_ENV.

    With no mapping given, reads the process environment over `./.env`.
    """
    return Settings.from_environ(read_environment() if environ is None else environ)
