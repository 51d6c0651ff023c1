"""Default runs feed dropout's random tensors zeros instead of drawing them,
only where that changes no output (real TensorFlow graphs)."""
from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from embedding_server.serving.registry import Registry
from embedding_server.serving.signature import Signature
from embedding_server.serving.backends.tf1 import TF1Runner, feedable_random
from embedding_server.settings import Settings

TEXTS = ["hola mundo", "el perro come en la casa", "zzyzx"]


@pytest.fixture(scope="module")
def registry(models_dir):
    registry = Registry(Settings(MODELS_BASE_DIR=str(models_dir),
                                 MODEL_NAMES=("bow-spanish", "lstm-multilingual"),
                                 BATCHING=False, TF_THREADS=1))
    registry.load_all()
    yield registry
    registry.close()


def test_the_demo_dropout_is_skipped_at_keep_probability_one(registry):
    servable = registry.get("bow-spanish")
    assert servable.runner.skips_random is True
    default = servable.embed(TEXTS).vectors
    # Parameters given, even at their defaults, run the whole graph.
    drawn = servable.embed(TEXTS, parameters={"dense_dropout": 1.0,
                                              "title_dropout": 1.0}).vectors
    np.testing.assert_array_equal(default, drawn)


def test_requested_dropout_still_draws_a_mask(registry):
    servable = registry.get("bow-spanish")
    first = servable.embed(TEXTS, parameters={"dense_dropout": 0.5}).vectors
    second = servable.embed(TEXTS, parameters={"dense_dropout": 0.5}).vectors
    assert not np.allclose(first, second)


def test_a_model_without_random_ops_has_nothing_to_skip(registry):
    assert registry.get("lstm-multilingual").runner.skips_random is False


def _noisy_model(directory: str) -> str:
    """Output = ids · W + uniform noise: a random draw that matters at inference."""
    graph = tf.Graph()
    with graph.as_default():
        ids = tf.compat.v1.placeholder(tf.float32, [None, 4], name="ids")
        weights = tf.compat.v1.Variable(np.eye(4, 3, dtype=np.float32), name="weights")
        projected = tf.matmul(ids, weights)
        tf.identity(projected + tf.random.uniform(tf.shape(projected)), name="embedding")
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            prefix = saver.save(session, os.path.join(directory, "model"))
    return prefix


def test_a_random_draw_that_changes_the_output_is_kept(tmp_path):
    prefix = _noisy_model(str(tmp_path))
    signature = Signature(input="ids:0", output="embedding:0", max_length=4)
    runner = TF1Runner(prefix + ".meta", prefix, signature, threads=1)
    try:
        assert runner.skips_random is None  # undecided until a default run
        ids = np.array([[1, 2, 0, 0], [3, 0, 0, 0]])
        lengths = np.array([2, 1])
        first = runner.run(ids, lengths)
        assert runner.skips_random is False
        second = runner.run(ids, lengths)
        assert not np.allclose(first, second)
    finally:
        runner.close()


def test_random_ops_inside_a_loop_are_not_offered_for_feeding():
    graph = tf.Graph()
    with graph.as_default():
        start = tf.compat.v1.placeholder(tf.float32, [None, 3])
        _, looped = tf.compat.v1.while_loop(
            lambda i, x: i < 3,
            lambda i, x: (i + 1, x + tf.random.uniform(tf.shape(x))),
            [tf.constant(0), start])
        outside = tf.random.uniform(tf.shape(start))
        output = looped + outside
    assert feedable_random(output) == [outside]
