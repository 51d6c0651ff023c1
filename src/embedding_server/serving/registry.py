"""The registry: configured models, their versions and states, and the way to reach them.

States follow TensorFlow Serving: a version is LOADING, then AVAILABLE or
FAILED with the error in words; PENDING while its files are still being
written, UNLOADED once a newer version replaced it. A model serves its
highest version that loads; a newer version serves only once it has
validated, loaded and warmed up, and until then the old one keeps serving.
A model that fails never stops the others.
"""
from __future__ import annotations

import contextlib
import enum
import logging
import os
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator

from ..observability.metrics import ModelMetrics
from ..settings import Settings
from .scheduling import BatchPolicy, native_thread_call
from .cache import EmbeddingCache
from .errors import ModelNotAvailable, ModelNotFound
from .hooks import ProcessHooks
from .servable import LoadedModel, Servable
from .text import Vocabulary
from .backends.tf1 import TF1Runner, describe_tf_error
from .backends.tf2 import is_saved_model, load_saved_model
from .validation import ModelFiles, ValidationError, read_vocabulary, validate_model_dir
from .versions import Fingerprint, OnDisk, candidates, scan, settled

log = logging.getLogger(__name__)


class ModelState(str, enum.Enum):
    """The states of a version (all five) and of a model (`MODEL_STATES`)."""
    LOADING = "LOADING"
    AVAILABLE = "AVAILABLE"
    FAILED = "FAILED"
    PENDING = "PENDING"
    UNLOADED = "UNLOADED"


#: A model is loading its first version, serving one, or serving none.
MODEL_STATES = (ModelState.LOADING, ModelState.AVAILABLE, ModelState.FAILED)


@dataclass
class VersionStatus:
    version: int
    state: ModelState
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "state": self.state.value, "error": self.error}


class ModelEntry:
    """One configured model: its versions, its state, and the servable in use."""

    def __init__(self, name: str, directory: str):
        self.name = name
        self.directory = directory
        self.state = ModelState.LOADING
        self.problems: list[str] = []
        self.servable: Servable | None = None
        self.versions: dict[int, VersionStatus] = {}
        #: Versions that failed, with the files they failed with.
        self.failed: dict[int, Fingerprint] = {}
        self.last_scan: dict[int, OnDisk] | None = None
        self.metrics = ModelMetrics(name, (state.value for state in ModelState))
        self.reload_lock = threading.Lock()

    @property
    def error(self) -> str | None:
        """Why the model is not serving, in one line; None while it serves."""
        return "; ".join(self.problems) or None

    @property
    def version(self) -> int | None:
        servable = self.servable
        return servable.version if servable else None

    def set_version(self, version: int, state: ModelState, error: str | None = None) -> None:
        self.versions[version] = VersionStatus(version, state, error)
        self.metrics.version_state(version, state.value)

    def status(self) -> dict[str, Any]:
        servable = self.servable
        return {
            "name": self.name,
            "state": self.state.value,
            "error": self.error,
            "version": servable.version if servable else None,
            # A copy: a reload in another thread may change the dict meanwhile.
            "versions": [status.as_dict() for _, status in
                         sorted(dict(self.versions).items(), reverse=True)],
            "format": servable.runner.format if servable else None,
            "checkpoint_format": servable.checkpoint_format if servable else None,
            "embedding_dim": servable.embedding_dim if servable else None,
            "max_length": servable.max_length if servable else None,
            "vocabulary_size": len(servable.vocabulary) if servable else None,
            "oov_token": servable.vocabulary.oov_token if servable else None,
            "parameters": sorted(servable.signature.parameters) if servable else [],
            "load_seconds": (round(servable.load_seconds, 3)
                             if servable and servable.load_seconds is not None else None),
        }


