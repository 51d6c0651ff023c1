"""Word lists shipped with the package for the demo models' vocabularies.

The lists are the most frequent words of each language in wordfreq's data
(CC-BY-SA 4.0, see data/NOTICE), kept only where gensim's
`simple_preprocess` leaves the word unchanged, so every entry is reachable
by the server's tokenizer.
"""
from __future__ import annotations

import gzip
from importlib import resources

LANGUAGES = ("es", "en", "fr", "de", "pt", "it")


def load_words(language: str) -> list[str]:
    """The shipped words of a language, most frequent first."""
    data = resources.files(__package__).joinpath("data", f"words-{language}.txt.gz")
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as text:
        return [line.rstrip("\n") for line in text if line.strip()]


def multilingual_words(per_language: int) -> list[str]:
    """The top words of every language, interleaved, without duplicates."""
    lists = [load_words(language)[:per_language] for language in LANGUAGES]
    seen: dict[str, None] = {}
    for rank in range(per_language):
        for words in lists:
            if rank < len(words):
                seen.setdefault(words[rank], None)
    return list(seen)
