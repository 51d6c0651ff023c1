"""`import-vectors`: a bag-of-words model from a word2vec/fastText text file,
served by the app, equal to numpy's mean of the words' vectors."""
from __future__ import annotations

import gzip
import json
import os

import numpy as np
import pytest

from embedding_server.demo.words import load_words
from embedding_server.migrate.vectors import VectorsError, import_vectors, read_vectors

DIMENSION = 50


def write_vectors(path, words, matrix, compress=False, header=None):
    lines = [header if header is not None else f"{len(words)} {matrix.shape[1]}"]
    # fastText's layout: a space after the last value.
    lines += [word + " " + " ".join(f"{value:.6f}" for value in row) + " "
              for word, row in zip(words, matrix)]
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.fixture(scope="module")
def corpus():
    """~3,000 words, most frequent first, with some the tokenizer would change."""
    words = load_words("es")[:2900]
    odd = ["Madrid", "EEUU", "covid19", "a", "l'eau", "_x", "2024"]
    words = words[:100] + odd + words[100:]
    matrix = np.random.default_rng(3).normal(size=(len(words), DIMENSION)).astype(np.float32)
    # The file holds 6 decimals: compare with what it holds.
    matrix = np.round(matrix, 6)
    return words, matrix, odd


def served(make_app, base, name):
    client = make_app(base_dir=base, MODEL_NAMES=name).test_client()
    status = client.get(f"/api/v1/models/{name}").get_json()
    assert status["state"] == "AVAILABLE", status
    return client


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_embed_is_the_mean_of_the_known_words_vectors(make_app, tmp_path, corpus, compress):
    words, matrix, odd = corpus
    source = write_vectors(tmp_path / ("v.vec.gz" if compress else "v.vec"), words, matrix,
                           compress)
    report = import_vectors(str(source), str(tmp_path / "models"), "vec-es")
    assert (report.version, report.words, report.dimension) == (1, len(words) - 7, DIMENSION)
    assert sum(report.skipped.counts.values()) == 7
    assert "Madrid" in report.skipped.summary() and "covid19" in report.skipped.summary()
    client = served(make_app, tmp_path / "models", "vec-es")
    index = {word: i for i, word in enumerate(words)}
    texts = ["casa perro gato", "El Gobierno de MADRID zzyzx", "zzyzx qwxq", words[2500]]
    answer = client.post("/api/v1/models/vec-es/embed", json={"texts": texts}).get_json()
    for text, tokens, got in zip(texts, answer["tokens"], answer["embeddings"]):
        known = [index[token] for token in tokens if token in index]
        expected = matrix[known].mean(axis=0) if known else np.zeros(DIMENSION)
        assert np.allclose(got, expected, atol=1e-5, rtol=0), text
    # Unknown words are dropped (no OOV token): the third text has no vector.
    assert answer["tokens"][2] == [] and not np.any(answer["embeddings"][2])
    assert answer["tokens"][1] == ["el", "gobierno", "de", "madrid"]


def test_with_an_oov_token_unknown_words_count_as_the_mean_vector(make_app, tmp_path, corpus):
    words, matrix, odd = corpus
    source = write_vectors(tmp_path / "v.vec", words, matrix)
    import_vectors(str(source), str(tmp_path / "models"), "vec-oov", oov_token="<unk>",
                   max_words=1000, normalize=True, max_length=8)
    client = served(make_app, tmp_path / "models", "vec-oov")
    kept = [word for word in words if word not in odd][:1000]
    index = {word: i for i, word in enumerate(words)}
    mean_vector = matrix[[index[word] for word in kept]].mean(axis=0)
    text = f"{kept[0]} {kept[999]} zzyzx {words[-1]}"  # the last word was not kept
    answer = client.post("/api/v1/models/vec-oov/embed", json={"texts": [text]}).get_json()
    assert answer["tokens"][0] == [kept[0], kept[999], "<unk>", "<unk>"]
    expected = (matrix[index[kept[0]]] + matrix[index[kept[999]]] + 2 * mean_vector) / 4
    expected /= np.linalg.norm(expected)
    assert np.allclose(answer["embeddings"][0], expected, atol=1e-5, rtol=0)
    config = json.loads((tmp_path / "models/vec-oov/1/net_config.json").read_text())
    assert config["serving"]["max_length"] == 8 and config["normalize"] is True


