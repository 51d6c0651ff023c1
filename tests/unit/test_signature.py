import pytest

from embedding_server.serving.signature import (
    BOW_SPANISH, SignatureError, parse_serving_section, resolve_signature, tensor_name)

SECTION = {
    "input": "input/token_ids",
    "sequence_length_input": "input/sequence_length:0",
    "output": "encoder/sentence_embedding:0",
    "max_length": 512,
    "truncating": "pre",
    "feeds": {"config/keep_prob": 1},
    "parameters": {"keep": "config/keep_prob:0"},
    "oov_token": "[UNK]",
}


def test_bow_spanish_uses_its_built_in_profile_without_a_serving_section():
    signature = resolve_signature("bow-spanish", {"max_title_length": 20})
    assert signature is BOW_SPANISH
    assert signature.input == "input/title:0"
    assert signature.max_length == 20 and signature.truncating == "pre"
    assert signature.feeds == {"config/dense_dropout_keep_prob:0": 1.0,
                               "config/title_dropout_keep_prob:0": 1.0}


def test_a_serving_section_can_name_the_profile():
    assert resolve_signature("any-name", {"serving": {"profile": "bow-spanish"}}) is BOW_SPANISH


def test_other_models_need_a_serving_section():
    with pytest.raises(SignatureError, match='no "serving" section'):
        resolve_signature("lstm-multilingual", {})


def test_serving_section_is_parsed_and_tensor_names_normalised():
    signature = parse_serving_section(SECTION)
    assert signature.input == "input/token_ids:0"
    assert signature.sequence_length_input == "input/sequence_length:0"
    assert signature.output == "encoder/sentence_embedding:0"
    assert signature.max_length == 512 and signature.truncating == "pre"
    assert signature.feeds == {"config/keep_prob:0": 1.0}
    assert signature.parameters == {"keep": "config/keep_prob:0"}
    assert signature.oov_token == "[UNK]"
    assert signature.tensor_names() == ["input/token_ids:0", "encoder/sentence_embedding:0",
                                        "config/keep_prob:0", "input/sequence_length:0"]


def test_defaults_of_optional_keys():
    signature = parse_serving_section({"input": "a", "output": "b"})
    assert signature.max_length == 2000 and signature.truncating == "post"
    assert signature.sequence_length_input is None and signature.oov_token is None
    assert not signature.pad_to_max_length


def test_every_problem_is_reported_at_once():
    with pytest.raises(SignatureError) as caught:
        parse_serving_section({"inptu": "x", "output": 3, "max_length": 0,
                               "truncating": "middle", "pad_to_max_length": "yes",
                               "feeds": {"a": "one"}, "parameters": {"p": "b"}})
    problems = caught.value.problems
    assert any("unknown key 'inptu'" in p for p in problems)
    assert any('"serving.input" is required' in p for p in problems)
    assert any('"serving.output" must be a non-empty string' in p for p in problems)
    assert any("max_length" in p for p in problems)
    assert any("truncating" in p for p in problems)
    assert any("pad_to_max_length" in p for p in problems)
    assert any('"serving.feeds"' in p for p in problems)
    assert any('"serving.parameters.p"' in p for p in problems)


@pytest.mark.parametrize("section, message", [
    ([], "must be a JSON object"),
    ({"profile": "nope"}, "unknown profile"),
    ({"input": "a", "output": "b", "parameters": ["x"]}, "must map request parameter"),
    ({"input": "a", "output": "b", "max_length": True}, "max_length"),
])
def test_malformed_sections(section, message):
    with pytest.raises(SignatureError, match=message):
        parse_serving_section(section)


def test_tensor_name():
    assert tensor_name("a/b") == "a/b:0"
    assert tensor_name("a/b:1") == "a/b:1"
