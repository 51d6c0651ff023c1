import pytest

from embedding_server.api.openai import EMBEDDINGS
from embedding_server.api.requests import (
    EMBED, PREDICT, SIMILARITY, TOKENIZE, InvalidRequest, Limits)
from embedding_server.api.tfserving import PREDICT as TF_PREDICT
from embedding_server.observability.request_log import request_id_from

LIMITS = Limits(max_texts=4, max_chars=20000)


def parse_predict(body):
    return PREDICT.parse(body, LIMITS)


def parse_embed(body, max_texts=4, max_chars=20000):
    return EMBED.parse(body, Limits(max_texts, max_chars))


def test_predict_body_with_every_field():
    body = parse_predict({"title": "Hola", "length": 5, "title_dropout": 0.5,
                          "dense_dropout": 1})
    assert body["title"] == "Hola" and body["length"] == 5
    assert (body["title_dropout"], body["dense_dropout"]) == (0.5, 1.0)


def test_predict_body_minimal():
    body = parse_predict({"title": "123 !!!"})
    assert body["length"] is None and body["title_dropout"] is None
    assert body["truncate"] is False


@pytest.mark.parametrize("body, status", [
    ([], 400), ("title", 400), ({}, 400),
    ({"title": 3}, 400), ({"title": "x", "extra": 1}, 400),
    ({"title": "x", "length": 0}, 400), ({"title": "x", "length": 2001}, 400),
    ({"title": "x", "length": "5"}, 400), ({"title": "x", "length": True}, 400),
    ({"title": "x", "length": 2.5}, 400),
    ({"title": "x", "title_dropout": 0}, 400),
    ({"title": "x", "dense_dropout": 1.5}, 400),
    ({"title": "x", "dense_dropout": "1"}, 400),
    ({"title": "x", "dense_dropout": False}, 400),
    ({"title": "x", "truncate": "yes"}, 400),
    ({"title": ""}, 422), ({"title": "  \n"}, 422),
])
def test_predict_body_faults(body, status):
    with pytest.raises(InvalidRequest) as raised:
        parse_predict(body)
    assert raised.value.status == status


def test_embed_body():
    body = parse_embed({"texts": ["a b", "c"], "length": 3, "normalize": True})
    assert body["texts"] == ["a b", "c"] and body["length"] == 3 and body["normalize"]
    assert parse_embed({"texts": ["x"]}, 1)["normalize"] is False
    assert parse_embed({"texts": ["x"]})["encoding_format"] == "float"


@pytest.mark.parametrize("body, status", [
    ({}, 400), ({"texts": "abc"}, 400), ({"texts": ["a", 1]}, 400),
    ({"texts": ["a"], "normalize": "yes"}, 400), ({"texts": ["a"], "x": 1}, 400),
    ({"texts": ["a"], "encoding_format": "hex"}, 400),
    ({"texts": []}, 422), ({"texts": ["a", ""]}, 422),
    ({"texts": ["a"] * 5}, 413),
])
def test_embed_body_faults(body, status):
    with pytest.raises(InvalidRequest) as raised:
        parse_embed(body)
    assert raised.value.status == status


@pytest.mark.parametrize("parse, message, field", [
    (lambda: parse_predict({"title": 3}), "'title' must be a string", "title"),
    (lambda: parse_embed({"texts": ["a", "b", " "]}), "'texts[2]' is empty", "texts"),
    (lambda: parse_embed({"texts": ["a", "bcd"]}, max_chars=2),
     "'texts[1]' has 3 characters", "texts"),
    (lambda: SIMILARITY.parse({"source": "x" * 3, "targets": ["a"]}, Limits(4, 2)),
     "'source' has 3 characters", "source"),
    (lambda: SIMILARITY.parse({"source": "x", "targets": ["a", None]}, LIMITS),
     "'targets[1]' must be a string", "targets"),
    (lambda: parse_embed({"texts": ["a"], "nope": 1}), "unknown field(s): nope", "nope"),
])
def test_a_faulty_field_is_named(parse, message, field):
    with pytest.raises(InvalidRequest) as raised:
        parse()
    assert message in raised.value.message and raised.value.field == field


