"""Signatures: which tensors a model is fed and fetched, and how its input is shaped.

A model declares its signature in the `"serving"` section of its
`net_config.json`. The seed's `bow-spanish` model predates that section, so a
built-in profile describes it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

TRUNCATING_SIDES = ("pre", "post")
LONGEST_INPUT = 2000


class SignatureError(ValueError):
    """The serving section cannot be used; `problems` lists every reason."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Signature:
    input: str
    output: str
    max_length: int
    truncating: str = "post"
    sequence_length_input: str | None = None
    #: Tensors fed a constant on every run (e.g. dropout keep-probabilities).
    feeds: Mapping[str, float] = field(default_factory=dict)
    #: Request parameters that may replace a constant feed, by tensor name.
    parameters: Mapping[str, str] = field(default_factory=dict)
    oov_token: str | None = None
    pad_to_max_length: bool = False

    def tensor_names(self) -> list[str]:
        """Every tensor the signature names, for checking against a graph."""
        names = [self.input, self.output, *self.feeds]
        if self.sequence_length_input:
            names.append(self.sequence_length_input)
        return names


def tensor_name(name: str) -> str:
    """'scope/op' and 'scope/op:0' both name output 0 of the op."""
    return name if ":" in name else name + ":0"


BOW_SPANISH = Signature(
    input="input/title:0",
    output=("target-embedding/title_sub_network/clickability/add_title_emb/"
            "apply_title_to_vec_func/reduced_title_emb:0"),
    max_length=20,
    truncating="pre",
    feeds={"config/dense_dropout_keep_prob:0": 1.0,
           "config/title_dropout_keep_prob:0": 1.0},
    parameters={"dense_dropout": "config/dense_dropout_keep_prob:0",
                "title_dropout": "config/title_dropout_keep_prob:0"},
    pad_to_max_length=True,
)

PROFILES: Mapping[str, Signature] = {"bow-spanish": BOW_SPANISH}

_KEYS = {"profile", "input", "output", "sequence_length_input", "max_length",
         "truncating", "feeds", "parameters", "oov_token", "pad_to_max_length"}


def resolve_signature(model_name: str, net_config: Mapping[str, Any]) -> Signature:
    """The model's signature: its serving section, else its built-in profile."""
    section = net_config.get("serving")
    if section is None:
        if model_name in PROFILES:
            return PROFILES[model_name]
        raise SignatureError([
            'net_config.json has no "serving" section and there is no built-in '
            f"profile for a model named {model_name!r}; add the section (its input and "
            "output tensor names at least)"])
    return parse_serving_section(section)


def parse_serving_section(section: Any) -> Signature:
    """Read a `"serving"` section, reporting every problem at once."""
    if not isinstance(section, dict):
        raise SignatureError(['"serving" must be a JSON object'])
    problems = [f'"serving" has an unknown key {key!r}'
                for key in sorted(set(section) - _KEYS)]
    if "profile" in section:
        profile = PROFILES.get(section["profile"])
        if profile is None:
            problems.append(f'unknown profile {section["profile"]!r}; known: '
                            + ", ".join(sorted(PROFILES)))
        if problems or profile is None:
            raise SignatureError(problems)
        return profile

    def text(key: str, required: bool) -> str | None:
        value = section.get(key)
        if value is None:
            if required:
                problems.append(f'"serving.{key}" is required (a tensor name)')
            return None
        if not isinstance(value, str) or not value:
            problems.append(f'"serving.{key}" must be a non-empty string')
            return None
        return value

    input_name = text("input", True)
    output_name = text("output", True)
    length_name = text("sequence_length_input", False)
    oov_token = text("oov_token", False)

    max_length = section.get("max_length", LONGEST_INPUT)
    if (not isinstance(max_length, int) or isinstance(max_length, bool)
            or not 1 <= max_length <= LONGEST_INPUT):
        problems.append(f'"serving.max_length" must be a whole number from 1 '
                        f"to {LONGEST_INPUT}")
    truncating = section.get("truncating", "post")
    if truncating not in TRUNCATING_SIDES:
        problems.append('"serving.truncating" must be "pre" (keep the last '
                        'ids) or "post" (keep the first ids)')
    pad_to_max = section.get("pad_to_max_length", False)
    if not isinstance(pad_to_max, bool):
        problems.append('"serving.pad_to_max_length" must be true or false')

    feeds = section.get("feeds", {})
    if not isinstance(feeds, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool)
            for v in feeds.values()):
        problems.append('"serving.feeds" must map tensor names to numbers')
        feeds = {}
    parameters = section.get("parameters", {})
    if not isinstance(parameters, dict) or not all(
            isinstance(v, str) for v in parameters.values()):
        problems.append('"serving.parameters" must map request parameter '
                        "names to tensor names")
        parameters = {}
    feeds = {tensor_name(k): float(v) for k, v in feeds.items()}
    parameters = {k: tensor_name(v) for k, v in parameters.items()}
    for parameter, tensor in parameters.items():
        if tensor not in feeds:
            problems.append(f'"serving.parameters.{parameter}" names {tensor!r}, '
                            'which "serving.feeds" does not give a default')

    if problems or input_name is None or output_name is None:  # a problem says which
        raise SignatureError(problems)
    return Signature(
        input=tensor_name(input_name), output=tensor_name(output_name),
        max_length=max_length, truncating=truncating,
        sequence_length_input=tensor_name(length_name) if length_name else None,
        feeds=feeds, parameters=parameters, oov_token=oov_token,
        pad_to_max_length=pad_to_max)
