"""TF1 backend: a meta graph and checkpoint run through `tf.compat.v1`.

Each model gets its own graph and session. Tensors, dtypes and the feed list
are resolved once at load, so a request only fills arrays and calls a
pre-built session callable.

Dropout draws its random mask on every run, even at keep-probability 1.0
where the mask keeps everything: a third of a 64-text bow-spanish run went
to TensorFlow's random op and the mask. A run with the default feeds feeds
those random tensors zeros instead (the mask then keeps everything, as it
would have), which prunes the random ops from the run; the first such run
(the load's warm-up) checks that this changes no output, and otherwise the
model keeps drawing.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
from ...tensorflow_import import tf
from tensorflow.core.protobuf import config_pb2

from ..signature import Signature

#: Random ops whose output may be fed instead of drawn: dropout's mask.
RANDOM_OPS = ("RandomUniform",)


class TF1Runner:
    """Runs a batch of padded token ids through one TF1 graph."""

    format = "tf1"
    takes_text = False

    def __init__(self, meta_graph: Any, checkpoint_prefix: str, signature: Signature,
                 threads: int = 0):
        """`threads` > 0 gives each op that many threads and runs the graph in
        the calling thread (a negative inter-op count): with one worker process
        per core, handing ops to another pool only adds wake-ups. 0 leaves both
        pools to TensorFlow."""
        self.graph = tf.Graph()
        session_config = tf.compat.v1.ConfigProto(
            intra_op_parallelism_threads=threads,
            inter_op_parallelism_threads=-1 if threads else 0)
        with self.graph.as_default():
            saver = tf.compat.v1.train.import_meta_graph(meta_graph, clear_devices=True)
            self.session = tf.compat.v1.Session(graph=self.graph, config=session_config)
            try:
                if saver is not None:
                    saver.restore(self.session, checkpoint_prefix)
                self._resolve(signature)
            except Exception:
                self.session.close()
                raise

    def _resolve(self, signature: Signature) -> None:
        graph = self.graph
        input_tensor = graph.get_tensor_by_name(signature.input)
        self.input_dtype = input_tensor.dtype.as_numpy_dtype
        shape = input_tensor.shape
        static_width = shape[1] if shape.rank == 2 else None
        self.max_length = min(signature.max_length, static_width or signature.max_length)
        if static_width is not None:
            self.fixed_width = static_width
        else:
            self.fixed_width = self.max_length if signature.pad_to_max_length else None

        feed_tensors = [input_tensor]
        self._length_dtype = None
        if signature.sequence_length_input:
            length_tensor = graph.get_tensor_by_name(signature.sequence_length_input)
            self._length_dtype = length_tensor.dtype.as_numpy_dtype
            feed_tensors.append(length_tensor)
        self._constant_feeds: list[np.ndarray] = []
        for name, value in signature.feeds.items():
            tensor = graph.get_tensor_by_name(name)
            feed_tensors.append(tensor)
            self._constant_feeds.append(np.asarray(value, dtype=tensor.dtype.as_numpy_dtype))
        constant_names = list(signature.feeds)
        self._parameter_slot = {parameter: constant_names.index(tensor)
                                for parameter, tensor in signature.parameters.items()}
        output = graph.get_tensor_by_name(signature.output)
        self._run = session_callable(self.session, feed_tensors, output)
        random = feedable_random(output)
        self._run_without_random: Callable[..., Any] | None = None
        if random:
            try:
                self._run_without_random = session_callable(self.session,
                                                            feed_tensors + random, output)
            except Exception:  # a speed-up only: never a reason for a load to fail
                random = []
        self._random_shapes = [(tuple(tensor.shape[1:]), tensor.dtype.as_numpy_dtype)
                               for tensor in random]
        #: Whether default runs feed zeros for the random ops; decided by the
        #: first default run (None until then).
        self.skips_random: bool | None = None if random else False

    def run(self, ids: np.ndarray, lengths: np.ndarray,
            parameters: Mapping[str, float] | None = None) -> np.ndarray:
        """Embeddings for a batch of ids, shape [batch, dim], float32."""
        feeds: list[Any] = [ids.astype(self.input_dtype, copy=False)]
        if self._length_dtype is not None:
            feeds.append(lengths.astype(self._length_dtype, copy=False))
        constants = self._constant_feeds
        if parameters:
            constants = list(constants)
            for name, value in parameters.items():
                slot = self._parameter_slot[name]
                constants[slot] = np.asarray(value, dtype=constants[slot].dtype)
        feeds.extend(constants)
        if not parameters and self.skips_random is not False:
            return self._run_default(feeds, len(ids))
        return np.asarray(self._run(*feeds)[0], dtype=np.float32)

    def _run_default(self, feeds: list[Any], batch: int) -> np.ndarray:
        zeros = [np.zeros((batch, *shape), dtype) for shape, dtype in self._random_shapes]
        without_random = self._run_without_random
        assert without_random is not None  # skips_random is False without it
        if self.skips_random:
            return np.asarray(without_random(*feeds, *zeros)[0], dtype=np.float32)
        drawn = np.asarray(self._run(*feeds)[0], dtype=np.float32)
        try:
            fed = np.asarray(without_random(*feeds, *zeros)[0], dtype=np.float32)
            self.skips_random = bool(np.allclose(drawn, fed, rtol=1e-5, atol=1e-6))
        except Exception:  # a random op TensorFlow will not take a feed for
            self.skips_random = False
        return drawn

    def run_texts(self, texts: list[str]) -> np.ndarray:
        raise TypeError("a TF1 model is fed token ids, not text")

    def close(self) -> None:
        """Close the session and drop the graph, so a replaced version's memory
        can be returned (the callable holds the session, the session the graph)."""
        self.session.close()
        self._run = self._run_without_random = _closed_session
        self.graph = None


def feedable_random(output: tf.Tensor) -> list[tf.Tensor]:
    """The random tensors `output` depends on that a batch-sized array can
    replace: [batch, known dims...], outside any while loop or cond (a
    tensor in a loop cannot be fed)."""
    found, seen, stack = [], set(), [output.op]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        if op.type in RANDOM_OPS and getattr(op, "_control_flow_context", None) is None:
            tensor = op.outputs[0]
            shape = tensor.shape
            if (shape.rank and shape[0] is None
                    and all(dim is not None for dim in shape[1:])):
                found.append(tensor)
        stack.extend(source.op for source in op.inputs)
        stack.extend(op.control_inputs)
    return sorted(found, key=lambda tensor: tensor.name)


def _closed_session(*feeds: Any) -> list[np.ndarray]:
    raise RuntimeError("this model version has been unloaded")


def session_callable(session: tf.compat.v1.Session, feeds: list[tf.Tensor],
                     output: tf.Tensor) -> Callable[..., list[np.ndarray]]:
    """A callable running `output` from positional feeds, resolved once in C++.

    `Session.make_callable` with a feed list still goes through `Session.run`
    and rebuilds its feed and fetch handlers on every call; the callable made
    from CallableOptions (what Keras' TF1 backend used) does not: a batch-1
    run of bow-spanish fell from ~190 to ~50-70 us. The public path is kept
    for a TensorFlow that drops the private method.
    """
    make = getattr(session, "_make_callable_from_options", None)
    if make is not None:
        options = config_pb2.CallableOptions()
        options.feed.extend(tensor.name for tensor in feeds)
        options.fetch.append(output.name)
        return make(options)
    run = session.make_callable(output, feeds)
    return lambda *values: [run(*values)]


_NOISE = ("Graph execution error", "Detected at node", "Node:", "[[", "Original",
          "File ", "Traceback")


def describe_tf_error(error: BaseException) -> str:
    """The line of a TensorFlow error that says what went wrong.

    OpError messages carry node names, stack excerpts and blank lines around
    the one sentence an operator needs.
    """
    message = getattr(error, "message", None) or str(error)
    for line in message.splitlines():
        line = line.strip()
        if line and not line.startswith(_NOISE):
            return line
    return type(error).__name__
