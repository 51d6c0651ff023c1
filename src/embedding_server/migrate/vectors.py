"""Build a bag-of-words model from public word vectors.

The input is the word2vec / fastText text format (a first line `count
dimension`, then `word v1 ... vdim` per line, most frequent words first;
gzip accepted). The output is a TF2 SavedModel version in the
model-directory contract: the embedding of a text is the average of its
known words' vectors (padding masked), optionally L2-normalised.

The file is streamed: only the kept matrix is held, and reading stops once
`max_words` words are kept (the rest of a frequency-sorted file is rarer
words). Words the server's tokenizer would never produce as they are
(upper-case, digits, punctuation, too short or long) are counted and
reported with examples, never silently dropped.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import re
from dataclasses import dataclass, field
from typing import IO, Callable

import numpy as np

from ..serving.text import tokenize
from ..serving.validation import ModelFiles
from ..settings import Settings
from ..serving.versions import scan, staged
from ..tensorflow_import import tf

PADDING_ID = 0
#: A model name is a directory name under the models directory.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
IDS, OUTPUT = "token_ids", "embedding"
EXAMPLES = 5


class VectorsError(Exception):
    """The vectors file cannot be used (its message names the line)."""


@dataclass
class Skipped:
    """Words left out because the tokenizer would not produce them as written."""
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, word: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        examples = self.examples.setdefault(reason, [])
        if len(examples) < EXAMPLES:
            examples.append(word)

    def summary(self) -> str:
        return "; ".join(f"{count} {reason} (e.g. {', '.join(self.examples[reason])})"
                         for reason, count in sorted(self.counts.items()))


@dataclass(frozen=True)
class Vectors:
    """The kept words, in file order (most frequent first), and the lookup
    table: `first_row` rows of zeros (padding, OOV), then the words' vectors."""
    words: list[str]
    table: np.ndarray
    first_row: int
    lines_read: int
    skipped: Skipped


def why_skipped(word: str) -> str | None:
    """Why the tokenizer would never hand the model this word as written, or None."""
    tokens = tokenize(word)
    if tokens == [word]:
        return None
    if tokenize(word.lower()) == [word.lower()] and word != word.lower():
        return "with upper-case letters (the tokenizer lower-cases)"
    return "that the tokenizer splits, shortens or drops (digits, punctuation, length)"


def open_text(path: str) -> IO[str]:
    """The file as text, gunzipped when it is gzip (by its magic bytes, not its name)."""
    try:
        raw = open(path, "rb")
    except OSError as error:
        raise VectorsError(f"cannot read {path!r}: {error.strerror}") from None
    if raw.peek(2)[:2] == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8", newline="\n")
    return io.TextIOWrapper(raw, encoding="utf-8", newline="\n")


def _header(line: str) -> tuple[int, int]:
    parts = line.split()
    if len(parts) != 2 or not all(part.isdigit() for part in parts) or "0" in parts:
        raise VectorsError(f"line 1 must be 'count dimension' (two positive whole "
                           f"numbers), not {line.strip()[:60]!r}")
    return int(parts[0]), int(parts[1])


def read_header(path: str) -> tuple[int, int]:
    """The file's word count and dimension, as its first line gives them."""
    with open_text(path) as handle:
        try:
            return _header(handle.readline())
        except (UnicodeDecodeError, OSError, EOFError) as error:
            raise VectorsError(f"cannot read {path!r}: {error}") from None


def read_vectors(path: str, max_words: int, first_row: int = 1,
                 progress: Callable[[int], None] | None = None) -> Vectors:
    """Stream the file; keep the first `max_words` usable words, written
    straight into the lookup table (from row `first_row`): no second copy."""
    with open_text(path) as handle:
        try:
            count, dimension = _header(handle.readline())
            capacity = min(count, max_words)
            table = np.zeros((first_row + capacity, dimension), dtype=np.float32)
            words: list[str] = []
            first_seen: dict[str, int] = {}
            skipped = Skipped()
            number = 1
            for number, line in enumerate(handle, start=2):
                word, row = _parse(line, number, dimension)
                if word in first_seen:
                    raise VectorsError(f"line {number}: {word!r} appears again (first on "
                                       f"line {first_seen[word]})")
                first_seen[word] = number
                reason = why_skipped(word)
                if reason:
                    skipped.add(reason, word)
                    continue
                table[first_row + len(words)] = row
                words.append(word)
                if progress:
                    progress(1)
                if len(words) == capacity:
                    break
            else:
                if number - 1 < count:
                    raise VectorsError(f"the first line announces {count} words, the file "
                                       f"has {number - 1}: is it truncated?")
        except UnicodeDecodeError as error:
            raise VectorsError(f"the file is not UTF-8 text ({error.reason})") from None
        except (OSError, EOFError) as error:  # a damaged gzip stream
            raise VectorsError(f"cannot read {path!r}: {error}") from None
    if not words:
        raise VectorsError("no word of the file can be used: " + (
            skipped.summary() or "it has no words"))
    return Vectors(words, table[:first_row + len(words)], first_row, number - 1, skipped)


