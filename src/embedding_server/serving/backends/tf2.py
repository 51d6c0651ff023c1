"""The TF2 backend: a SavedModel's `serving_default` signature.

A SavedModel directory (`saved_model.pb` + `variables/`, or numeric versions
of it) serves like a TF1 model: validated, loaded, warmed up, batched. Its
signature either takes token ids (an integer or float `[batch, length]`
input, optionally a `[batch]` lengths input; the server tokenizes with
`word_mapping.json` beside the model) or raw strings (a `[batch]` string
input; the model tokenizes). An optional `"serving"` section of
`net_config.json` names the signature's keys when guessing is not enough:
`input`, `sequence_length_input`, `output`, `max_length`, `truncating`,
`oov_token`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from ...tensorflow_import import tf

from ..signature import LONGEST_INPUT, TRUNCATING_SIDES, Signature
from .tf1 import describe_tf_error
from ..validation import ValidationError

SIGNATURE_KEY = "serving_default"
_SECTION_KEYS = {"input", "sequence_length_input", "output", "max_length", "truncating",
                 "oov_token"}


def is_saved_model(directory: str) -> bool:
    return any(os.path.isfile(os.path.join(directory, name))
               for name in ("saved_model.pb", "saved_model.pbtxt"))


@dataclass(frozen=True)
class _Keys:
    ids: str
    lengths: str | None
    output: str
    takes_text: bool
    static_width: int | None


def _resolve(inputs: Mapping[str, tf.TensorSpec], outputs: Mapping[str, tf.TensorSpec],
             section: Mapping[str, Any]) -> _Keys:
    """Which signature key is fed what, from the section or from the specs."""
    problems = []
    text = [k for k, spec in inputs.items() if spec.dtype == tf.string]
    ids = section.get("input") or (text[0] if len(text) == 1 else None)
    if ids is None:
        two_d = [k for k, spec in inputs.items() if spec.shape.rank == 2]
        ids = two_d[0] if len(two_d) == 1 else None
    if ids is None or ids not in inputs:
        problems.append(f"cannot tell which input of {sorted(inputs)} takes the text or "
                        'token ids; name it in net_config.json ("serving": {"input": ...})')
    lengths = section.get("sequence_length_input")
    if lengths is None:
        rest = [k for k, spec in inputs.items() if k != ids and spec.shape.rank == 1
                and spec.dtype.is_integer]
        lengths = rest[0] if len(rest) == 1 else None
    if lengths is not None and lengths not in inputs:
        problems.append(f"sequence_length_input {lengths!r} is not an input of the signature")
    unfed = sorted(set(inputs) - {ids, lengths})
    if unfed:
        problems.append(f"the signature has inputs the server cannot feed: {unfed}")
    output = section.get("output") or (next(iter(outputs)) if len(outputs) == 1 else None)
    if output is None or output not in outputs:
        problems.append(f"cannot tell which output of {sorted(outputs)} is the embedding; "
                        'name it in net_config.json ("serving": {"output": ...})')
    if problems or ids is None or output is None:  # a problem says which
        raise ValidationError(problems)
    spec = inputs[ids]
    takes_text = spec.dtype == tf.string
    width = spec.shape[1] if not takes_text and spec.shape.rank == 2 else None
    return _Keys(ids, lengths, output, takes_text, width)


class SavedModelRunner:
    """One loaded SavedModel; `run` feeds padded ids, `run_texts` raw strings."""

    format = "saved_model"

    def __init__(self, directory: str, section: Mapping[str, Any]):
        unknown = sorted(set(section) - _SECTION_KEYS)
        if unknown:
            raise ValidationError([f'"serving" has an unknown key {key!r}' for key in unknown])
        self._loaded = tf.saved_model.load(directory)
        signatures = self._loaded.signatures
        if SIGNATURE_KEY not in signatures:
            raise ValidationError([f"the SavedModel has no {SIGNATURE_KEY!r} signature "
                                   f"(it has {sorted(signatures)})"])
        self._function = signatures[SIGNATURE_KEY]
        inputs = self._function.structured_input_signature[1]
        outputs = self._function.structured_outputs
        keys = _resolve(inputs, outputs, section)
        self._keys = keys
        self.takes_text = keys.takes_text
        self._ids_dtype = inputs[keys.ids].dtype
        self._lengths_dtype = inputs[keys.lengths].dtype if keys.lengths else None
        longest = int(section.get("max_length", LONGEST_INPUT))
        self.max_length = min(longest, keys.static_width or longest)
        self.fixed_width = keys.static_width
        truncating = section.get("truncating", "post")
        if truncating not in TRUNCATING_SIDES:
            raise ValidationError(['"truncating" must be "pre" or "post"'])
        self.signature = Signature(input=keys.ids, output=keys.output,
                                   max_length=self.max_length, truncating=truncating,
                                   sequence_length_input=keys.lengths,
                                   oov_token=section.get("oov_token"))

    def run(self, ids: np.ndarray, lengths: np.ndarray,
            parameters: Mapping[str, float] | None = None) -> np.ndarray:
        feeds = {self._keys.ids: tf.constant(ids, dtype=self._ids_dtype)}
        if self._keys.lengths is not None:
            feeds[self._keys.lengths] = tf.constant(lengths, dtype=self._lengths_dtype)
        return self._fetch(feeds)

    def run_texts(self, texts: list[str]) -> np.ndarray:
        return self._fetch({self._keys.ids: tf.constant(texts, dtype=tf.string)})

    def _fetch(self, feeds: dict[str, tf.Tensor]) -> np.ndarray:
        return np.asarray(self._function(**feeds)[self._keys.output], dtype=np.float32)

    def close(self) -> None:
        """Drop the loaded objects so a replaced version's memory can go."""
        self._function = None
        self._loaded = None


def read_section(directory: str, net_config: str) -> tuple[dict[str, Any], list[str]]:
    """The optional "serving" section of the SavedModel's net_config.json."""
    path = os.path.join(directory, net_config)
    if not os.path.isfile(path):
        return {}, []
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError) as error:
        return {}, [f"{net_config} is not valid JSON ({error})"]
    section = config.get("serving", {}) if isinstance(config, dict) else None
    if not isinstance(section, dict):
        return {}, [f'{net_config}: "serving" must be a JSON object']
    return section, []


def load_saved_model(directory: str, net_config: str) -> SavedModelRunner:
    """Load and resolve a SavedModel, or raise ValidationError with every problem."""
    problems = []
    if not os.path.isdir(os.path.join(directory, "variables")):
        problems.append("missing directory 'variables' beside saved_model.pb")
    section, section_problems = read_section(directory, net_config)
    problems.extend(section_problems)
    if problems:
        raise ValidationError(problems)
    try:
        return SavedModelRunner(directory, section)
    except ValidationError:
        raise
    except Exception as error:  # TensorFlow raises many kinds; each is a load problem
        raise ValidationError([f"the SavedModel cannot be loaded: "
                               f"{describe_tf_error(error)}"]) from error
