"""The one request layer: every API's JSON body becomes checked values here.

A `Form` lists a body's fields, each a `Field` that both checks a value and
describes it as JSON Schema, so the Swagger spec is made from the very
definitions that are enforced. The native, OpenAI and TF Serving APIs share
the fields that carry texts, with the same limits (MAX_BATCH_TEXTS,
MAX_TEXT_CHARS) and the same `truncate`; each adapter only names its fields
and shapes the error.

Each problem has its own status: 400 for what is malformed (wrong type,
unknown field, value out of range), 413 for too much, 422 for well-formed
input with nothing to embed (an empty text or list).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..serving.signature import LONGEST_INPUT


@dataclass(frozen=True)
class Limits:
    max_texts: int
    max_chars: int


class InvalidRequest(Exception):
    """A body the server will not embed; `field` names the faulty one."""

    def __init__(self, message: str, status: int = 400, field: str | None = None):
        super().__init__(message)
        self.message, self.status, self.field = message, status, field


@dataclass(frozen=True)
class Context:
    """What a field's check may depend on besides its own value."""
    limits: Limits
    truncate: bool


class Field:
    """One field of a body: its check, its default and its JSON Schema."""

    def __init__(self, schema: dict[str, Any], default: Any = None,
                 description: str | None = None, example: Any = None):
        self.default = default
        self._schema = dict(schema)
        if description:
            self._schema["description"] = description
        if example is not None:
            self._schema["example"] = example

    def schema(self) -> dict[str, Any]:
        return dict(self._schema)

    def parse(self, value: Any, name: str, context: Context) -> Any:
        raise NotImplementedError


def check_text(value: Any, name: str, context: Context) -> str:
    """A text to embed: a string, cut or refused past MAX_TEXT_CHARS, not blank."""
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string", field=_root(name))
    limit = context.limits.max_chars
    if len(value) > limit:
        if not context.truncate:
            raise InvalidRequest(
                f"'{name}' has {len(value)} characters; at most {limit} are accepted "
                "(MAX_TEXT_CHARS); send \"truncate\": true to embed its beginning",
                413, _root(name))
        value = value[:limit]
    if not value.strip():
        raise InvalidRequest(f"'{name}' is empty; there is nothing to embed", 422,
                             _root(name))
    return value


def check_texts(values: Any, name: str, context: Context, reserve: int = 0) -> list[str]:
    """A non-empty list of texts, at most MAX_BATCH_TEXTS less `reserve` (texts
    of the same model run sent in other fields)."""
    if not isinstance(values, list):
        raise InvalidRequest(f"'{name}' must be a list of strings", field=name)
    if not values:
        raise InvalidRequest(f"'{name}' is empty; there is nothing to embed", 422, name)
    limit = context.limits.max_texts - reserve
    if limit < 1:
        raise InvalidRequest(f"MAX_BATCH_TEXTS leaves no room for '{name}'", 413, name)
    if len(values) > limit:
        raise InvalidRequest(
            f"'{name}' has {len(values)} items; at most {limit} are accepted per request "
            "(MAX_BATCH_TEXTS)", 413, name)
    checked = []
    for index, value in enumerate(values):
        if isinstance(value, str) and 0 < len(value) <= context.limits.max_chars \
                and not value.isspace():
            checked.append(value)  # the common case, with no name to format
        else:
            checked.append(check_text(value, f"{name}[{index}]", context))
    return checked


def _root(name: str) -> str:
    return name.split("[", 1)[0]


class Text(Field):
    def __init__(self, description: str | None = None, example: Any = None):
        super().__init__({"type": "string", "minLength": 1, "pattern": r"\S"},
                         description=description, example=example)

    def parse(self, value: Any, name: str, context: Context) -> str:
        return check_text(value, name, context)


class Texts(Field):
    def __init__(self, reserve: int = 0, description: str | None = None,
                 example: Any = None):
        self.reserve = reserve
        super().__init__({"type": "array", "minItems": 1, "items": Text().schema()},
                         description=description or "at most MAX_BATCH_TEXTS texts, each "
                         "at most MAX_TEXT_CHARS characters", example=example)

    def parse(self, value: Any, name: str, context: Context) -> list[str]:
        return check_texts(value, name, context, self.reserve)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Length(Field):
    def __init__(self, description: str | None = None):
        super().__init__({"type": "integer", "minimum": 1, "maximum": LONGEST_INPUT,
                          "x-nullable": True},
                         description=description or "most token ids fed per text")

    def parse(self, value: Any, name: str, context: Context) -> int | None:
        if value is None:
            return None
        if not _whole(value) or not 1 <= value <= LONGEST_INPUT:
            raise InvalidRequest(f"'{name}' must be a whole number from 1 to "
                                 f"{LONGEST_INPUT}", field=name)
        return int(value)


class Flag(Field):
    def __init__(self, description: str | None = None):
        super().__init__({"type": "boolean", "default": False}, default=False,
                         description=description)

    def parse(self, value: Any, name: str, context: Context) -> bool:
        if not isinstance(value, bool):
            raise InvalidRequest(f"'{name}' must be true or false", field=name)
        return value