def load_servable(name: str, directory: str, version: int, settings: Settings,
                  metrics: ModelMetrics | None = None,
                  cache: EmbeddingCache | None = None) -> Servable:
    """Validate, load and warm up one version's directory (TF1 or SavedModel)."""
    started = time.perf_counter()
    files = ModelFiles.from_names(settings.MODEL_FILES)
    if is_saved_model(directory):
        model = _saved_model(directory, files, settings.OOV_TOKEN)
    else:
        source = validate_model_dir(name, directory, files, settings.OOV_TOKEN)
        runner = TF1Runner(source.meta_graph, source.checkpoint_prefix, source.signature,
                           settings.TF_THREADS)
        model = LoadedModel(source.signature,
                            Vocabulary(source.vocabulary, source.signature.oov_token),
                            runner, source.checkpoint_format)
    servable = Servable(name, version, model, BatchPolicy.from_settings(settings), metrics,
                        cache)
    try:
        servable.warm_up()
    except Exception:
        servable.close()
        raise
    servable.load_seconds = time.perf_counter() - started
    return servable


def _saved_model(directory: str, files: ModelFiles, oov_token: str | None) -> LoadedModel:
    runner = load_saved_model(directory, files.net_config)
    try:
        mapping = read_vocabulary(directory, files.vocabulary, required=not runner.takes_text)
    except ValidationError:
        runner.close()
        raise
    signature = runner.signature
    if signature.oov_token is None and oov_token:
        signature = replace(signature, oov_token=oov_token)
    return LoadedModel(signature, Vocabulary(mapping or {}, signature.oov_token), runner,
                       "SavedModel")


