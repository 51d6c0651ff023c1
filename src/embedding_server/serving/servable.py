"""A loaded model: vocabulary, signature and backend, ready to embed texts."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Hashable, Iterable, Mapping, Sequence, cast

import numpy as np

from ..observability.metrics import ModelMetrics
from .batching import MicroBatcher
from .direct import DirectRunner
from .cache import Cached, EmbeddingCache, cache_key
from .errors import InvalidParameter
from .padding import plan_runs
from .scheduling import BatchPolicy, Scheduler
from .signature import Signature
from .text import Explained, Vocabulary, encode, explain, to_batch, tokenize, truncate
from .backends.tf1 import describe_tf_error
from .backends.runner import Runner


@dataclass(frozen=True)
class Embeddings:
    """Vectors in input order, with each text's tokens after OOV replacement,
    the time the request waited for its batch and the batch's run took, the
    texts in that batch, and the model version that computed them.

    `submitted` (a `time.perf_counter()` reading; 0 when every text came from
    the cache) is when the rows went to the scheduler, after `tokenize_s` of
    tokenizing: with `queued_s` and `inference_s` it places each stage in
    time, for tracing, without the serving layer knowing of tracing."""
    vectors: np.ndarray
    tokens: list[list[str]]
    queued_s: float = 0.0
    inference_s: float = 0.0
    batch_size: int = 0
    version: int = 1
    words: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)
    tokenize_s: float = 0.0
    submitted: float = 0.0
    batch: int = 0
    cache_hits: int = 0


#: What a request answered wholly from the cache reports of its (absent) model run.
_NOT_RUN = Embeddings(vectors=np.empty((0, 0)), tokens=[])


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; an all-zero row (no tokens) stays zero."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def cosine_similarities(source: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Cosine of each target row with the source vector; 0 for an all-zero
    vector (a text with no known tokens points nowhere)."""
    norms = np.linalg.norm(targets, axis=1) * np.linalg.norm(source)
    dots = targets @ source
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


class WarmUpError(Exception):
    """The model loaded but cannot compute an embedding for its own vocabulary."""


@dataclass(frozen=True)
class LoadedModel:
    """What a version's directory gave: how to feed it, its words, its runner."""
    signature: Signature
    vocabulary: Vocabulary
    runner: Runner
    checkpoint_format: str


