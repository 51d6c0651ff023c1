"""Builds the two demo models in the model-directory contract's format.

The weights are random (fixed seeds, so every build is identical): the demo
models show the serving path end to end, not linguistic quality. Because
`bow-spanish` averages word vectors, texts that share words still come out
closer than texts that share none.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Callable

import numpy as np
from ..tensorflow_import import tf

from ..serving.signature import BOW_SPANISH
from ..serving.versions import staged
from .words import LANGUAGES, load_words, multilingual_words

OOV_TOKEN = "<OOV>"
BOW_WORDS = 24000
BOW_EMBEDDING_SIZE = 300
LSTM_WORDS_PER_LANGUAGE = 6000
LSTM_EMBEDDING_SIZE = 256
LSTM_MAX_LENGTH = 2000
DEMO_MODELS = ("bow-spanish", "lstm-multilingual", "bow-spanish-tf2")


def word_mapping(words: list[str]) -> dict[str, int]:
    """Id 0 is padding, 1 the OOV token, then the words in order."""
    mapping = {OOV_TOKEN: 1}
    for word in words:
        mapping.setdefault(word, len(mapping) + 1)
    return mapping


class _Weights:
    """Variables fed their initial values at save time.

    Initialising from placeholders keeps megabytes of constants out of the
    meta graph; the values come from one seeded generator, so builds repeat.
    """

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.feeds: dict[tf.Tensor, np.ndarray] = {}

    def normal(self, name: str, shape: tuple[int, ...], scale: float) -> tf.Variable:
        return self._variable(name, self.rng.normal(0.0, scale, shape))

    def constant(self, name: str, shape: tuple[int, ...], value: float) -> tf.Variable:
        return self._variable(name, np.full(shape, value))

    def _variable(self, name: str, value: np.ndarray) -> tf.Variable:
        initial = tf.compat.v1.placeholder(tf.float32, value.shape, name=name + "_initial")
        self.feeds[initial] = value.astype(np.float32)
        return tf.compat.v1.Variable(initial, name=name)

    def save(self, graph: tf.Graph, directory: str, checkpoint_format: str) -> None:
        """Write the meta graph and a V1 or V2 checkpoint as `tensorflow_model`."""
        version = (tf.compat.v1.train.SaverDef.V1 if checkpoint_format == "V1"
                   else tf.compat.v1.train.SaverDef.V2)
        os.makedirs(directory, exist_ok=True)
        with graph.as_default():
            saver = tf.compat.v1.train.Saver(write_version=version)
            with tf.compat.v1.Session(graph=graph) as session:
                session.run(tf.compat.v1.global_variables_initializer(), self.feeds)
                saver.save(session, os.path.join(directory, "tensorflow_model"),
                           write_state=False)


def _write_json(path: str, value: object, indent: int | None = None) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, ensure_ascii=False, indent=indent)


def _op_name(tensor: str) -> str:
    return tensor.rsplit(":", 1)[0]


def build_bow_spanish(directory: str, checkpoint_format: str = "V1",
                      seed: int = 20) -> None:
    """Averaged word vectors through a dense layer, with the seed's tensor names."""
    mapping = word_mapping(load_words("es")[:BOW_WORDS])
    rows = max(mapping.values()) + 1
    size = BOW_EMBEDDING_SIZE
    signature = BOW_SPANISH
    weights = _Weights(seed)
    graph = tf.Graph()
    with graph.as_default():
        title = tf.compat.v1.placeholder(tf.float32, [None, signature.max_length],
                                         name=_op_name(signature.input))
        dense_keep = tf.compat.v1.placeholder(
            tf.float32, [], name=_op_name(signature.parameters["dense_dropout"]))
        title_keep = tf.compat.v1.placeholder(
            tf.float32, [], name=_op_name(signature.parameters["title_dropout"]))
        with tf.compat.v1.variable_scope("target-embedding/title_sub_network"):
            embeddings = weights.normal("word_embeddings", (rows, size), 1.0)
            kernel = weights.normal("dense/kernel", (size, size), 1 / np.sqrt(size))
            bias = weights.constant("dense/bias", (size,), 0.0)
            ids = tf.cast(title, tf.int32)
            mask = tf.cast(ids > 0, tf.float32)[:, :, None]
            summed = tf.reduce_sum(tf.nn.embedding_lookup(embeddings, ids) * mask, axis=1)
            average = summed / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
            average = tf.nn.dropout(average, rate=1.0 - title_keep)
            hidden = tf.tanh(tf.matmul(tf.nn.dropout(average, rate=1.0 - dense_keep),
                                       kernel) + bias)
        output_scope, output_name = _op_name(signature.output).rsplit("/", 1)
        with tf.name_scope(output_scope + "/"):
            tf.identity(hidden, name=output_name)
    weights.save(graph, directory, checkpoint_format)
    _write_json(os.path.join(directory, "word_mapping.json"), mapping)
    _write_json(os.path.join(directory, "net_config.json"), {
        "model": "bow-spanish",
        "description": "demo: averaged word vectors through a dense layer; "
                       "random weights (seed %d)" % seed,
        "max_title_length": signature.max_length,
        "embedding_size": size,
        "vocabulary_size": len(mapping),
    }, indent=2)


def _lstm_step(x_t: tf.Tensor, h: tf.Tensor, c: tf.Tensor, kernel: tf.Variable,
               bias: tf.Variable) -> tuple[tf.Tensor, tf.Tensor]:
    """One LSTM step from core ops (Keras 3 leaves no tf.compat.v1 RNN cells)."""
    gates = tf.matmul(tf.concat([x_t, h], axis=1), kernel) + bias
    i, j, f, o = tf.split(gates, 4, axis=1)
    c = c * tf.sigmoid(f) + tf.sigmoid(i) * tf.tanh(j)
    return tf.tanh(c) * tf.sigmoid(o), c


