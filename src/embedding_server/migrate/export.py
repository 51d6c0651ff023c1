"""Export a served TF1 model (meta graph + checkpoint) as a TF2 SavedModel.

The TF1 graph is not rewritten by hand: the part of it the output depends on
is imported into a `tf.function`, with its variables mapped onto TF2
variables that hold the checkpoint's values, its ids and length inputs onto
the signature's inputs and its constant feeds (dropout keep-probabilities)
onto their serving values. The SavedModel therefore computes what the
graph computes, op for op, and keeps its weights in `variables/` as any
SavedModel does. Before anything is written in place, the export is loaded
back with plain `tf.saved_model.load` and run beside the TF1 model over a
verification set; any difference over `TOLERANCE` refuses it.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from ..settings import Settings
from ..serving.backends.tf1 import TF1Runner, describe_tf_error
from ..serving.backends.tf2 import is_saved_model
from ..serving.signature import Signature
from ..serving.text import to_batch
from ..serving.validation import ModelFiles, ModelSource, ValidationError, validate_model_dir
from ..serving.versions import scan, staged
from ..tensorflow_import import tf

TOLERANCE = 1e-5
#: The exported signature's names (`"serving"` section of its net_config.json).
IDS, LENGTHS, OUTPUT = "token_ids", "sequence_length", "embedding"
#: Op types that hold a variable: resource (VarHandleOp) or reference ones.
VARIABLE_OPS = ("VarHandleOp", "VariableV2", "Variable")
#: Variable-length models are checked at every length up to this, then on a ladder.
EVERY_LENGTH_UP_TO = 64


class ExportError(Exception):
    """The model cannot be exported, or its export differs from it."""


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote and how closely it matches the TF1 model."""
    name: str
    version: int
    directory: str
    rows_checked: int
    lengths_checked: int
    max_difference: float


def source_version(settings: Settings, name: str, version: int | None) -> tuple[int, str]:
    """The version of a configured model to export (the highest by default), and its directory."""
    if name not in settings.MODEL_NAMES:
        raise ExportError(f"unknown model {name!r}: MODEL_NAMES has "
                          f"{', '.join(settings.MODEL_NAMES) or 'none'}")
    found = scan(os.path.join(settings.MODELS_BASE_DIR, name))
    if not found:
        raise ExportError(f"model {name!r} has no files in "
                          f"{os.path.join(settings.MODELS_BASE_DIR, name)!r}")
    if version is None:
        version = max(found)
    if version not in found:
        raise ExportError(f"model {name!r} has no version {version} "
                          f"(it has {', '.join(map(str, sorted(found)))})")
    path = found[version].path
    if is_saved_model(path):
        raise ExportError(f"model {name!r} version {version} is a SavedModel already")
    return version, path


def length_ladder(max_length: int) -> list[int]:
    """The lengths checked: every one up to EVERY_LENGTH_UP_TO, then each power
    of two and its neighbours, and the longest; all of them for short models."""
    lengths = set(range(1, min(max_length, EVERY_LENGTH_UP_TO) + 1))
    power = EVERY_LENGTH_UP_TO
    while power <= max_length:
        lengths.update(n for n in (power - 1, power, power + 1) if n <= max_length)
        power *= 2
    lengths.add(max_length)
    return sorted(lengths)


def verification_batches(max_length: int, top_id: int, seed: int = 0,
                         rows_per_length: int = 2) -> Iterator[list[list[int]]]:
    """The warm-up rows the server loads with, then random rows at each
    checked length, each batch holding the vocabulary's largest id, then one
    batch of mixed lengths (its shorter rows padded)."""
    rng = np.random.default_rng(seed)
    yield [[top_id], [top_id, 1]]
    lengths = length_ladder(max_length)
    for length in lengths:
        rows = rng.integers(1, top_id + 1, size=(rows_per_length, length)).tolist()
        rows[0][-1] = top_id
        yield rows
    yield [rng.integers(1, top_id + 1, size=length).tolist() for length in lengths[::7]]


