"""One test per fault kind, each on a real demo model broken in a private copy."""
import json
import os

import pytest

from embedding_server.serving.errors import ModelNotAvailable, ModelNotFound
from embedding_server.serving.registry import ModelState, Registry
from embedding_server.serving.validation import ModelFiles, ValidationError, validate_model_dir
from embedding_server.settings import Settings
from tests.conftest import copy_model


def problems_of(directory, name="bow-spanish"):
    with pytest.raises(ValidationError) as caught:
        validate_model_dir(name, str(directory), ModelFiles(), "<OOV>")
    return caught.value.problems


@pytest.fixture()
def bow(models_dir, tmp_path):
    return copy_model(models_dir, "bow-spanish", tmp_path / "bow-spanish")


@pytest.fixture()
def lstm(models_dir, tmp_path):
    return copy_model(models_dir, "lstm-multilingual", tmp_path / "lstm-multilingual")


def test_valid_v1_and_v2_checkpoints(models_dir):
    v1 = validate_model_dir("bow-spanish", str(models_dir / "bow-spanish"), ModelFiles(), "<OOV>")
    v2 = validate_model_dir("lstm-multilingual", str(models_dir / "lstm-multilingual"),
                            ModelFiles(), "<OOV>")
    assert (v1.checkpoint_format, v2.checkpoint_format) == ("V1", "V2")
    assert v1.signature.oov_token == "<OOV>" and len(v1.vocabulary) > 20000


def test_missing_directory(tmp_path):
    assert "does not exist" in problems_of(tmp_path / "nope")[0]


def test_empty_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    [problem] = problems_of(tmp_path / "empty")
    assert "is empty" in problem and "tensorflow_model.meta" in problem


def test_missing_meta_graph(bow):
    os.remove(bow / "tensorflow_model.meta")
    assert problems_of(bow) == ["missing file 'tensorflow_model.meta'"]


def test_missing_checkpoint(bow):
    os.remove(bow / "tensorflow_model")
    [problem] = problems_of(bow)
    assert problem.startswith("missing checkpoint") and "(V2)" in problem


def test_v2_index_without_data(lstm):
    os.remove(lstm / "tensorflow_model.data-00000-of-00001")
    assert any("no .data-* shard" in p for p in problems_of(lstm, "lstm-multilingual"))


@pytest.mark.parametrize("model, file_name", [
    ("bow-spanish", "tensorflow_model"),
    ("lstm-multilingual", "tensorflow_model.data-00000-of-00001"),
])
def test_truncated_checkpoint(models_dir, tmp_path, model, file_name):
    directory = copy_model(models_dir, model, tmp_path / model)
    path = directory / file_name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    [problem] = problems_of(directory, model)
    assert "cannot be read; it may be truncated or corrupt" in problem


def test_garbage_meta_graph(bow):
    (bow / "tensorflow_model.meta").write_bytes(b"\xff\xfe not a graph \x00\x01" * 50)
    assert problems_of(bow) == [
        "tensorflow_model.meta is not a TensorFlow MetaGraphDef (neither binary nor text protobuf)"]


def test_empty_meta_graph(bow):
    (bow / "tensorflow_model.meta").write_bytes(b"")
    assert problems_of(bow) == ["tensorflow_model.meta holds no graph (it has no nodes)"]


def test_bad_json(bow):
    (bow / "net_config.json").write_text("{not json")
    [problem] = problems_of(bow)
    assert problem.startswith("net_config.json is not valid JSON")


def test_net_config_not_an_object(bow):
    (bow / "net_config.json").write_text("[1]")
    assert problems_of(bow) == ["net_config.json must be a JSON object"]


def test_vocabulary_not_a_mapping(bow):
    (bow / "word_mapping.json").write_text('["hola", "mundo"]')
    assert problems_of(bow) == [
        "word_mapping.json must be a JSON object of word -> id, not a JSON list"]


@pytest.mark.parametrize("mapping", [{"a": -1, "b": 2}, {"a": "1"}, {"a": 1.5}, {"a": True}])
def test_vocabulary_ids_must_be_non_negative_integers(bow, mapping):
    (bow / "word_mapping.json").write_text(json.dumps(mapping))
    [problem] = problems_of(bow)
    assert "not non-negative whole-number ids" in problem


def test_empty_vocabulary(bow):
    (bow / "word_mapping.json").write_text("{}")
    assert problems_of(bow) == ["word_mapping.json is empty"]


def test_signature_tensor_absent_from_graph(lstm):
    config = json.loads((lstm / "net_config.json").read_text())
    config["serving"]["output"] = "encoder/nothing_here:0"
    (lstm / "net_config.json").write_text(json.dumps(config))
    assert problems_of(lstm, "lstm-multilingual") == [
        "tensorflow_model.meta has no tensor 'encoder/nothing_here:0' named by the signature"]


def test_signature_input_must_be_a_placeholder(lstm):
    config = json.loads((lstm / "net_config.json").read_text())
    config["serving"]["input"] = "encoder/sentence_embedding:0"
    (lstm / "net_config.json").write_text(json.dumps(config))
    assert "not a placeholder" in problems_of(lstm, "lstm-multilingual")[0]


def test_unknown_model_without_serving_section(bow, tmp_path):
    renamed = bow.rename(tmp_path / "other")
    assert 'no "serving" section' in problems_of(renamed, "other")[0]


def test_every_problem_is_reported_together(bow):
    os.remove(bow / "tensorflow_model.meta")
    (bow / "word_mapping.json").write_text("[]")
    (bow / "net_config.json").write_text("{")
    problems = problems_of(bow)
    assert len(problems) == 3


def test_vocabulary_beyond_the_embedding_matrix_fails_at_load(bow):
    mapping = json.loads((bow / "word_mapping.json").read_text())
    mapping["palabranueva"] = 10 ** 6
    (bow / "word_mapping.json").write_text(json.dumps(mapping))
    registry = Registry(Settings(MODELS_BASE_DIR=str(bow.parent), MODEL_NAMES=("bow-spanish",)))
    registry.load_all()
    entry = registry.entry("bow-spanish")
    assert entry.state is ModelState.FAILED
    assert "largest id (1000000)" in entry.error and "is not in [0, 24002)" in entry.error


def test_a_failing_model_leaves_the_others_available(models_dir, bow):
    (bow / "tensorflow_model.meta").write_bytes(b"junk")
    (bow.parent / "lstm-multilingual").symlink_to(models_dir / "lstm-multilingual")
    registry = Registry(Settings(MODELS_BASE_DIR=str(bow.parent),
                                 MODEL_NAMES=("bow-spanish", "lstm-multilingual", "absent")))
    registry.load_all()
    states = {e.name: e.state for e in registry.entries()}
    assert states == {"bow-spanish": ModelState.FAILED,
                      "lstm-multilingual": ModelState.AVAILABLE,
                      "absent": ModelState.FAILED}
    assert registry.get("lstm-multilingual").embed(["hola"]).vectors.shape == (1, 256)
    with pytest.raises(ModelNotAvailable, match="FAILED"):
        registry.get("bow-spanish")
    with pytest.raises(ModelNotFound):
        registry.get("nope")
    registry.close()


def test_registry_with_every_model_failing_still_answers(tmp_path):
    registry = Registry(Settings(MODELS_BASE_DIR=str(tmp_path), MODEL_NAMES=("a", "b")))
    registry.load_all()
    assert [e.state for e in registry.entries()] == [ModelState.FAILED] * 2
    assert registry.entry("a").status()["embedding_dim"] is None
