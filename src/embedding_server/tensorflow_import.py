"""TensorFlow, imported quietly unless the operator asks to see its logs.

On a CPU-only host TensorFlow's start-up prints oneDNN and CUDA-probe lines,
twice, and `failed call to cuInit` as an error: noise that buries the
server's own first lines. Those lines come from absl before TensorFlow reads
`TF_CPP_MIN_LOG_LEVEL`, so the variable alone cannot hide them; stderr is
silenced for the import itself. `TF_CPP_MIN_LOG_LEVEL=0` is the switch that
shows everything again. Every module that needs TensorFlow imports it from
here, so the first import is always the quiet one.
"""
from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator

SWITCH = "TF_CPP_MIN_LOG_LEVEL"
#: Without the switch: TensorFlow's C++ logs below FATAL are hidden.
QUIET_LEVEL = "3"


def verbose() -> bool:
    """Whether the operator asked for TensorFlow's start-up and C++ logs."""
    return os.environ.get(SWITCH, QUIET_LEVEL).strip() == "0"


@contextmanager
def _stderr_silenced() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _import() -> Any:
    if verbose():
        import tensorflow
        return tensorflow
    os.environ.setdefault(SWITCH, QUIET_LEVEL)
    # A failed import still raises here, and its traceback prints once
    # stderr is back.
    with _stderr_silenced():
        import tensorflow
    # tf.compat.v1's deprecation warnings, logged as each TF1 model loads.
    tensorflow.get_logger().setLevel(logging.ERROR)
    return tensorflow


tf = _import()