class Servable:
    """One loaded version of a model: text in, embeddings out, through its scheduler.

    Requests hold it between `acquire` and `release`; once a newer version
    replaces it (`retire`), it closes when its last request is done, so a
    swap never cuts a request short and every request is served by one
    version from its first token to its last row.
    """

    def __init__(self, name: str, version: int, model: LoadedModel, policy: BatchPolicy,
                 metrics: ModelMetrics | None = None, cache: EmbeddingCache | None = None):
        self.name = name
        self.version = version
        self.signature = model.signature
        self.vocabulary = model.vocabulary
        self.runner = runner = model.runner
        self.checkpoint_format = model.checkpoint_format
        self.max_length = runner.max_length
        self.embedding_dim = 0
        #: Seconds from reading the directory to warmed up, set by the loader.
        self.load_seconds: float | None = None
        self.metrics = metrics
        self.cache = cache
        self.max_tokens = policy.max_tokens
        # A micro-batcher, or with batching off a direct runner with the same bounds.
        self.scheduler: Scheduler = (MicroBatcher if policy.enabled else DirectRunner)(
            name, self.run_rows, policy, metrics)
        self._users = 0
        self._retired = False
        self._lock = threading.Lock()
        self.closed = threading.Event()

    def acquire(self) -> None:
        with self._lock:
            self._users += 1

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            last = self._retired and self._users == 0
        if last:
            self.close()

    def retire(self) -> None:
        """No new requests will come; close once the ones in flight are done."""
        with self._lock:
            self._retired = True
            idle = self._users == 0
        if idle:
            self.close()

    def embed(self, texts: Sequence[str], length: int | None = None,
              parameters: Mapping[str, float] | None = None,
              normalize: bool = False) -> Embeddings:
        """Embed a batch of texts.

        `length` lowers the truncation length of variable-length models; a
        model with a fixed input width (bow-spanish: 20) always uses it.
        """
        key: Hashable = None
        if parameters:
            unknown = sorted(set(parameters) - set(self.signature.parameters))
            if unknown:
                accepted = ", ".join(sorted(self.signature.parameters)) or "none"
                raise InvalidParameter(
                    f"this model does not take {', '.join(unknown)} "
                    f"(parameters it takes: {accepted})")
            key = tuple(sorted(parameters.items()))
        max_length = self.length_for(length)
        cache = self.cache
        if cache is None or key is not None:
            # Feed parameters are dropout keep-probabilities: a random draw,
            # which a cache would freeze into one answer. They bypass it.
            embeddings = self._compute(texts, max_length, key)
        else:
            embeddings = self._through_cache(cache, texts, max_length, key)
        if normalize:
            embeddings = replace(embeddings, vectors=l2_normalize(embeddings.vectors))
        return embeddings

    def _compute(self, texts: Sequence[str], max_length: int, key: Hashable) -> Embeddings:
        if self.runner.takes_text:
            return self._compute_text(texts, key)
        started = time.perf_counter()
        encoded = encode(texts, self.vocabulary, max_length, self.signature.truncating)
        submitted = time.perf_counter()
        result = self.scheduler.submit(encoded.rows, key)
        if self.metrics:
            self.metrics.embedded(len(texts), encoded.word_count, encoded.unknown_count)
        return Embeddings(vectors=result.vectors, tokens=encoded.tokens,
                          queued_s=result.queued_s, inference_s=result.inference_s,
                          batch_size=result.batch_size, version=self.version,
                          words=encoded.words, unknown=encoded.unknown,
                          tokenize_s=submitted - started, submitted=submitted,
                          batch=result.batch)

    def _compute_text(self, texts: Sequence[str], key: Hashable) -> Embeddings:
        """A model that tokenizes for itself is fed the texts; the tokens in
        the response are the server's tokenizer's words, for information."""
        started = time.perf_counter()
        words = [tokenize(text) for text in texts]
        submitted = time.perf_counter()
        # A model that takes text is fed texts where others are fed id rows.
        result = self.scheduler.submit(cast(Sequence[Sequence[int]], list(texts)), key)
        if self.metrics:
            self.metrics.embedded(len(texts), sum(map(len, words)), 0)
        return Embeddings(vectors=result.vectors, tokens=words, queued_s=result.queued_s,
                          inference_s=result.inference_s, batch_size=result.batch_size,
                          version=self.version, words=[len(w) for w in words],
                          unknown=[0] * len(texts), tokenize_s=submitted - started,
                          submitted=submitted, batch=result.batch)

    @staticmethod
    def _entry(computed: Embeddings, row: int) -> Cached:
        # A copy: a view would keep the whole batch's array alive in the cache.
        return Cached(computed.vectors[row].copy(), computed.tokens[row],
                      computed.words[row], computed.unknown[row])

    def _through_cache(self, cache: EmbeddingCache, texts: Sequence[str], max_length: int,
                       key: Hashable) -> Embeddings:
        """Hits from the cache, the misses computed in one run and stored."""
        keys = [cache_key(self.name, self.version, (max_length, key), text) for text in texts]
        found = cache.get_many(keys)
        missing = [i for i, entry in enumerate(found) if entry is None]
        if self.metrics:
            self.metrics.cache_looked_up(len(texts) - len(missing), len(missing))
        hits = [entry for entry in found if entry is not None]
        if hits and self.metrics:  # the misses are counted as they are computed
            self.metrics.embedded(len(hits), sum(entry.words for entry in hits),
                                  sum(entry.unknown for entry in hits))
        computed = None
        if missing:
            computed = self._compute([texts[i] for i in missing], max_length, key)
            if not hits:
                cache.put_many([(keys[i], self._entry(computed, j))
                                for j, i in enumerate(missing)])
                return computed
            fresh = [self._entry(computed, j) for j in range(len(missing))]
            cache.put_many([(keys[i], entry) for i, entry in zip(missing, fresh)])
            for i, entry in zip(missing, fresh):
                found[i] = entry
        entries = cast(list[Cached], found)  # every miss is filled by now
        # The misses' run (its timings and batch), with every text's entry.
        return replace(computed or _NOT_RUN,
                       vectors=np.stack([entry.vector for entry in entries]),
                       tokens=[entry.tokens for entry in entries], version=self.version,
                       words=[entry.words for entry in entries],
                       unknown=[entry.unknown for entry in entries], cache_hits=len(hits))

    def embed_ids(self, rows: Sequence[Sequence[int]], length: int | None = None) -> Embeddings:
        """Embed texts given as the model's own token ids (OpenAI's token
        inputs): checked against the vocabulary, truncated as texts are."""
        if self.runner.takes_text:
            raise InvalidParameter(f"model {self.name!r} takes text, not token ids")
        top = self.vocabulary.max_id
        for i, row in enumerate(rows):
            bad = next((t for t in row if not 0 <= t <= top), None)
            if bad is not None:
                raise InvalidParameter(f"token id {bad} in input {i} is outside this "
                                       f"model's vocabulary (0 to {top})")
        max_length = self.length_for(length)
        fed = [truncate(list(row), max_length, self.signature.truncating) for row in rows]
        submitted = time.perf_counter()
        result = self.scheduler.submit(fed, None)
        if self.metrics:
            self.metrics.embedded(len(rows), sum(map(len, rows)), 0)
        return Embeddings(vectors=result.vectors, tokens=[[] for _ in rows],
                          queued_s=result.queued_s, inference_s=result.inference_s,
                          batch_size=result.batch_size, version=self.version,
                          words=[len(row) for row in fed], unknown=[0] * len(rows),
                          submitted=submitted, batch=result.batch)

    def explain(self, texts: Sequence[str], length: int | None = None) -> list[Explained]:
        """How each text becomes ids for this model (no model run)."""
        max_length = self.length_for(length)
        return [explain(text, self.vocabulary, max_length) for text in texts]

    def length_for(self, length: int | None) -> int:
        """The most ids a text is fed: a request's `length` lowers it, except
        on a model with a fixed input width (bow-spanish: always 20)."""
        if length is not None and self.runner.fixed_width is None:
            return min(length, self.max_length)
        return self.max_length

    def run_rows(self, rows: Sequence[Sequence[int]], key: Hashable = None) -> np.ndarray:
        """Vectors for unpadded rows (or texts, for a model that takes text),
        in their order; `key` holds the parameter feeds. One model run, or
        several when rows of very different lengths would pad each other
        (`padding.plan_runs`)."""
        if self.runner.takes_text:
            return self.runner.run_texts(cast(list[str], list(rows)))
        fixed_width = self.runner.fixed_width
        feeds = dict(cast(Iterable[tuple[str, float]], key)) if key else None
        runs = plan_runs([len(row) for row in rows], fixed_width, self.max_tokens)
        if runs is None:
            return self.runner.run(*to_batch(rows, fixed_width), feeds)
        parts = [self.runner.run(*to_batch([rows[i] for i in run], fixed_width), feeds)
                 for run in runs]
        vectors = np.empty((len(rows), *parts[0].shape[1:]), dtype=parts[0].dtype)
        for run, part in zip(runs, parts):
            vectors[run] = part
        return vectors

    def warm_up(self) -> None:
        """One inference that includes the vocabulary's largest id.

        A vocabulary larger than the embedding matrix fails here, at load,
        instead of on the first user request that happens to use that word.
        """
        top = self.vocabulary.max_id
        try:
            vectors = self.run_rows(cast(Sequence[Sequence[int]], ["warm up", "hola mundo"])
                                    if self.runner.takes_text else [[top], [top, 1]])
        except Exception as error:  # TensorFlow raises many kinds; all fail the load
            raise WarmUpError(
                f"warm-up inference with the vocabulary's largest id ({top}) failed; "
                f"does the vocabulary fit the model? ({describe_tf_error(error)})"
            ) from error
        if vectors.ndim != 2 or vectors.shape[0] != 2:
            raise WarmUpError(f"the output tensor has shape {list(vectors.shape)}; "
                              "expected [batch, dimension]")
        if not np.all(np.isfinite(vectors)):
            raise WarmUpError("warm-up inference produced NaN or infinite values")
        self.embedding_dim = int(vectors.shape[1])

    def close(self) -> None:
        with self._lock:
            if self.closed.is_set():
                return
            self.closed.set()
        self.scheduler.close()
        self.runner.close()