class Registry:
    """Holds every configured model by name, and swaps in their new versions."""

    def __init__(self, settings: Settings, cache: EmbeddingCache | None = None,
                 hooks: ProcessHooks | None = None):
        self.settings = settings
        self.hooks = hooks or ProcessHooks()
        self.settle_s = settings.MODEL_SETTLE_MS / 1000
        self.cache = cache
        self._entries = {name: ModelEntry(name, os.path.join(settings.MODELS_BASE_DIR, name))
                         for name in settings.MODEL_NAMES}
        self._lock = threading.Lock()
        self._native: Callable[..., Any] | None = None

    def load_all(self) -> None:
        """Load every model; failures are recorded per model, never raised."""
        self.refresh_all(wait=False)
        available = [e.name for e in self._entries.values()
                     if e.state is ModelState.AVAILABLE]
        if self._entries and not available:
            log.error("no model is available: every configured model failed to load")

    def refresh_all(self, wait: bool = True) -> None:
        for entry in self._entries.values():
            self.refresh(entry, wait)

    def refresh(self, entry: ModelEntry, wait: bool = True) -> bool:
        """Look for a better version of a model on disk and serve it once loaded.

        A version counts as written only when two scans find the same files:
        the previous scan (the last poll) or, with `wait`, one more scan
        `settle_s` later. Returns whether a new version now serves.
        """
        with entry.reload_lock:
            if entry.servable is None:
                entry.problems = []
            found, stable = self._scan(entry, wait)
            self._note_disk(entry, found, stable)
            swapped = False
            for version in candidates(found, stable, entry.version, entry.failed):
                servable = self._load_version(entry, found[version])
                if servable is not None:
                    self._swap(entry, servable)
                    swapped = True
                    break
            self._settle_state(entry, found)
            return swapped

    def _scan(self, entry: ModelEntry, wait: bool) -> tuple[dict[int, OnDisk], set[int]]:
        before, found = entry.last_scan, scan(entry.directory)
        if before is None:
            stable = set(found)  # start-up: take what is there
        else:
            stable = settled(before, found)
            if wait and set(found) - stable:
                time.sleep(self.settle_s)
                before, found = found, scan(entry.directory)
                stable = settled(before, found)
        entry.last_scan = found
        if not found and entry.servable is None:
            # Nothing on disk: validate the directory anyway, so the error
            # names the missing files.
            found = {1: OnDisk(1, entry.directory, ())}
            stable = {1}
        return found, stable

    def _note_disk(self, entry: ModelEntry, found: dict[int, OnDisk], stable: set[int]) -> None:
        with self._lock:
            for version in list(entry.versions):
                if version not in found and version != entry.version:
                    del entry.versions[version]
                    entry.failed.pop(version, None)
                    entry.metrics.version_state(version, ModelState.UNLOADED.value)
            for version in set(found) - stable:
                if version != entry.version:
                    entry.set_version(version, ModelState.PENDING,
                                      "its files are still changing; retried at the next scan")
            served = entry.version
            if served is not None:
                gone = served not in found
                entry.set_version(served, ModelState.AVAILABLE,
                                  "its directory was removed; the loaded copy keeps "
                                  "serving until another version loads" if gone else None)

    def _load_version(self, entry: ModelEntry, on_disk: OnDisk) -> Servable | None:
        version = on_disk.version
        with self._lock:
            entry.set_version(version, ModelState.LOADING)
        if self._native is None:
            self._native = native_thread_call()  # in the serving process, after any fork
        try:
            # Under gevent a load on the event loop would stall every request
            # of the worker for seconds; it runs in a native thread instead.
            return self._native(load_servable, entry.name, on_disk.path, version,
                                self.settings, entry.metrics, self.cache)
        except ValidationError as error:
            problems = error.problems
        except Exception as error:  # any load fault fails this version only
            log.debug("loading %s version %d failed", entry.name, version, exc_info=True)
            problems = [f"loading failed: {describe_tf_error(error)}"]
        with self._lock:
            entry.set_version(version, ModelState.FAILED, "; ".join(problems))
            entry.failed[version] = on_disk.fingerprint
            if entry.servable is None and not entry.problems:
                entry.problems = list(problems)  # the newest version's, tried first
        entry.metrics.load_failed()
        log.error("model %s version %d FAILED: %s", entry.name, version, "; ".join(problems))
        return None

    def _swap(self, entry: ModelEntry, servable: Servable) -> None:
        with self._lock:
            old = entry.servable
            entry.servable, entry.state, entry.problems = servable, ModelState.AVAILABLE, []
            entry.set_version(servable.version, ModelState.AVAILABLE)
            entry.failed.pop(servable.version, None)
            if old is not None:
                if old.version in (entry.last_scan or {}):
                    entry.set_version(old.version, ModelState.UNLOADED,
                                      f"replaced by version {servable.version}")
                else:
                    del entry.versions[old.version]
                    entry.metrics.version_state(old.version, ModelState.UNLOADED.value)
        log.info("model %s version %d AVAILABLE (%s checkpoint, %d words, dimension %d, "
                 "loaded in %.2f s)", entry.name, servable.version, servable.checkpoint_format,
                 len(servable.vocabulary), servable.embedding_dim, servable.load_seconds or 0)
        if old is not None:
            entry.metrics.swapped()
            old.retire()
            # Requests already holding the old version finish on it (within
            # REQUEST_TIMEOUT_MS); once it has closed, its memory goes back.
            threading.Thread(target=self._release_when_closed, args=(old,), daemon=True,
                             name=f"release-{entry.name}-{old.version}").start()

    def _release_when_closed(self, old: Servable) -> None:
        if old.closed.wait(self.settings.REQUEST_TIMEOUT_MS / 1000 + 1):
            self.hooks.release_memory()

    def _settle_state(self, entry: ModelEntry, found: dict[int, OnDisk]) -> None:
        with self._lock:
            for version in found:
                if version not in entry.versions:
                    entry.set_version(version, ModelState.UNLOADED,
                                      "not loaded: a newer version serves")
        if entry.servable is not None:
            return
        with self._lock:
            entry.state = ModelState.FAILED
            if not entry.problems:
                entry.problems = ["no version is ready to load yet "
                                  f"(found: {sorted(found) or 'none'})"]

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
        """The servable of an AVAILABLE model (without holding it: see `use`)."""
        entry = self.entry(name)
        servable = entry.servable
        if entry.state is not ModelState.AVAILABLE or servable is None:
            detail = f": {entry.error}" if entry.error else ""
            raise ModelNotAvailable(
                f"model {name!r} is not available ({entry.state.value}{detail})")
        return servable

    @contextlib.contextmanager
    def use(self, name: str) -> Iterator[Servable]:
        """The servable of an AVAILABLE model, held for one request: a swap
        meanwhile lets the request finish on this version."""
        with self._lock:
            servable = self.get(name)
            servable.acquire()
        try:
            yield servable
        finally:
            servable.release()

    def ready(self) -> bool:
        """Every model has finished loading and at least one serves."""
        states = [entry.state for entry in self._entries.values()]
        return (ModelState.AVAILABLE in states
                and ModelState.LOADING not in states)

    def close(self) -> None:
        for entry in self._entries.values():
            if entry.servable is not None:
                entry.servable.close()
