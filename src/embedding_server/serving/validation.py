"""Checks a model directory before anything is loaded from it.

Every problem found is reported, each in words an operator can act on, so a
broken model is fixed in one round trip rather than one error at a time.
"""
from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, replace
from typing import Any

from ..tensorflow_import import tf
from google.protobuf import text_format
from google.protobuf.message import DecodeError

from .signature import Signature, SignatureError, resolve_signature
from .backends.tf1 import describe_tf_error


class ValidationError(Exception):
    """The model directory cannot be served; `problems` lists every reason."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ModelFiles:
    """File names inside a model directory, as MODEL_FILES lists them."""
    checkpoint: str = "tensorflow_model"
    net_config: str = "net_config.json"
    meta_graph: str = "tensorflow_model.meta"
    vocabulary: str = "word_mapping.json"

    @classmethod
    def from_names(cls, names: tuple[str, ...]) -> "ModelFiles":
        return cls(*names)


@dataclass(frozen=True)
class ModelSource:
    """What validation read, handed to the loader so nothing is read twice."""
    directory: str
    checkpoint_prefix: str
    checkpoint_format: str
    meta_graph: Any
    signature: Signature
    vocabulary: dict[str, int]


def checkpoint_format(prefix: str) -> str | None:
    """'V1' for a single-file checkpoint, 'V2' for .index + .data, else None."""
    if os.path.isfile(prefix):
        return "V1"
    if os.path.isfile(prefix + ".index"):
        return "V2"
    return None


def read_json(path: str, label: str, problems: list[str]) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except UnicodeDecodeError:
        problems.append(f"{label} is not UTF-8 text")
    except json.JSONDecodeError as error:
        problems.append(f"{label} is not valid JSON ({error})")
    except OSError as error:
        problems.append(f"{label} cannot be read ({error.strerror})")
    return None


def check_vocabulary(mapping: Any, label: str, problems: list[str]) -> dict[str, int] | None:
    if not isinstance(mapping, dict):
        problems.append(f"{label} must be a JSON object of word -> id, "
                        f"not a JSON {type(mapping).__name__}")
        return None
    if not mapping:
        problems.append(f"{label} is empty")
        return None
    bad = [word for word, value in mapping.items()
           if not isinstance(value, int) or isinstance(value, bool) or value < 0]
    if bad:
        examples = ", ".join(f"{w!r}: {mapping[w]!r}" for w in bad[:3])
        problems.append(f"{label}: {len(bad)} entries are not non-negative "
                        f"whole-number ids (e.g. {examples})")
        return None
    return mapping


def parse_meta_graph(path: str, label: str, problems: list[str]) -> Any:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        problems.append(f"{label} cannot be read ({error.strerror})")
        return None
    meta_graph = tf.compat.v1.MetaGraphDef()
    try:
        meta_graph.ParseFromString(data)
    except DecodeError:
        # TensorFlow also writes meta graphs in protobuf text format.
        try:
            text_format.Merge(data.decode("utf-8"), meta_graph)
        except (UnicodeDecodeError, text_format.ParseError):
            problems.append(f"{label} is not a TensorFlow MetaGraphDef "
                            "(neither binary nor text protobuf)")
            return None
    if not meta_graph.graph_def.node:
        problems.append(f"{label} holds no graph (it has no nodes)")
        return None
    return meta_graph


def check_tensors(meta_graph: Any, signature: Signature, label: str,
                  problems: list[str]) -> None:
    ops = {node.name: node.op for node in meta_graph.graph_def.node}
    for name in signature.tensor_names():
        op_name = name.rsplit(":", 1)[0]
        if op_name not in ops:
            problems.append(f"{label} has no tensor {name!r} named by the signature")
    input_op = ops.get(signature.input.rsplit(":", 1)[0])
    if input_op is not None and input_op not in ("Placeholder", "PlaceholderWithDefault"):
        problems.append(f"signature input {signature.input!r} is a {input_op}, "
                        "not a placeholder")


def check_checkpoint(prefix: str, label: str, problems: list[str]) -> None:
    """Reads every saved tensor once, so a truncated file fails here, in words."""
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as error:  # the reader raises OpError, IndexError, ValueError...
        problems.append(f"checkpoint {label} cannot be read; it may be truncated "
                        f"or corrupt ({describe_tf_error(error)})")


def validate_model_dir(name: str, directory: str, files: ModelFiles,
                       default_oov_token: str | None = None) -> ModelSource:
    """Check a model directory; raise ValidationError listing every problem."""
    if not os.path.isdir(directory):
        raise ValidationError([f"model directory {directory!r} does not exist"])
    if not os.listdir(directory):
        raise ValidationError([
            f"model directory {directory!r} is empty; it needs "
            f"{files.meta_graph}, {files.checkpoint}, {files.net_config} and "
            f"{files.vocabulary}"])
    problems: list[str] = []
    path = lambda file_name: os.path.join(directory, file_name)  # noqa: E731
    present = {}
    for file_name in (files.meta_graph, files.net_config, files.vocabulary):
        present[file_name] = os.path.isfile(path(file_name))
        if not present[file_name]:
            problems.append(f"missing file {file_name!r}")

    prefix = path(files.checkpoint)
    ckpt_format = checkpoint_format(prefix)
    if ckpt_format is None:
        problems.append(
            f"missing checkpoint: expected {files.checkpoint!r} (V1) or "
            f"{files.checkpoint + '.index'!r} with its .data-* shards (V2)")
    elif ckpt_format == "V2" and not glob.glob(glob.escape(prefix) + ".data-*"):
        problems.append(f"checkpoint {files.checkpoint!r} has an .index but no "
                        ".data-* shard")
        ckpt_format = None
    if ckpt_format is not None:
        check_checkpoint(prefix, repr(files.checkpoint), problems)

    signature = None
    if present[files.net_config]:
        net_config = read_json(path(files.net_config), files.net_config, problems)
        if net_config is not None and not isinstance(net_config, dict):
            problems.append(f"{files.net_config} must be a JSON object")
        elif net_config is not None:
            try:
                signature = resolve_signature(name, net_config)
            except SignatureError as error:
                problems.extend(f"{files.net_config}: {p}" for p in error.problems)

    vocabulary = None
    if present[files.vocabulary]:
        mapping = read_json(path(files.vocabulary), files.vocabulary, problems)
        if mapping is not None:
            vocabulary = check_vocabulary(mapping, files.vocabulary, problems)

    meta_graph = None
    if present[files.meta_graph]:
        meta_graph = parse_meta_graph(path(files.meta_graph), files.meta_graph, problems)
    if meta_graph is not None and signature is not None:
        check_tensors(meta_graph, signature, files.meta_graph, problems)

    if problems or signature is None or vocabulary is None or ckpt_format is None:
        raise ValidationError(problems)  # each part missing has said why
    if signature.oov_token is None and default_oov_token:
        signature = replace(signature, oov_token=default_oov_token)
    return ModelSource(directory=directory, checkpoint_prefix=prefix,
                       checkpoint_format=ckpt_format, meta_graph=meta_graph,
                       signature=signature, vocabulary=vocabulary)


def read_vocabulary(directory: str, file_name: str, required: bool) -> dict[str, int] | None:
    """A SavedModel's word_mapping.json: required when the model takes token ids."""
    path = os.path.join(directory, file_name)
    if not os.path.isfile(path):
        if required:
            raise ValidationError([f"missing file {file_name!r}: the SavedModel takes "
                                   "token ids, so the server needs its vocabulary"])
        return None
    problems: list[str] = []
    mapping = read_json(path, file_name, problems)
    vocabulary = check_vocabulary(mapping, file_name, problems) if mapping is not None else None
    if problems:
        raise ValidationError(problems)
    return vocabulary
