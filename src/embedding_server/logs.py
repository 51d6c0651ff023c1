"""Log handlers for the package: a file log and a console log, per config."""
from __future__ import annotations

import logging
import os
import sys

PACKAGE_LOGGER = "embedding_server"
FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"


def configure_logging(level: int, log_file: str, console: bool) -> logging.Logger:
    """(Re)install this package's handlers; calling it twice never doubles lines."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    for handler in [h for h in logger.handlers if getattr(h, "_ours", False)]:
        logger.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter(FORMAT)
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
        logger.addHandler(handler)
    logger.setLevel(level)
    # Our handlers are the whole story; the root logger would print twice.
    logger.propagate = False
    return logger
