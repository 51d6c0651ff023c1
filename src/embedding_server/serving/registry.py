"""The registry: configured models, their states, and the way to reach them.

States follow TensorFlow Serving: LOADING, then AVAILABLE or FAILED with the
error in words. A model that fails never stops the others.
"""
from __future__ import annotations

import enum
import logging
import os
import threading
from typing import Any, Iterable

from .batching import BatchPolicy
from .errors import ModelNotAvailable, ModelNotFound
from .servable import Servable
from .text import Vocabulary
from .tf1 import TF1Runner, describe_tf_error
from .validation import ModelFiles, ValidationError, validate_model_dir

log = logging.getLogger(__name__)


class ModelState(str, enum.Enum):
    LOADING = "LOADING"
    AVAILABLE = "AVAILABLE"
    FAILED = "FAILED"


class ModelEntry:
    """One configured model: its state, its error, and once loaded its servable."""

    def __init__(self, name: str, directory: str):
        self.name = name
        self.directory = directory
        self.state = ModelState.LOADING
        self.problems: list[str] = []
        self.servable: Servable | None = None

    @property
    def error(self) -> str | None:
        """Why the model FAILED, in one line; None otherwise."""
        return "; ".join(self.problems) or None

    def status(self) -> dict[str, Any]:
        servable = self.servable
        return {
            "name": self.name,
            "state": self.state.value,
            "error": self.error,
            "format": servable.runner.format if servable else None,
            "checkpoint_format": servable.checkpoint_format if servable else None,
            "embedding_dim": servable.embedding_dim if servable else None,
            "max_length": servable.max_length if servable else None,
            "vocabulary_size": len(servable.vocabulary) if servable else None,
            "oov_token": servable.vocabulary.oov_token if servable else None,
            "parameters": sorted(servable.signature.parameters) if servable else [],
        }


def load_servable(name: str, directory: str, files: ModelFiles, oov_token: str | None,
                  policy: BatchPolicy | None = None, tf_threads: int = 0) -> Servable:
    """Validate, load and warm up one model directory."""
    source = validate_model_dir(name, directory, files, oov_token)
    runner = TF1Runner(source.meta_graph, source.checkpoint_prefix, source.signature,
                       tf_threads)
    servable = Servable(name, source.signature,
                        Vocabulary(source.vocabulary, source.signature.oov_token),
                        runner, source.checkpoint_format, policy)
    try:
        servable.warm_up()
    except Exception:
        servable.close()
        raise
    return servable


class Registry:
    """Holds every configured model by name."""

    def __init__(self, base_dir: str, names: Iterable[str],
                 files: ModelFiles | None = None, oov_token: str | None = "<OOV>",
                 policy: BatchPolicy | None = None, tf_threads: int = 0):
        self.files = files or ModelFiles()
        self.oov_token = oov_token
        self.policy = policy or BatchPolicy()
        self.tf_threads = tf_threads
        self._entries = {name: ModelEntry(name, os.path.join(base_dir, name))
                         for name in names}
        self._lock = threading.Lock()

    def load_all(self) -> None:
        """Load every model; failures are recorded per model, never raised."""
        for entry in self._entries.values():
            self.load(entry)
        available = [e.name for e in self._entries.values()
                     if e.state is ModelState.AVAILABLE]
        if self._entries and not available:
            log.error("no model is available: every configured model failed to load")

    def load(self, entry: ModelEntry) -> None:
        with self._lock:
            entry.state, entry.problems = ModelState.LOADING, []
        try:
            servable = load_servable(entry.name, entry.directory, self.files,
                                     self.oov_token, self.policy, self.tf_threads)
        except ValidationError as error:
            self._fail(entry, error.problems)
        except Exception as error:  # any load fault fails this model only
            log.debug("loading %s failed", entry.name, exc_info=True)
            self._fail(entry, [f"loading failed: {describe_tf_error(error)}"])
        else:
            with self._lock:
                entry.servable, entry.state = servable, ModelState.AVAILABLE
            log.info("model %s AVAILABLE (%s checkpoint, %d words, dimension %d)",
                     entry.name, servable.checkpoint_format, len(servable.vocabulary),
                     servable.embedding_dim)

    def _fail(self, entry: ModelEntry, problems: list[str]) -> None:
        with self._lock:
            entry.state, entry.problems = ModelState.FAILED, list(problems)
        log.error("model %s FAILED: %s", entry.name, entry.error)

    def names(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> list[ModelEntry]:
        return list(self._entries.values())

    def entry(self, name: str) -> ModelEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise ModelNotFound(
                f"model {name!r} is not configured; configured models: "
                f"{', '.join(self._entries) or 'none'}") from None

    def get(self, name: str) -> Servable:
        """The servable of an AVAILABLE model."""
        entry = self.entry(name)
        servable = entry.servable
        if entry.state is not ModelState.AVAILABLE or servable is None:
            detail = f": {entry.error}" if entry.error else ""
            raise ModelNotAvailable(
                f"model {name!r} is not available ({entry.state.value}{detail})")
        return servable

    def close(self) -> None:
        for entry in self._entries.values():
            if entry.servable is not None:
                entry.servable.close()