def test_a_second_import_is_the_next_version(tmp_path, corpus):
    words, matrix, _ = corpus
    source = write_vectors(tmp_path / "v.vec", words[:300], matrix[:300])
    first = import_vectors(str(source), str(tmp_path / "models"), "m")
    second = import_vectors(str(source), str(tmp_path / "models"), "m", max_words=10)
    assert (first.version, second.version, second.words) == (1, 2, 10)
    assert sorted(os.listdir(tmp_path / "models/m")) == ["1", "2"]


def test_reading_stops_once_enough_words_are_kept(tmp_path, corpus):
    words, matrix, _ = corpus
    source = write_vectors(tmp_path / "v.vec", words, matrix)
    vectors = read_vectors(str(source), max_words=50)
    assert vectors.words == words[:50] and vectors.lines_read == 50
    assert vectors.table.shape == (51, DIMENSION) and not np.any(vectors.table[0])


BAD = {
    "header": ("3 fifty\n", "line 1 must be 'count dimension'"),
    "empty": ("", "line 1 must be 'count dimension'"),
    "ragged": ("2 3\nhola 1 2 3\nadiós 1 2\n", r"line 3 \('adiós'\) has 2 values; the first "
                                               "line says 3"),
    "dimension": ("2 4\nhola 1 2 3\nadiós 1 2 3\n", r"line 2 \('hola'\) has 3 values; the "
                                                    "first line says 4"),
    "number": ("1 2\nhola 1.5 uno\n", r"line 2 \('hola'\): 'uno' is not a number"),
    "infinite": ("1 2\nhola 1.5 inf\n", "has a value that is not finite"),
    "duplicate": ("3 1\nhola 1\nadiós 2\nhola 3\n",
                  r"line 4: 'hola' appears again \(first on line 2\)"),
    "no usable word": ("2 1\nHOLA 1\n123 2\n", "no word of the file can be used: 1 that "
                                               "the tokenizer splits.*123.*; 1 with upper-case"),
    "truncated": ("5 1\nhola 1\nadiós 2\n", "announces 5 words, the file has 2"),
    "no word": ("1 2\n 1 2\n", "line 2 has no word"),
}


@pytest.mark.parametrize("case", BAD)
def test_each_bad_file_gets_its_message_and_nothing_is_written(tmp_path, case):
    content, message = BAD[case]
    source = tmp_path / "bad.vec"
    source.write_text(content, encoding="utf-8")
    with pytest.raises(VectorsError, match=message):
        import_vectors(str(source), str(tmp_path / "models"), "m")
    assert not (tmp_path / "models").exists()


def test_unreadable_inputs(tmp_path):
    with pytest.raises(VectorsError, match="cannot read .*missing.vec.*No such file"):
        import_vectors(str(tmp_path / "missing.vec"), str(tmp_path), "m")
    (tmp_path / "latin1.vec").write_bytes("1 1\nadi\xf3s 1\n".encode("latin-1"))
    with pytest.raises(VectorsError, match="not UTF-8"):
        import_vectors(str(tmp_path / "latin1.vec"), str(tmp_path), "m")
    (tmp_path / "cut.vec.gz").write_bytes(gzip.compress(b"2 1\nhola 1\nadios 2\n")[:-12])
    with pytest.raises(VectorsError, match="cannot read"):
        import_vectors(str(tmp_path / "cut.vec.gz"), str(tmp_path), "m")
    source = write_vectors(tmp_path / "ok.vec", ["hola"], np.ones((1, 2), np.float32))
    with pytest.raises(VectorsError, match="--oov-token 'unk' is a word the tokenizer"):
        import_vectors(str(source), str(tmp_path), "m", oov_token="unk")
    with pytest.raises(VectorsError, match="--max-length must be between 1 and 2000"):
        import_vectors(str(source), str(tmp_path), "m", max_length=0)
