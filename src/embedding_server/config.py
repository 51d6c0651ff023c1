"""Configuration: every option comes from an environment variable, parsed once.

The seed's variable names are kept. Each environment (development, testing,
production) is a class over a common base: the environment supplies defaults
that the operator may override, except the few it forces for safety.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
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


def parse_model_files(raw: str) -> tuple[str, ...]:
    files = parse_list(raw)
    if len(files) != 4:
        raise ValueError(
            "expected four comma-separated names, in the order: checkpoint "
            "prefix, network config, meta graph, word mapping")
    return files


@dataclass(frozen=True)
class Option:
    """One environment variable: its parser, its default and what it is for."""
    name: str
    parse: Callable[[str], Any]
    default: str
    help: str
    #: An empty value is a value (e.g. LOG_FILE= turns the file log off)
    #: rather than "use the default".
    keep_empty: bool = False


OPTIONS: tuple[Option, ...] = (
    Option("FLASK_ENV", parse_environment, "production",
           "development, testing or production; selects the defaults below"),
    Option("SECRET_KEY", str, DEFAULT_SECRET_KEY,
           "Flask secret key; set your own outside development"),
    Option("DEBUG", parse_bool, "",
           "Flask debugger and auto-reload (never on in production)"),
    Option("LOG_FILE", str, "api.log",
           "log file path; empty disables the file log", keep_empty=True),
    Option("LOG_LEVEL", parse_log_level, "",
           "DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    Option("CONSOLE_LOG", parse_bool, "",
           "also log to the console (stderr)"),
    Option("LOG_FORMAT", parse_log_format, "text",
           "text (one readable line per record) or json (one JSON object per line)"),
    Option("MODELS_BASE_DIR", str, "models",
           "directory holding one sub-directory per model"),
    Option("MODEL_NAMES", parse_list, "bow-spanish,lstm-multilingual",
           "comma-separated models to serve (sub-directories of MODELS_BASE_DIR)"),
    Option("MODEL_FILES", parse_model_files,
           "tensorflow_model,net_config.json,tensorflow_model.meta,word_mapping.json",
           "file names inside a model directory: checkpoint prefix, network "
           "config, meta graph, word mapping (in that order)"),
    Option("MODEL_POLL_SECONDS", parse_non_negative_float, "0",
           "look for new model versions every so many seconds; 0: only on "
           "SIGHUP or POST .../reload"),
    Option("MODEL_SETTLE_MS", parse_non_negative_int, "1000",
           "a version found on SIGHUP or reload loads only if its files are "
           "the same this many ms later"),
    Option("OOV_TOKEN", str, "<OOV>",
           "token unknown words map to, when the vocabulary has it"),
    Option("MAX_CONTENT_LENGTH", parse_positive_int, str(2 * 1024 * 1024),
           "largest request body accepted, in bytes (larger: 413)"),
    Option("MAX_BATCH_TEXTS", parse_positive_int, "256",
           "most texts accepted in one /embed request (more: 413)"),
    Option("BATCHING", parse_bool, "true",
           "coalesce concurrent requests' texts into one model run"),
    Option("BATCH_MAX_SIZE", parse_positive_int, "64",
           "most texts in one batched model run"),
    Option("BATCH_MAX_TOKENS", parse_non_negative_int, "65536",
           "most padded token ids in one model run (rows x the run's width); "
           "0: no bound"),
    Option("BATCH_TIMEOUT_MS", parse_non_negative_float, "0",
           "how long a batch waits for more texts before it runs, in ms"),
    Option("MAX_QUEUE", parse_positive_int, "256",
           "most requests waiting per model and worker (more: 429)"),
    Option("REQUEST_TIMEOUT_MS", parse_positive_int, "10000",
           "longest a request waits for its model, in ms (then 503)"),
    Option("TF_THREADS", parse_non_negative_int, "0",
           "TensorFlow threads per model session; 0: TensorFlow decides"),
    Option("MAX_TEXT_CHARS", parse_positive_int, "20000",
           "longest text accepted, in characters (longer: 413, or cut when the "
           "request says \"truncate\": true)"),
    Option("API_KEYS", parse_list, "",
           "comma-separated API keys clients send as `Authorization: Bearer <key>` "
           "or `X-API-Key`"),
    Option("API_KEYS_FILE", str, "",
           "file of API keys as SHA-256 hex digests, one per line (# comments allowed)"),
    Option("ALLOW_ANONYMOUS", parse_bool, "",
           "serve without API keys; production refuses to start keyless unless true"),
    Option("RATE_LIMIT", str, "",
           "requests per API key (or client address when anonymous), e.g. "
           "`600/minute;20/second`; empty: no limit"),
    Option("RATELIMIT_STORAGE_URI", str, "memory://",
           "where rate-limit counters live: memory:// (per worker) or redis://host:port/db "
           "(shared by all workers and instances)"),
    Option("TRUST_PROXY", parse_non_negative_int, "0",
           "proxies in front (nginx: 1) whose X-Forwarded-For gives the client address"),
    Option("CORS_ORIGINS", parse_list, "",
           "comma-separated origins allowed by CORS (`*` for any); empty: CORS off"),
    Option("SWAGGER_UI", parse_bool, "true", "serve the Swagger UI at /api/v1/"),
    Option("CACHE_SIZE", parse_non_negative_int, "10000",
           "embeddings kept in each worker's in-process LRU cache; 0: no cache"),
    Option("CACHE_URL", str, "",
           "redis://host:port/db: a Redis cache shared by all workers and instances "
           "(replaces the in-process one)"),
    Option("CACHE_TTL_SECONDS", parse_non_negative_int, "86400",
           "how long a Redis cache entry lives; 0: until Redis evicts it"),
    Option("HOST", str, "127.0.0.1", "address `run` and `serve` bind"),
    Option("PORT", parse_port, "5000", "port `run` and `serve` bind"),
    Option("WORKERS", parse_non_negative_int, "0",
           "`serve` worker processes; 0: one per CPU core"),
    Option("THREADS", parse_positive_int, "8",
           "`serve` threads per worker (gthread worker class only)"),
    Option("WORKER_TIMEOUT", parse_positive_int, "60",
           "`serve`: seconds a silent worker lives before it is restarted, "
           "and the graceful shutdown time"),
    # The HTTP layer of `serve` (README, "Connections and HTTP limits").
    Option("WORKER_CONNECTIONS", parse_positive_int, "1000",
           "`serve`: most open connections per worker; more wait in the listen "
           "backlog until one closes"),
    Option("KEEPALIVE_TIMEOUT", parse_positive_float, "5",
           "`serve`: seconds a connection may sit idle (new, or after a response) "
           "before its next request begins; then it is closed"),
    Option("HEADER_TIMEOUT", parse_positive_float, "10",
           "`serve`: seconds from a request's first byte to the end of its head; "
           "then the connection is closed"),
    Option("BODY_TIMEOUT", parse_positive_float, "30",
           "`serve`: seconds from the end of a request's head to the end of its "
           "body; then 408 and the connection is closed"),
    # gevent reads a request line of at most 8,191 bytes with its CRLF.
    Option("LIMIT_REQUEST_LINE", int_in(64, 8189), "4094",
           "`serve`: longest request line, in bytes (longer: 414)"),
    Option("LIMIT_REQUEST_FIELDS", int_in(1, 32768), "100",
           "`serve`: most header fields in a request (more: 431)"),
    Option("LIMIT_REQUEST_FIELD_SIZE", int_in(64, 65536), "8190",
           "`serve`: longest header field, name and value, in bytes (longer: 431)"),
)

ENVIRONMENTS = ("development", "testing", "production")


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


class BaseConfig:
    """Options parsed from the environment; environments refine the defaults."""

    #: Defaults for options whose base default is empty, per environment.
    ENVIRONMENT_DEFAULTS: Mapping[str, str] = {
        "DEBUG": "false", "LOG_LEVEL": "INFO", "CONSOLE_LOG": "true",
        "ALLOW_ANONYMOUS": "true"}
    #: Values this environment forces whatever the variables say.
    FORCED: Mapping[str, Any] = {}
    TESTING = False
    PROPAGATE_EXCEPTIONS = False
    RESTX_MASK_SWAGGER = False
    RESTX_ERROR_404_HELP = False

    def __init__(self, environ: Mapping[str, str]):
        for option in OPTIONS:
            raw = environ.get(option.name)
            if raw is None or (raw.strip() == "" and not option.keep_empty):
                raw = self.ENVIRONMENT_DEFAULTS.get(option.name, option.default)
            try:
                value = option.parse(raw)
            except ValueError as error:
                raise ConfigError(
                    f"{option.name}={raw!r} is not valid: {error}") from None
            setattr(self, option.name, value)
        for name, value in self.FORCED.items():
            setattr(self, name, value)

    def serving_problems(self) -> list[str]:
        """What must change before this configuration may serve (none outside
        production: development and tests run keyless with the sample key)."""
        return []

    def as_dict(self) -> dict[str, Any]:
        """The upper-case settings, as Flask's `config.from_mapping` takes them."""
        return {name: getattr(self, name) for name in dir(self)
                if name.isupper() and name not in ("ENVIRONMENT_DEFAULTS", "FORCED")}