class Choice(Field):
    """One of `values`, the first by default; null too when `nullable`
    (OpenAI's clients send `"encoding_format": null`)."""

    def __init__(self, values: Iterable[str], description: str | None = None,
                 nullable: bool = False):
        self.values = tuple(values)
        self.nullable = nullable
        super().__init__({"type": "string", "enum": list(self.values),
                          "default": self.values[0],
                          **({"x-nullable": True} if nullable else {})},
                         default=self.values[0], description=description)

    def parse(self, value: Any, name: str, context: Context) -> str:
        if value is None and self.nullable:
            return self.values[0]
        if value not in self.values:
            choices = " or ".join(f'"{choice}"' for choice in self.values)
            raise InvalidRequest(f"'{name}' must be {choices}", field=name)
        return str(value)


class KeepProbability(Field):
    def __init__(self) -> None:
        super().__init__({"type": "number", "minimum": 0, "exclusiveMinimum": True,
                          "maximum": 1, "x-nullable": True},
                         description="keep-probability in (0, 1]; default 1 (no dropout)")

    def parse(self, value: Any, name: str, context: Context) -> float | None:
        if value is None:
            return None
        if not _number(value) or not 0 < value <= 1:
            raise InvalidRequest(f"'{name}' must be a number in (0, 1] (a "
                                 "keep-probability; 1 turns dropout off)", field=name)
        return float(value)


class PositiveInt(Field):
    def __init__(self, description: str | None = None):
        super().__init__({"type": "integer", "minimum": 1, "x-nullable": True},
                         description=description)

    def parse(self, value: Any, name: str, context: Context) -> int | None:
        if value is None:
            return None
        if not _whole(value) or value < 1:
            raise InvalidRequest(f"'{name}' must be a positive integer", field=name)
        return int(value)


class String(Field):
    def __init__(self, description: str | None = None, non_empty: bool = False,
                 default: str | None = None):
        self.non_empty = non_empty
        super().__init__({"type": "string", "x-nullable": True,
                          **({"minLength": 1} if non_empty else {})},
                         default=default, description=description)

    def parse(self, value: Any, name: str, context: Context) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or (self.non_empty and not value):
            kind = "a non-empty string" if self.non_empty else "a string"
            raise InvalidRequest(f"'{name}' must be {kind}", field=name)
        return value


TRUNCATE = "truncate"


class Form:
    """A JSON object body: its fields, in the order they are checked."""

    def __init__(self, fields: dict[str, Field], required: Iterable[str] = (),
                 hints: dict[str, str] | None = None):
        self.fields = fields
        self.required = tuple(required)
        self._hints = hints or {}

    def parse(self, body: Any, limits: Limits) -> dict[str, Any]:
        """Every field's checked value (its default when absent); raises
        InvalidRequest for the first fault found."""
        if not isinstance(body, dict):
            raise InvalidRequest("the request body must be a JSON object")
        unknown = sorted(set(body) - set(self.fields))
        if unknown:
            raise InvalidRequest(f"unknown field(s): {', '.join(unknown)}; accepted: "
                                 f"{', '.join(sorted(self.fields))}", field=unknown[0])
        for name in self.required:
            if body.get(name) is None:
                hint = f" ({self._hints[name]})" if name in self._hints else ""
                raise InvalidRequest(f"'{name}' is required{hint}", field=name)
        truncate = self.fields.get(TRUNCATE)
        context = Context(limits, bool(truncate and TRUNCATE in body and truncate.parse(
            body[TRUNCATE], TRUNCATE, Context(limits, False))))
        return {name: field.parse(body[name], name, context) if name in body
                else field.default for name, field in self.fields.items()}

    def schema(self) -> dict[str, Any]:
        """The body as JSON Schema (Swagger 2.0's subset), for `Api.schema_model`."""
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: field.schema() for name, field in self.fields.items()},
            "additionalProperties": False}
        if self.required:  # Swagger 2.0 wants at least one name when present
            schema["required"] = list(self.required)
        return schema


def truncate_flag() -> Flag:
    return Flag("cut texts longer than MAX_TEXT_CHARS instead of answering 413")


#: The native API's bodies.
PREDICT = Form({
    "title": Text(example="Hola mundo, ¿qué tal?"),
    "length": Length("most token ids fed; a fixed-width model (bow-spanish: 20) "
                     "ignores it"),
    "title_dropout": KeepProbability(),
    "dense_dropout": KeepProbability(),
    TRUNCATE: truncate_flag(),
}, required=("title",))

EMBED = Form({
    "texts": Texts(example=["Hola mundo", "Buenos días"]),
    "length": Length(),
    "normalize": Flag("L2-normalize each embedding"),
    "encoding_format": Choice(("float", "base64"), "base64: each embedding as base64 "
                              "of little-endian float32"),
    TRUNCATE: truncate_flag(),
}, required=("texts",), hints={"texts": "a list of strings"})

SIMILARITY = Form({
    "source": Text(example="el perro come"),
    # The source shares the model run with the targets, so it counts as one text.
    "targets": Texts(reserve=1, example=["el gato come", "the stock market fell"]),
    "length": Length(),
    TRUNCATE: truncate_flag(),
}, required=("source", "targets"), hints={"targets": "a list of strings"})

TOKENIZE = Form({
    "texts": Texts(example=["Hola mundo, zzyzx"]),
    "length": Length(),
    TRUNCATE: truncate_flag(),
}, required=("texts",), hints={"texts": "a list of strings"})