def build_lstm_multilingual(directory: str, checkpoint_format: str = "V2",
                            seed: int = 2000) -> None:
    """Embedding + LSTM encoder; the final state of each text is its embedding."""
    mapping = word_mapping(multilingual_words(LSTM_WORDS_PER_LANGUAGE))
    rows = max(mapping.values()) + 1
    size = LSTM_EMBEDDING_SIZE
    weights = _Weights(seed)
    graph = tf.Graph()
    with graph.as_default():
        ids = tf.compat.v1.placeholder(tf.int32, [None, None], name="input/token_ids")
        lengths = tf.compat.v1.placeholder(tf.int32, [None], name="input/sequence_length")
        with tf.compat.v1.variable_scope("encoder"):
            embeddings = weights.normal("word_embeddings", (rows, size), 0.5)
            kernel = weights.normal("lstm/kernel", (2 * size, 4 * size),
                                    1 / np.sqrt(2 * size))
            # Forget-gate bias 1.0, the usual LSTM initialisation.
            bias = weights.constant("lstm/bias", (4 * size,), 0.0)
            bias = bias + tf.constant([0.0] * (2 * size) + [1.0] * size + [0.0] * size)
            steps = tf.transpose(tf.nn.embedding_lookup(embeddings, ids), [1, 0, 2])
            zeros = tf.zeros(tf.stack([tf.shape(ids)[0], size]))

            def body(t, h, c):
                new_h, new_c = _lstm_step(steps[t], h, c, kernel, bias)
                # Rows whose text has ended keep their state: padding is inert.
                alive = (t < lengths)[:, None]
                return t + 1, tf.where(alive, new_h, h), tf.where(alive, new_c, c)

            _, final_h, _ = tf.compat.v1.while_loop(
                lambda t, h, c: t < tf.shape(ids)[1], body, [0, zeros, zeros])
            tf.identity(final_h, name="sentence_embedding")
    weights.save(graph, directory, checkpoint_format)
    _write_json(os.path.join(directory, "word_mapping.json"), mapping)
    _write_json(os.path.join(directory, "net_config.json"), {
        "model": "lstm-multilingual",
        "description": "demo: word embeddings through an LSTM; random weights "
                       "(seed %d)" % seed,
        "languages": list(LANGUAGES),
        "embedding_size": size,
        "vocabulary_size": len(mapping),
        "serving": {
            "input": "input/token_ids:0",
            "sequence_length_input": "input/sequence_length:0",
            "output": "encoder/sentence_embedding:0",
            "max_length": LSTM_MAX_LENGTH,
            "truncating": "post",
            "oov_token": OOV_TOKEN,
        },
    }, indent=2)


class _BowSpanishTF2(tf.Module):
    """bow-spanish's forward pass in TF2, over the same weights."""

    def __init__(self, embeddings: np.ndarray, kernel: np.ndarray, bias: np.ndarray):
        super().__init__(name="bow_spanish")
        self.embeddings = tf.Variable(embeddings, name="word_embeddings")
        self.kernel = tf.Variable(kernel, name="dense_kernel")
        self.bias = tf.Variable(bias, name="dense_bias")

    @tf.function(input_signature=[
        tf.TensorSpec([None, BOW_SPANISH.max_length], tf.int32, name="token_ids")])
    def serve(self, token_ids: tf.Tensor) -> dict[str, tf.Tensor]:
        mask = tf.cast(token_ids > 0, tf.float32)[:, :, None]
        summed = tf.reduce_sum(tf.nn.embedding_lookup(self.embeddings, token_ids) * mask,
                               axis=1)
        average = summed / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
        return {"embedding": tf.tanh(tf.matmul(average, self.kernel) + self.bias)}


def build_bow_spanish_tf2(directory: str, seed: int = 20) -> None:
    """bow-spanish (same seed, same weights) as a TF2 SavedModel taking token ids."""
    with tempfile.TemporaryDirectory() as tf1:
        build_bow_spanish(tf1, checkpoint_format="V2", seed=seed)
        reader = tf.train.load_checkpoint(os.path.join(tf1, "tensorflow_model"))
        scope = "target-embedding/title_sub_network/"
        module = _BowSpanishTF2(*(reader.get_tensor(scope + name) for name in (
            "word_embeddings", "dense/kernel", "dense/bias")))
        tf.saved_model.save(module, directory, signatures={"serving_default": module.serve})
        shutil.copy(os.path.join(tf1, "word_mapping.json"),
                    os.path.join(directory, "word_mapping.json"))
    _write_json(os.path.join(directory, "net_config.json"), {
        "model": "bow-spanish-tf2",
        "description": "demo: bow-spanish's weights (seed %d) as a TF2 SavedModel" % seed,
        "serving": {"input": "token_ids", "output": "embedding",
                    "max_length": BOW_SPANISH.max_length, "truncating": "pre",
                    "oov_token": OOV_TOKEN},
    }, indent=2)


BUILDERS: dict[str, Callable[[str], None]] = {
    "bow-spanish": build_bow_spanish,
    "lstm-multilingual": build_lstm_multilingual,
    "bow-spanish-tf2": build_bow_spanish_tf2,
}


def build_demo_models(base_dir: str, names: tuple[str, ...] = DEMO_MODELS) -> list[str]:
    """Write the named demo models under `base_dir`; returns their directories."""
    os.makedirs(base_dir, exist_ok=True)
    directories = []
    for name in names:
        directory = os.path.join(base_dir, name)
        # Built beside the target and swapped in whole, so a server polling
        # the directory never sees a half-written model or stale files.
        with staged(directory, replace=True) as staging:
            BUILDERS[name](staging)
        directories.append(directory)
    return directories
