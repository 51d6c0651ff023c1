"""Text to token ids: the tokenizer and the vocabulary.

The tokenizer follows gensim's `simple_preprocess` rule for rule, so the
server sees words exactly as the models' training pipeline did, without
importing gensim at run time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

# gensim.utils.PAT_ALPHABETIC: runs of word characters that are not digits.
# gensim writes it `((?![\d])\w)+`; this character class matches the same
# runs (checked over every code point) in ~60 % of the time: a lookahead per
# character was the tokenizer's main cost (~5 us of a 10-word text).
_WORD = re.compile(r"[^\W\d]+")
MIN_TOKEN_CHARS = 2
MAX_TOKEN_CHARS = 15


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of 2 to 15 characters not starting with '_'."""
    return [token for token in _WORD.findall(text.lower())
            if MIN_TOKEN_CHARS <= len(token) <= MAX_TOKEN_CHARS
            and token[0] != "_"]


@dataclass(frozen=True)
class Encoded:
    """Texts as token ids, one row per text, truncated but not yet padded.

    `tokens` are the tokens after OOV replacement and before truncation (what
    the seed returned as `tokenizedTitle`). Rows stay unpadded so that rows of
    several requests can be padded together into one batch.
    """
    tokens: list[list[str]]
    rows: list[list[int]]
    #: Per text: word tokens, and how many of them the vocabulary lacks.
    words: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)

    @property
    def word_count(self) -> int:
        return sum(self.words)

    @property
    def unknown_count(self) -> int:
        return sum(self.unknown)


class Vocabulary:
    """Word to id lookups; unknown words become the OOV token or are dropped."""

    def __init__(self, mapping: Mapping[str, int], oov_token: str | None):
        self._ids = dict(mapping)
        known = oov_token if oov_token is not None and oov_token in self._ids else None
        self.oov_token = known
        self._oov_id = self._ids[known] if known is not None else None
        self.max_id = max(self._ids.values(), default=0)

    def __len__(self) -> int:
        return len(self._ids)

    def knows(self, word: str) -> bool:
        return word in self._ids

    def lookup(self, tokens: Sequence[str]) -> tuple[list[str], list[int], int]:
        """Tokens with unknown words replaced (or dropped), their ids, and how
        many were unknown (live traffic's OOV rate is a drift signal)."""
        ids_of = self._ids
        kept: list[str] = []
        ids: list[int] = []
        unknown = 0
        for token in tokens:
            token_id = ids_of.get(token)
            if token_id is None:
                unknown += 1
                if self._oov_id is None or self.oov_token is None:
                    continue
                token, token_id = self.oov_token, self._oov_id
            kept.append(token)
            ids.append(token_id)
        return kept, ids, unknown


@dataclass(frozen=True)
class Explained:
    """One text as the model sees it, for /tokenize: every word the tokenizer
    found, which of them the vocabulary lacks, the tokens and ids after OOV
    replacement, and whether the ids were cut to the model's length."""
    words: list[str]
    oov: list[bool]
    tokens: list[str]
    ids: list[int]
    truncated: bool

    def as_dict(self) -> dict[str, object]:
        return {"words": self.words, "oov": self.oov, "tokens": self.tokens,
                "ids": self.ids, "truncated": self.truncated}


def explain(text: str, vocabulary: "Vocabulary", max_length: int) -> Explained:
    words = tokenize(text)
    tokens, ids, _ = vocabulary.lookup(words)
    return Explained(words=words, oov=[not vocabulary.knows(word) for word in words],
                     tokens=tokens, ids=ids, truncated=len(ids) > max_length)


def truncate(ids: list[int], max_length: int, truncating: str) -> list[int]:
    """At most `max_length` ids, cut as Keras' `pad_sequences` cuts.

    truncating='pre' drops ids from the start (keeps the last ones, the
    seed's behaviour); 'post' drops them from the end.
    """
    if len(ids) <= max_length:
        return ids
    return ids[-max_length:] if truncating == "pre" else ids[:max_length]


def to_batch(rows: Sequence[Sequence[int]],
             fixed_width: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Rows padded at the end with 0 (the padding id), and their lengths.

    `fixed_width` is the model's static input length, when it has one;
    otherwise the batch is padded to its longest row.
    """
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    width = fixed_width or max(int(lengths.max(initial=0)), 1)
    batch = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        batch[i, :len(row)] = row
    return batch, lengths


def encode(texts: Sequence[str], vocabulary: Vocabulary, max_length: int,
           truncating: str) -> Encoded:
    """Tokenize, look up and truncate a batch of texts."""
    tokens: list[list[str]] = []
    rows: list[list[int]] = []
    words: list[int] = []
    unknown: list[int] = []
    for text in texts:
        words_of_text = tokenize(text)
        kept, ids, unknown_in_text = vocabulary.lookup(words_of_text)
        tokens.append(kept)
        rows.append(truncate(ids, max_length, truncating))
        words.append(len(words_of_text))
        unknown.append(unknown_in_text)
    return Encoded(tokens=tokens, rows=rows, words=words, unknown=unknown)