class _Exported(tf.Module):
    """The TF1 graph's forward pass as a TF2 function over TF2 variables."""

    def __init__(self, graph_def: Any, variables: dict[str, tuple[str, np.ndarray]],
                 signature: Signature, feeds: dict[str, np.ndarray], input_dtype: Any,
                 length_dtype: Any | None, width: int | None):
        super().__init__(name="exported")
        self._graph_def = graph_def
        self._kinds = {name: kind for name, (kind, _) in variables.items()}
        # Tracked by name (a dict of variables is saved under variables/).
        self.weights = {name: tf.Variable(value, name=name.replace("/", "__"))
                        for name, (_, value) in variables.items()}
        self._signature, self._feeds = signature, feeds
        self._input_dtype, self._length_dtype = input_dtype, length_dtype
        specs = [tf.TensorSpec([None, width], tf.int64, name=IDS)]
        if length_dtype is not None:
            specs.append(tf.TensorSpec([None], tf.int64, name=LENGTHS))
        self.serve = tf.function(self._serve, input_signature=specs)

    def _serve(self, token_ids: tf.Tensor, sequence_length: tf.Tensor | None = None
               ) -> dict[str, tf.Tensor]:
        signature = self._signature
        mapping: dict[str, tf.Tensor] = {signature.input: tf.cast(token_ids, self._input_dtype)}
        if signature.sequence_length_input and sequence_length is not None:
            mapping[signature.sequence_length_input] = tf.cast(sequence_length,
                                                               self._length_dtype)
        for tensor, value in self._feeds.items():
            mapping[tensor] = tf.constant(value)
        for name, variable in self.weights.items():
            # A resource variable's op gives a handle; a reference one, its value.
            mapping[f"{name}:0"] = (tf.identity(variable.handle)
                                    if self._kinds[name] == "VarHandleOp"
                                    else variable.read_value())
        # Each import's functions get names no other import in the process has.
        graph_def = unique_functions(self._graph_def, uuid.uuid4().hex[:12])
        (output,) = tf.compat.v1.import_graph_def(
            graph_def, input_map=mapping, return_elements=[signature.output], name="")
        return {OUTPUT: tf.cast(output, tf.float32)}


def unique_functions(graph_def: Any, suffix: str) -> Any:
    """A copy of `graph_def` with its function library (a TF1 while loop's
    body and condition) renamed with `suffix`. Importing registers the
    functions by name in the process's eager context, where a function of the
    same name and another definition (seen in CI: the LSTM's loop body) is
    refused."""
    copy = type(graph_def)()
    copy.CopyFrom(graph_def)
    graph_def = copy
    renamed = {function.signature.name: f"{function.signature.name}_{suffix}"
               for function in graph_def.library.function}

    def rename(nodes: Any) -> None:
        for node in nodes:
            node.op = renamed.get(node.op, node.op)  # a function called as an op
            for attr in node.attr.values():
                kind = attr.WhichOneof("value")
                if kind == "func":
                    attr.func.name = renamed.get(attr.func.name, attr.func.name)
                elif kind == "list":
                    for function in attr.list.func:
                        function.name = renamed.get(function.name, function.name)

    rename(graph_def.node)
    for function in graph_def.library.function:
        function.signature.name = renamed[function.signature.name]
        rename(function.node_def)
    for gradient in graph_def.library.gradient:
        gradient.function_name = renamed.get(gradient.function_name, gradient.function_name)
    return graph_def


def build_module(runner: TF1Runner, source: ModelSource) -> _Exported:
    """The SavedModel's module: the graph the output needs, its variables' values."""
    graph, signature = runner.graph, source.signature
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(
        graph.as_graph_def(), [signature.output.split(":")[0]])
    reads, kinds = {}, {}
    with graph.as_default():
        for node in graph_def.node:
            if node.op not in VARIABLE_OPS:
                continue
            tensor = graph.get_tensor_by_name(f"{node.name}:0")
            reads[node.name] = (tf.raw_ops.ReadVariableOp(
                resource=tensor, dtype=tf.as_dtype(node.attr["dtype"].type))
                if node.op == "VarHandleOp" else tensor)
            kinds[node.name] = node.op
    values = runner.session.run(reads)
    variables = {name: (kinds[name], value) for name, value in values.items()}
    # Constant feeds become constants of their placeholders' dtypes.
    feeds = {name: np.asarray(value, dtype=graph.get_tensor_by_name(name).dtype.as_numpy_dtype)
             for name, value in signature.feeds.items()}
    input_tensor = graph.get_tensor_by_name(signature.input)
    length_dtype = (graph.get_tensor_by_name(signature.sequence_length_input).dtype
                    if signature.sequence_length_input else None)
    # A model fed at one width (static, or pad_to_max_length) keeps it: a
    # narrower batch could compute something else.
    return _Exported(graph_def, variables, signature, feeds, input_tensor.dtype, length_dtype,
                     runner.fixed_width)