def _parse(line: str, number: int, dimension: int) -> tuple[str, np.ndarray]:
    # fastText ends each line with a space; words never contain one.
    parts = line.rstrip("\r\n").rstrip(" ").split(" ")
    values = parts[1:]
    if not parts[0]:
        raise VectorsError(f"line {number} has no word")
    if len(values) != dimension:
        raise VectorsError(f"line {number} ({parts[0][:40]!r}) has {len(values)} values; "
                           f"the first line says {dimension}")
    try:
        row = np.array(values, dtype=np.float32)
    except ValueError:
        bad = next(value for value in values if not _is_number(value))
        raise VectorsError(f"line {number} ({parts[0][:40]!r}): {bad[:40]!r} is not a "
                           "number") from None
    if not np.all(np.isfinite(row)):
        raise VectorsError(f"line {number} ({parts[0][:40]!r}) has a value that is not finite")
    return parts[0], row


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


class BagOfWords(tf.Module):
    """Average of the known words' vectors; id 0 is padding and weighs nothing."""

    def __init__(self, table: np.ndarray, normalize: bool):
        super().__init__(name="bag_of_words")
        self.table = tf.Variable(table, name="word_vectors")
        self._normalize = normalize
        self.serve = tf.function(self._serve, input_signature=[
            tf.TensorSpec([None, None], tf.int64, name=IDS)])

    def _serve(self, token_ids: tf.Tensor) -> dict[str, tf.Tensor]:
        mask = tf.cast(token_ids != PADDING_ID, tf.float32)[:, :, None]
        summed = tf.reduce_sum(tf.gather(self.table, token_ids) * mask, axis=1)
        average = summed / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
        if self._normalize:
            average = tf.math.l2_normalize(average, axis=1)
        return {OUTPUT: average}


@dataclass(frozen=True)
class ImportReport:
    name: str
    version: int
    directory: str
    words: int
    dimension: int
    lines_read: int
    skipped: Skipped


def import_vectors(path: str, models_dir: str, name: str, max_words: int = 200_000,
                   max_length: int = 2000, oov_token: str | None = None,
                   normalize: bool = False,
                   progress: Callable[[int], None] | None = None,
                   files: ModelFiles | None = None) -> ImportReport:
    """Write the next version of model `name` under `models_dir` from a vectors
    file; `files` names its vocabulary and config as the server reads them
    (MODEL_FILES; default: the standard names)."""
    files = files or ModelFiles.from_names(Settings().MODEL_FILES)
    if not _NAME.fullmatch(name):
        raise VectorsError(f"model name {name!r} must be letters, digits, '.', '_' or '-', "
                           "starting with a letter or digit")
    if max_words < 1:
        raise VectorsError("--max-words must be at least 1")
    if not 1 <= max_length <= 2000:
        raise VectorsError("--max-length must be between 1 and 2000")
    if oov_token is not None and why_skipped(oov_token) is None:
        # A word the tokenizer produces would be a real word, not the stand-in.
        raise VectorsError(f"--oov-token {oov_token!r} is a word the tokenizer produces; "
                           "pick one it never does, such as <OOV>")
    vectors = read_vectors(path, max_words, 1 + (oov_token is not None), progress)
    model_dir = os.path.join(models_dir, name)
    version = max(scan(model_dir), default=0) + 1
    table, mapping = lookup_table(vectors, oov_token)
    directory = os.path.join(model_dir, str(version))
    report = ImportReport(name, version, directory, len(vectors.words), int(table.shape[1]),
                          vectors.lines_read, vectors.skipped)
    # Built beside the target and renamed into place whole, as the demo build
    # does: a server polling the directory never sees half a model.
    with staged(directory) as staging:
        # The import's peak: TensorFlow copies the matrix into a tensor, then
        # into the variable (with the numpy table, 3 copies for a moment).
        module = BagOfWords(table, normalize)
        tf.saved_model.save(module, staging, signatures={"serving_default": module.serve})
        _write_json(os.path.join(staging, files.vocabulary), mapping)
        serving = {"input": IDS, "output": OUTPUT, "max_length": max_length,
                   "truncating": "post"}
        if oov_token:
            serving["oov_token"] = oov_token
        _write_json(os.path.join(staging, files.net_config), {
            "model": name,
            "description": f"bag of words: the average of {os.path.basename(path)}'s "
                           "vectors" + (", L2-normalised" if normalize else ""),
            "embedding_size": report.dimension, "vocabulary_size": report.words,
            "normalize": normalize, "serving": serving})
    return report


def lookup_table(vectors: Vectors, oov_token: str | None) -> tuple[np.ndarray, dict[str, int]]:
    """The embedding table (row 0 padding; row 1 the OOV token's, when there
    is one: the mean of the kept vectors, an unknown word's best guess) and
    the word -> id mapping."""
    first, table = vectors.first_row, vectors.table
    mapping = {word: first + index for index, word in enumerate(vectors.words)}
    if oov_token is not None:
        table[1] = table[first:].mean(axis=0)
        mapping[oov_token] = 1
    return table, mapping


def _write_json(path: str, value: object) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, ensure_ascii=False)
