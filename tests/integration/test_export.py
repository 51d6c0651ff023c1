"""`export`: TF1 models (the two demo models and one built here with other
tensor names and reference variables) written as TF2 SavedModels, reloaded
with plain `tf.saved_model.load` and compared with the TF1 originals."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from embedding_server.migrate.export import (
    TOLERANCE, ExportError, build_module, export_model, length_ladder, unique_functions, verify)
from embedding_server.serving.backends.tf1 import TF1Runner
from embedding_server.serving.text import to_batch
from embedding_server.serving.validation import ModelFiles, validate_model_dir
from embedding_server.settings import load_settings

CUSTOM = "custom-encoder"
CUSTOM_MAX_LENGTH = 48


def build_custom(directory: str, seed: int = 7) -> None:
    """A variable-length TF1 model unlike the demo's: int32 ids, a lengths
    input, reference (non-resource) variables, a dropout keep-probability
    with a default, tensor names of its own."""
    rng = np.random.default_rng(seed)
    words = [f"palabra{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}" for i in range(400)]
    mapping = {"<OOV>": 1, **{word: i + 2 for i, word in enumerate(words)}}
    graph = tf.Graph()
    with graph.as_default():
        ids = tf.compat.v1.placeholder(tf.int32, [None, None], name="feed/word_ids")
        lengths = tf.compat.v1.placeholder(tf.int32, [None], name="feed/n_words")
        keep = tf.compat.v1.placeholder_with_default(1.0, [], name="knobs/keep")
        table = tf.compat.v1.Variable(rng.normal(size=(len(mapping) + 1, 32)).astype(np.float32),
                                      name="towers/table", use_resource=False)
        kernel = tf.compat.v1.Variable(rng.normal(size=(32, 16)).astype(np.float32) / 6,
                                       name="towers/kernel", use_resource=False)
        mask = tf.sequence_mask(lengths, tf.shape(ids)[1], dtype=tf.float32)[:, :, None]
        vectors = tf.nn.dropout(tf.nn.embedding_lookup(table, ids), rate=1.0 - keep)
        mean = tf.reduce_sum(vectors * mask, 1) / tf.maximum(tf.reduce_sum(mask, 1), 1.0)
        tf.tanh(tf.matmul(mean, kernel), name="heads/sentence")
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            os.makedirs(directory)
            saver.save(session, os.path.join(directory, "tensorflow_model"), write_state=False)
    with open(os.path.join(directory, "word_mapping.json"), "w") as handle:
        json.dump(mapping, handle)
    with open(os.path.join(directory, "net_config.json"), "w") as handle:
        json.dump({"serving": {"input": "feed/word_ids:0", "sequence_length_input":
                               "feed/n_words:0", "output": "heads/sentence:0",
                               "max_length": CUSTOM_MAX_LENGTH,
                               "feeds": {"knobs/keep:0": 1.0},
                               "parameters": {"keep": "knobs/keep:0"}}}, handle)


@pytest.fixture(scope="module")
def sources(models_dir, tmp_path_factory):
    """The demo models plus the custom one, in one models directory."""
    base = tmp_path_factory.mktemp("sources")
    for name in ("bow-spanish", "lstm-multilingual"):
        os.symlink(models_dir / name, base / name)
    build_custom(str(base / CUSTOM))
    return base


def settings_for(base, names="bow-spanish,lstm-multilingual," + CUSTOM):
    return load_settings({"MODELS_BASE_DIR": str(base), "MODEL_NAMES": names})


def tf1_runner(directory):
    source = validate_model_dir(directory.name, str(directory), ModelFiles.from_names(
        load_settings({}).MODEL_FILES), "<OOV>")
    return TF1Runner(source.meta_graph, source.checkpoint_prefix, source.signature), source


@pytest.fixture(scope="module")
def exported(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("exported")
    settings = settings_for(sources)
    return {name: export_model(settings, name, str(out / name))
            for name in ("bow-spanish", "lstm-multilingual", CUSTOM)}


#: Rows of consecutive lengths share a batch (BATCH_MAX_SIZE's default),
#: padded to its longest as the batcher pads them: every length is compared
#: without a model run per length (the LSTM's 2,000 take ~30 s so).
LENGTHS_PER_BATCH = 64


@pytest.mark.parametrize("name, longest", [
    ("bow-spanish", 20),                 # a fixed width of 20
    (CUSTOM, CUSTOM_MAX_LENGTH),
    ("lstm-multilingual", 2000),
])
def test_plain_tensorflow_loads_the_export_and_it_equals_the_tf1_model_at_every_length(
        sources, exported, name, longest):
    report = exported[name]
    assert report.version == 1 and report.max_difference <= TOLERANCE
    runner, source = tf1_runner(sources / name)
    assert runner.max_length == longest
    function = tf.saved_model.load(report.directory).signatures["serving_default"]
    inputs = function.structured_input_signature[1]
    top = max(source.vocabulary.values())
    rng = np.random.default_rng(1)
    worst, compared = 0.0, set()
    for first in range(1, longest + 1, LENGTHS_PER_BATCH):
        lengths = range(first, min(first + LENGTHS_PER_BATCH, longest + 1))
        rows = [rng.integers(1, top + 1, size=length).tolist() for length in lengths]
        rows[0][0] = top
        ids, row_lengths = to_batch(rows, runner.fixed_width)
        feeds = {"token_ids": tf.constant(ids)}
        if "sequence_length" in inputs:
            feeds["sequence_length"] = tf.constant(row_lengths)
        got = function(**feeds)["embedding"].numpy()
        worst = max(worst, float(np.abs(got - runner.run(ids, row_lengths)).max()))
        compared.update(lengths)
    runner.close()
    assert compared == set(range(1, longest + 1))
    assert worst <= TOLERANCE


def test_the_export_is_a_model_directory_the_server_serves_alike(
        sources, exported, make_app):
    original = make_app(base_dir=sources, MODEL_NAMES=f"bow-spanish,{CUSTOM}").test_client()
    out = os.path.dirname(exported[CUSTOM].directory)
    served = make_app(base_dir=os.path.dirname(out),
                      MODEL_NAMES=os.path.basename(out)).test_client()
    status = served.get(f"/api/v1/models/{os.path.basename(out)}").get_json()
    assert status["state"] == "AVAILABLE" and status["format"] == "saved_model"
    texts = ["palabraab palabrazz palabracd", "palabrabb unknownword", "zz"]
    ours = served.post(f"/api/v1/models/{os.path.basename(out)}/embed",
                       json={"texts": texts}).get_json()
    theirs = original.post(f"/api/v1/models/{CUSTOM}/embed", json={"texts": texts}).get_json()
    assert ours["tokens"] == theirs["tokens"]
    assert np.allclose(ours["embeddings"], theirs["embeddings"], atol=TOLERANCE, rtol=0)
    config = json.loads(open(os.path.join(exported[CUSTOM].directory,
                                          "net_config.json")).read())
    assert config["serving"]["sequence_length_input"] == "sequence_length"
    assert config["exported_from"]["feeds"] == {"knobs/keep:0": 1.0}


def test_a_changed_weight_is_refused_by_the_verification(sources, tmp_path):
    runner, source = tf1_runner(sources / "bow-spanish")
    module = build_module(runner, source)
    (name,) = [name for name in module.weights if name.endswith("dense/bias")]
    module.weights[name].assign_add(tf.fill(module.weights[name].shape, 1e-3))
    tf.saved_model.save(module, str(tmp_path / "bad"),
                        signatures={"serving_default": module.serve})
    with pytest.raises(ExportError, match=r"differs from the model by up to 0\.00"):
        verify(runner, source, str(tmp_path / "bad"))
    runner.close()


def test_errors_name_the_problem_and_write_nothing(sources, exported, tmp_path):
    settings = settings_for(sources)
    with pytest.raises(ExportError, match="unknown model 'nope'"):
        export_model(settings, "nope", str(tmp_path / "a"))
    with pytest.raises(ExportError, match="has no version 7 \\(it has 1\\)"):
        export_model(settings, "bow-spanish", str(tmp_path / "b"), version=7)
    target = os.path.dirname(exported["bow-spanish"].directory)
    with pytest.raises(ExportError, match="exists already"):
        export_model(settings, "bow-spanish", target)
    saved = settings_for(os.path.dirname(target), names=os.path.basename(target))
    with pytest.raises(ExportError, match="is a SavedModel already"):
        export_model(saved, os.path.basename(target), str(tmp_path / "c"))
    broken = tmp_path / "models" / "broken"
    broken.mkdir(parents=True)
    (broken / "net_config.json").write_text("{}")
    with pytest.raises(ExportError, match="is not valid: missing file"):
        export_model(settings_for(tmp_path / "models", "broken"), "broken",
                     str(tmp_path / "d"))
    assert not (tmp_path / "d").exists() and not (tmp_path / "a").exists()
    assert sorted(os.listdir(target)) == ["1"]  # no staging directory left behind


def test_the_ladder_covers_short_models_whole_and_long_ones_by_powers():
    assert length_ladder(20) == list(range(1, 21))
    ladder = length_ladder(2000)
    assert ladder[:64] == list(range(1, 65)) and ladder[-1] == 2000
    assert {127, 128, 129, 1023, 1024, 1025} <= set(ladder) and len(ladder) < 90


def test_the_highest_version_by_default_or_the_one_asked(models_dir, tmp_path):
    base = tmp_path / "models"
    shutil.copytree(models_dir / "bow-spanish", base / "bow-spanish" / "1")
    shutil.copytree(models_dir / "bow-spanish-v2", base / "bow-spanish" / "3")
    settings = settings_for(base, names="bow-spanish")
    newest = export_model(settings, "bow-spanish", str(tmp_path / "out"))
    older = export_model(settings, "bow-spanish", str(tmp_path / "out"), version=1)
    assert (newest.version, older.version) == (3, 1)
    config = json.loads((tmp_path / "out" / "3" / "net_config.json").read_text())
    assert config["exported_from"]["checkpoint_format"] == "V2"
    assert sorted(os.listdir(tmp_path / "out")) == ["1", "3"]


def test_a_refused_export_leaves_nothing_behind(sources, tmp_path, monkeypatch):
    import embedding_server.migrate.export as export
    # A tolerance no export can meet: the verification refuses it, as it would a changed weight.
    monkeypatch.setattr(export, "TOLERANCE", -1.0)
    with pytest.raises(ExportError, match="differs from the model by up to 0"):
        export_model(settings_for(sources), "bow-spanish", str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_each_import_of_a_loop_gets_function_names_of_its_own(sources):
    """A while loop's body and condition are functions registered by name in
    the process; every import renames them, so two can never clash."""
    runner, _ = tf1_runner(sources / "lstm-multilingual")
    graph_def = runner.graph.as_graph_def()
    runner.close()
    names = {function.signature.name for function in graph_def.library.function}
    assert names  # the LSTM's loop
    renamed = unique_functions(graph_def, "x1")
    assert {function.signature.name for function in renamed.library.function} == {
        f"{name}_x1" for name in names}
    called = {attr.func.name for node in renamed.node for attr in node.attr.values()
              if attr.WhichOneof("value") == "func"}
    assert called and all(name.endswith("_x1") for name in called)
    assert {function.signature.name for function in graph_def.library.function} == names