def verify(runner: TF1Runner, source: ModelSource, directory: str) -> tuple[int, int, float]:
    """Rows and lengths checked and the largest difference between the TF1
    model and the SavedModel in `directory`, loaded with plain TensorFlow;
    ExportError when a difference exceeds TOLERANCE."""
    function = tf.saved_model.load(directory).signatures["serving_default"]
    top = max(source.vocabulary.values())
    rows_checked, worst = 0, 0.0
    lengths: set[int] = set()
    for rows in verification_batches(runner.max_length, top):
        ids, row_lengths = to_batch(rows, runner.fixed_width)
        expected = runner.run(ids, row_lengths)
        inputs = {IDS: tf.constant(ids, tf.int64)}
        if source.signature.sequence_length_input:
            inputs[LENGTHS] = tf.constant(row_lengths, tf.int64)
        got = function(**inputs)[OUTPUT].numpy()
        if got.shape != expected.shape:
            raise ExportError(f"the export's output has shape {list(got.shape)}, the "
                              f"model's {list(expected.shape)}")
        worst = max(worst, float(np.max(np.abs(got - expected))))
        rows_checked += len(rows)
        lengths.update(map(len, rows))
        if worst > TOLERANCE:
            raise ExportError(f"the export differs from the model by up to {worst:.3g} "
                              f"(tolerance {TOLERANCE:g}), at lengths "
                              f"{sorted(set(map(len, rows)))}; nothing was written")
    return rows_checked, len(lengths), worst


def export_model(settings: Settings, name: str, out_dir: str,
                 version: int | None = None) -> ExportReport:
    """Write version `version` of model `name` as `out_dir/<version>/`, a
    SavedModel directory in the model-directory contract, once verified."""
    version, path = source_version(settings, name, version)
    target = os.path.join(out_dir, str(version))
    if os.path.exists(target):
        raise ExportError(f"{target!r} exists already; export into another directory")
    files = ModelFiles.from_names(settings.MODEL_FILES)
    try:
        source = validate_model_dir(name, path, files, settings.OOV_TOKEN)
    except ValidationError as error:
        raise ExportError(f"model {name!r} version {version} is not valid: "
                          + "; ".join(error.problems)) from None
    try:
        runner = TF1Runner(source.meta_graph, source.checkpoint_prefix, source.signature)
    except Exception as error:  # TensorFlow raises many kinds; each is a load problem
        raise ExportError(f"model {name!r} version {version} cannot be loaded: "
                          f"{describe_tf_error(error)}") from None
    created = not os.path.isdir(out_dir)
    try:
        with staged(target) as staging:
            try:
                module = build_module(runner, source)
                tf.saved_model.save(module, staging,
                                    signatures={"serving_default": module.serve})
            except Exception as error:  # an op or a graph TensorFlow 2 cannot take over
                raise ExportError(f"model {name!r} version {version} cannot be exported: "
                                  f"{describe_tf_error(error)}") from None
            shutil.copy(os.path.join(path, files.vocabulary),
                        os.path.join(staging, files.vocabulary))
            write_config(os.path.join(staging, files.net_config), source, runner, name,
                         version)
            rows, lengths, worst = verify(runner, source, staging)
    finally:
        runner.close()
        if created and os.path.isdir(out_dir) and not os.listdir(out_dir):
            os.rmdir(out_dir)  # a refused export leaves nothing
    return ExportReport(name, version, target, rows, lengths, worst)


def write_config(path: str, source: ModelSource, runner: TF1Runner, name: str,
                 version: int) -> None:
    """net_config.json: the source's own keys, and the exported signature."""
    try:
        with open(os.path.join(source.directory, os.path.basename(path)),
                  encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError):
        config = {}
    signature = source.signature
    serving: dict[str, Any] = {"input": IDS, "output": OUTPUT,
                               "max_length": runner.max_length,
                               "truncating": signature.truncating}
    if signature.sequence_length_input:
        serving["sequence_length_input"] = LENGTHS
    if signature.oov_token:
        serving["oov_token"] = signature.oov_token
    config["serving"] = serving
    config["exported_from"] = {"model": name, "version": version, "format": "tf1",
                               "checkpoint_format": source.checkpoint_format,
                               "feeds": {k: float(v) for k, v in signature.feeds.items()}}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=2, ensure_ascii=False)
