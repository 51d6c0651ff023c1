import random

import numpy as np
import pytest
from gensim.utils import simple_preprocess

from embedding_server.serving.text import Vocabulary, encode, to_batch, tokenize, truncate

FIXED_CASES = [
    "", "   ", "123 !!!", "Hola Mundo", "¿Qué tal, señor Müller?", "ÉLAN vital",
    "naïve café crème brûlée", "año 2024: el_año _oculto __x__", "a b cd",
    "supercalifragilisticexpialidocious short", "fifteen_chars_x sixteen_chars_xy",
    "emoji 😀 inside😀word 👍🏽ok", "Москва и Санкт-Петербург", "Ελληνικά κείμενα",
    "日本語のテキスト 中文文本", "العربية نص", "mixed123abc 4you x2y", "tab\tnew\nline",
    "İstanbul ǅemal ß straße", "ﬁne ligature", "don't can't won't", "e-mail co-op",
    "ÀÉÎÕÜ àéîõü", "x_y _xy xy_", "١٢٣ arabic digits ٤٥", "ⅷ roman Ⅻ", "²³ super",
]
ALPHABET = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" "áéíóúñüçàèìòùâêîôûäëïöÄÖÜßøæ"
            "0123456789_" "        " ".,;:!?¿¡'\"-()[]{}/\\@#$%&*+=<>|~`^"
            "😀👍🏽🎉❤️" "дфгхжшщыэюя" "αβγδεζηθ" "日本語中文" "عربي" "한국어" "\t\n" "٣٤")


def varied_strings(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    strings = []
    for _ in range(count):
        words = []
        for _ in range(rng.randint(0, 12)):
            length = rng.choice([1, 2, 3, 5, 8, 14, 15, 16, 20, 30])
            words.append("".join(rng.choice(ALPHABET) for _ in range(length)))
        strings.append(rng.choice([" ", "  ", "-", ", "]).join(words))
    return strings


@pytest.mark.parametrize("text", FIXED_CASES + varied_strings(400))
def test_tokenizer_matches_gensim_simple_preprocess(text):
    assert tokenize(text) == simple_preprocess(text)


def test_tokenizer_word_pattern_is_gensims_over_every_code_point():
    from gensim.utils import PAT_ALPHABETIC

    from embedding_server.serving.text import _WORD
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    words = _WORD.findall(every)
    assert words == [match.group() for match in PAT_ALPHABETIC.finditer(every)]
    assert len(words) > 500  # runs split by digits and symbols throughout


def test_tokenizer_rules():
    assert tokenize("Hola, MUNDO! a año2024 _x __init__ fifteenletterss sixteenletterszz") == [
        "hola", "mundo", "año", "fifteenletterss"]


VOCAB = {"<OOV>": 1, "hola": 2, "mundo": 3, "que": 4}


def test_vocabulary_replaces_unknown_words_with_oov_token():
    vocabulary = Vocabulary(VOCAB, "<OOV>")
    assert vocabulary.lookup(["hola", "xyz", "mundo"]) == (
        ["hola", "<OOV>", "mundo"], [2, 1, 3], 1)
    assert vocabulary.oov_token == "<OOV>"
    assert vocabulary.max_id == 4
    assert len(vocabulary) == 4


def test_vocabulary_drops_unknown_words_without_oov_token():
    vocabulary = Vocabulary({"hola": 2}, "<OOV>")
    assert vocabulary.oov_token is None
    assert vocabulary.lookup(["hola", "xyz"]) == (["hola"], [2], 1)


def test_encode_counts_words_and_unknown_words():
    encoded = encode(["hola xyz mundo", "abc def"], Vocabulary(VOCAB, "<OOV>"), 20, "pre")
    assert (encoded.word_count, encoded.unknown_count) == (5, 3)


def test_truncate_keeps_last_ids_for_pre_and_first_for_post():
    ids = list(range(1, 26))
    assert truncate(ids, 20, "pre") == list(range(6, 26))
    assert truncate(ids, 20, "post") == list(range(1, 21))
    assert truncate([1, 2], 20, "pre") == [1, 2]


def test_to_batch_pads_with_zero_at_the_end():
    ids, lengths = to_batch([[3, 4], [5]], 3)
    assert ids.tolist() == [[3, 4, 0], [5, 0, 0]] and lengths.tolist() == [2, 1]


def test_encode_truncates_and_keeps_tokens_before_truncation():
    vocabulary = Vocabulary(VOCAB, "<OOV>")
    text = " ".join(["hola"] * 3 + ["mundo"] * 3)
    encoded = encode([text, "xyz 123"], vocabulary, 4, "pre")
    assert encoded.tokens == [["hola"] * 3 + ["mundo"] * 3, ["<OOV>"]]
    assert encoded.rows == [[2, 3, 3, 3], [1]]
    ids, lengths = to_batch(encoded.rows, 4)
    assert ids.tolist() == [[2, 3, 3, 3], [1, 0, 0, 0]] and lengths.tolist() == [4, 1]


def test_to_batch_pads_to_longest_row_without_fixed_width():
    vocabulary = Vocabulary(VOCAB, None)
    encoded = encode(["hola mundo que", "hola", "!!!"], vocabulary, 2000, "post")
    ids, lengths = to_batch(encoded.rows, None)
    assert ids.shape == (3, 3) and lengths.tolist() == [3, 1, 0]
    empty, _ = to_batch([[]], None)
    assert empty.shape == (1, 1) and np.all(empty == 0)