class DevelopmentConfig(BaseConfig):
    ENVIRONMENT_DEFAULTS = {
        "DEBUG": "true", "LOG_LEVEL": "DEBUG", "CONSOLE_LOG": "true",
        "ALLOW_ANONYMOUS": "true"}


class TestingConfig(BaseConfig):
    ENVIRONMENT_DEFAULTS = {
        "DEBUG": "false", "LOG_LEVEL": "INFO", "CONSOLE_LOG": "true",
        "ALLOW_ANONYMOUS": "true"}
    FORCED = {"TESTING": True}


class ProductionConfig(BaseConfig):
    ENVIRONMENT_DEFAULTS = {
        "DEBUG": "false", "LOG_LEVEL": "WARNING", "CONSOLE_LOG": "false",
        "ALLOW_ANONYMOUS": "false"}
    # The debugger runs arbitrary code for whoever reaches it.
    FORCED = {"DEBUG": False}

    def serving_problems(self) -> list[str]:
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


CONFIG_CLASSES: Mapping[str, type[BaseConfig]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def check_can_serve(config: BaseConfig) -> None:
    """Refuse to serve with settings only fit for development."""
    problems = config.serving_problems()
    if problems:
        raise ConfigError(f"{config.FLASK_ENV} refuses to start: " + "; ".join(problems))


def load_config(environ: Mapping[str, str] | None = None) -> BaseConfig:
    """The configuration for the environment named by FLASK_ENV.

    With no mapping given, reads the process environment over `./.env`.
    """
    values = read_environment() if environ is None else dict(environ)
    raw_env = values.get("FLASK_ENV", "").strip() or "production"
    try:
        env_name = parse_environment(raw_env)
    except ValueError as error:
        raise ConfigError(f"FLASK_ENV={raw_env!r} is not valid: {error}") from None
    return CONFIG_CLASSES[env_name](values)
