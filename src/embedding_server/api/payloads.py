"""Request bodies: parsed and checked before any serving work starts.

Each problem maps to its own status: 400 for what is malformed (bad JSON,
wrong types, unknown fields, values out of range), 413 for too much, 422 for
well-formed input that cannot be embedded (an empty title or list).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnprocessableEntity

from ..serving.signature import LONGEST_INPUT


@dataclass(frozen=True)
class PredictRequest:
    title: str
    length: int | None = None
    parameters: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class EmbedRequest:
    texts: list[str]
    length: int | None = None
    normalize: bool = False
    encoding_format: str = "float"


ENCODING_FORMATS = ("float", "base64")


def _object(body: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}; "
                         f"accepted: {', '.join(sorted(allowed))}")
    return body


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _length(body: dict[str, Any]) -> int | None:
    value = body.get("length")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) \
            or not 1 <= value <= LONGEST_INPUT:
        raise BadRequest(f"'length' must be a whole number from 1 to {LONGEST_INPUT}")
    return value


def _truncate(body: dict[str, Any]) -> bool:
    value = body.get("truncate", False)
    if not isinstance(value, bool):
        raise BadRequest("'truncate' must be true or false")
    return value


def _text(value: Any, key: str, max_chars: int, truncate: bool,
          index: int | None = None) -> str:
    # The field's name ('texts[3]') is written only for an error: formatting
    # it for every text was half of checking a 64-text body (18 of 37 us).
    if not isinstance(value, str):
        raise BadRequest(f"{_where(key, index)} must be a string")
    if len(value) > max_chars:
        if not truncate:
            raise RequestEntityTooLarge(
                f"{_where(key, index)} has {len(value)} characters; at most {max_chars} "
                "are accepted (MAX_TEXT_CHARS); send \"truncate\": true to embed its "
                "beginning")
        value = value[:max_chars]
    if not value.strip():
        raise UnprocessableEntity(f"{_where(key, index)} is empty; there is nothing to embed")
    return value


def _where(key: str, index: int | None) -> str:
    return f"'{key}'" if index is None else f"'{key}[{index}]'"


def parse_predict(body: Any, max_chars: int = 20000) -> PredictRequest:
    """The seed's /predict body: a title, and optional length, keep-probabilities
    and truncate."""
    body = _object(body, {"title", "length", "title_dropout", "dense_dropout", "truncate"})
    if "title" not in body:
        raise BadRequest("'title' is required")
    parameters = {}
    for key in ("title_dropout", "dense_dropout"):
        value = body.get(key)
        if value is None:
            continue
        if not _is_number(value) or not 0 < value <= 1:
            raise BadRequest(f"'{key}' must be a number in (0, 1] "
                             "(a keep-probability; 1 turns dropout off)")
        parameters[key] = float(value)
    return PredictRequest(title=_text(body["title"], "title", max_chars, _truncate(body)),
                          length=_length(body), parameters=parameters)


def _texts(body: dict[str, Any], key: str, max_texts: int, max_chars: int) -> list[str]:
    """A non-empty list of at most `max_texts` texts under `key`."""
    texts = body.get(key)
    if texts is None:
        raise BadRequest(f"'{key}' is required (a list of strings)")
    if not isinstance(texts, list):
        raise BadRequest(f"'{key}' must be a list of strings")
    if not texts:
        raise UnprocessableEntity(f"'{key}' is empty; there is nothing to embed")
    if len(texts) > max_texts:
        raise RequestEntityTooLarge(
            f"'{key}' has {len(texts)} items; at most {max_texts} are accepted "
            "per request (MAX_BATCH_TEXTS)")
    truncate = _truncate(body)
    return [_text(text, key, max_chars, truncate, i) for i, text in enumerate(texts)]


def parse_embed(body: Any, max_texts: int, max_chars: int = 20000) -> EmbedRequest:
    """The batch body: texts, and optional length, normalize, encoding_format and
    truncate."""
    body = _object(body, {"texts", "length", "normalize", "encoding_format", "truncate"})
    checked = _texts(body, "texts", max_texts, max_chars)
    normalize = body.get("normalize", False)
    if not isinstance(normalize, bool):
        raise BadRequest("'normalize' must be true or false")
    encoding_format = body.get("encoding_format", "float")
    if encoding_format not in ENCODING_FORMATS:
        raise BadRequest("'encoding_format' must be \"float\" or \"base64\"")
    return EmbedRequest(texts=checked, length=_length(body), normalize=normalize,
                        encoding_format=encoding_format)


@dataclass(frozen=True)
class SimilarityRequest:
    source: str
    targets: list[str]
    length: int | None = None


def parse_similarity(body: Any, max_texts: int, max_chars: int = 20000) -> SimilarityRequest:
    """A source text and the targets to compare it with (all embedded in one run)."""
    body = _object(body, {"source", "targets", "length", "truncate"})
    if "source" not in body:
        raise BadRequest("'source' is required")
    source = _text(body["source"], "source", max_chars, _truncate(body))
    # The source shares the model run with the targets, so it counts as one text.
    targets = _texts(body, "targets", max_texts - 1, max_chars) if max_texts > 1 else []
    if not targets:
        raise RequestEntityTooLarge("MAX_BATCH_TEXTS leaves no room for targets")
    return SimilarityRequest(source=source, targets=targets, length=_length(body))


@dataclass(frozen=True)
class TokenizeRequest:
    texts: list[str]
    length: int | None = None


def parse_tokenize(body: Any, max_texts: int, max_chars: int = 20000) -> TokenizeRequest:
    """Texts to show as the model sees them."""
    body = _object(body, {"texts", "length", "truncate"})
    return TokenizeRequest(texts=_texts(body, "texts", max_texts, max_chars),
                           length=_length(body))
