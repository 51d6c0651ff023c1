"""Log handlers for the package: a file log and a console log, per config."""
from __future__ import annotations

import logging
import os
import sys
from datetime import datetime, timezone

import orjson

PACKAGE_LOGGER = "embedding_server"
#: Libraries whose warnings belong in our log: the OpenTelemetry SDK's
#: (a collector that cannot be reached) would otherwise go to bare stderr.
LIBRARY_LOGGERS = ("opentelemetry",)
FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"

#: Record attributes a request's log lines carry (see request_log), in output order.
REQUEST_FIELDS = ("request_id", "method", "endpoint", "path", "model", "version", "status",
                  "latency_ms", "batch_size", "trace_id")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers: time, level, logger and
    message, plus the request's fields when the record has them."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc)
                            .isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in REQUEST_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: int, log_file: str, console: bool,
                      log_format: str = "text") -> logging.Logger:
    """(Re)install this package's handlers; calling it twice never doubles lines."""
    loggers = [logging.getLogger(name) for name in (PACKAGE_LOGGER, *LIBRARY_LOGGERS)]
    for owned in loggers:
        for handler in [h for h in owned.handlers if getattr(h, "_ours", False)]:
            owned.removeHandler(handler)
            handler.close()  # shared by the loggers: closing again does nothing
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(FORMAT)
    handlers: list[logging.Handler] = []
    if log_file:
        directory = os.path.dirname(os.path.abspath(log_file))
        os.makedirs(directory, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    if console:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler._ours = True  # type: ignore[attr-defined]
        handler.setFormatter(formatter)
    logger, *libraries = loggers
    for owned in loggers:
        for handler in handlers:
            owned.addHandler(handler)
        # Our handlers are the whole story; the root logger would print twice.
        owned.propagate = False
    logger.setLevel(level)
    for library in libraries:  # their warnings come in, their info chatter stays out
        library.setLevel(max(level, logging.WARNING))
    return logger
