import pytest
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnprocessableEntity

from embedding_server.api.payloads import parse_embed, parse_predict, parse_similarity
from embedding_server.observability.request_log import request_id_from


def test_predict_body_with_every_field():
    body = parse_predict({"title": "Hola", "length": 5, "title_dropout": 0.5,
                          "dense_dropout": 1})
    assert body.title == "Hola" and body.length == 5
    assert body.parameters == {"title_dropout": 0.5, "dense_dropout": 1.0}


def test_predict_body_minimal():
    body = parse_predict({"title": "123 !!!"})
    assert body.length is None and body.parameters == {}


@pytest.mark.parametrize("body, error", [
    ([], BadRequest), ("title", BadRequest), ({}, BadRequest),
    ({"title": 3}, BadRequest), ({"title": "x", "extra": 1}, BadRequest),
    ({"title": "x", "length": 0}, BadRequest), ({"title": "x", "length": 2001}, BadRequest),
    ({"title": "x", "length": "5"}, BadRequest), ({"title": "x", "length": True}, BadRequest),
    ({"title": "x", "length": 2.5}, BadRequest),
    ({"title": "x", "title_dropout": 0}, BadRequest),
    ({"title": "x", "dense_dropout": 1.5}, BadRequest),
    ({"title": "x", "dense_dropout": "1"}, BadRequest),
    ({"title": "x", "dense_dropout": False}, BadRequest),
    ({"title": ""}, UnprocessableEntity), ({"title": "  \n"}, UnprocessableEntity),
])
def test_predict_body_faults(body, error):
    with pytest.raises(error):
        parse_predict(body)


def test_embed_body():
    body = parse_embed({"texts": ["a b", "c"], "length": 3, "normalize": True}, 4)
    assert body.texts == ["a b", "c"] and body.length == 3 and body.normalize is True
    assert parse_embed({"texts": ["x"]}, 1).normalize is False


@pytest.mark.parametrize("body, error", [
    ({}, BadRequest), ({"texts": "abc"}, BadRequest), ({"texts": ["a", 1]}, BadRequest),
    ({"texts": ["a"], "normalize": "yes"}, BadRequest), ({"texts": ["a"], "x": 1}, BadRequest),
    ({"texts": []}, UnprocessableEntity), ({"texts": ["a", ""]}, UnprocessableEntity),
    ({"texts": ["a"] * 5}, RequestEntityTooLarge),
])
def test_embed_body_faults(body, error):
    with pytest.raises(error):
        parse_embed(body, 4)


@pytest.mark.parametrize("parse, message", [
    (lambda: parse_predict({"title": 3}), "'title' must be a string"),
    (lambda: parse_embed({"texts": ["a", "b", " "]}, 4), "'texts[2]' is empty"),
    (lambda: parse_embed({"texts": ["a", "bcd"]}, 4, max_chars=2),
     "'texts[1]' has 3 characters"),
    (lambda: parse_similarity({"source": "x" * 3, "targets": ["a"]}, 4, max_chars=2),
     "'source' has 3 characters"),
    (lambda: parse_similarity({"source": "x", "targets": ["a", None]}, 4),
     "'targets[1]' must be a string"),
])
def test_a_faulty_text_is_named_in_the_message(parse, message):
    with pytest.raises((BadRequest, RequestEntityTooLarge, UnprocessableEntity)) as raised:
        parse()
    assert message in raised.value.description


def test_request_id_is_kept_only_when_safe():
    assert request_id_from("abc-123.x:y_z") == "abc-123.x:y_z"
    generated = request_id_from("bad id\nwith newline")
    assert len(generated) == 32 and generated != request_id_from(None)
    assert len(request_id_from("x" * 129)) == 32