def test_truncate_cuts_every_text_of_every_form_to_max_chars():
    limits = Limits(4, 3)
    assert PREDICT.parse({"title": "abcdef", "truncate": True}, limits)["title"] == "abc"
    assert EMBED.parse({"texts": ["abcdef"], "truncate": True}, limits)["texts"] == ["abc"]
    assert TOKENIZE.parse({"texts": ["abcd"], "truncate": True}, limits)["texts"] == ["abc"]
    assert EMBEDDINGS.parse({"input": "abcd", "model": "m", "truncate": True},
                            limits)["input"] == (["abc"], [])
    assert TF_PREDICT.parse({"instances": ["abcd"], "truncate": True},
                            limits)["instances"] == ["abc"]
    with pytest.raises(InvalidRequest) as raised:
        TF_PREDICT.parse({"instances": ["abcd"]}, limits)
    assert raised.value.status == 413


def test_a_text_cut_to_blank_is_still_empty():
    with pytest.raises(InvalidRequest) as raised:
        EMBED.parse({"texts": ["   abc"], "truncate": True}, Limits(4, 3))
    assert raised.value.status == 422


def test_the_similarity_source_counts_against_max_batch_texts():
    with pytest.raises(InvalidRequest) as raised:
        SIMILARITY.parse({"source": "x", "targets": ["a"] * 4}, LIMITS)
    assert raised.value.status == 413 and "at most 3" in raised.value.message
    with pytest.raises(InvalidRequest) as raised:
        SIMILARITY.parse({"source": "x", "targets": ["a"]}, Limits(1, 10))
    assert raised.value.status == 413


def test_openai_input_forms():
    def parse(value):
        return EMBEDDINGS.parse({"input": value, "model": "m"}, LIMITS)["input"]

    assert parse("hi") == (["hi"], [])
    assert parse(["a", "b"]) == (["a", "b"], [])
    assert parse([1, 2]) == ([], [[1, 2]])
    assert parse([[1], [2, 3]]) == ([], [[1], [2, 3]])
    for bad, status in (([["a"]], 400), ([[1], "a"], 400), ([], 422), ("", 422),
                        ([[1]] * 5, 413), (["a"] * 5, 413), (True, 400)):
        with pytest.raises(InvalidRequest) as raised:
            parse(bad)
        assert raised.value.status == status and raised.value.field == "input", bad


def test_form_schemas_say_what_the_checks_enforce():
    schema = EMBED.schema()
    assert schema["required"] == ["texts"] and schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(EMBED.fields)
    texts = schema["properties"]["texts"]
    assert texts["minItems"] == 1 and texts["items"]["pattern"] == r"\S"
    assert schema["properties"]["encoding_format"]["enum"] == ["float", "base64"]
    length = PREDICT.schema()["properties"]["length"]
    with pytest.raises(InvalidRequest):
        parse_predict({"title": "x", "length": length["maximum"] + 1})
    assert parse_predict({"title": "x", "length": length["maximum"]})["length"] \
        == length["maximum"]


def test_request_id_is_kept_only_when_safe():
    assert request_id_from("abc-123.x:y_z") == "abc-123.x:y_z"
    generated = request_id_from("bad id\nwith newline")
    assert len(generated) == 32 and generated != request_id_from(None)
    assert len(request_id_from("x" * 129)) == 32


@pytest.mark.parametrize("form", [PREDICT, EMBED, SIMILARITY, TOKENIZE, EMBEDDINGS, TF_PREDICT],
                         ids=["predict", "embed", "similarity", "tokenize", "openai",
                              "tfserving"])
def test_null_is_accepted_exactly_where_the_schema_says_nullable(form):
    """The spec and the checks are one definition: a field the schema does
    not mark x-nullable refuses null with 400, and a nullable one takes it."""
    for name, field in form.fields.items():
        body = {"title": "x", "texts": ["x"], "source": "x", "targets": ["x"],
                "input": "x", "model": "m", "instances": ["x"]}
        body = {key: value for key, value in body.items() if key in form.fields}
        if name in form.required:
            continue
        body[name] = None
        if field.schema().get("x-nullable"):
            form.parse(body, LIMITS)
        else:
            with pytest.raises(InvalidRequest) as raised:
                form.parse(body, LIMITS)
            assert raised.value.status == 400 and raised.value.field == name, name
