"""The embedding cache's pure parts: keys, the stored form, the LRU."""
import numpy as np

from embedding_server.serving.cache import Cached, LocalCache, cache_key, make_cache


def test_keys_differ_by_model_version_variant_and_text():
    base = cache_key("bow", 1, (20, None), "hola")
    assert cache_key("bow", 1, (20, None), "hola") == base
    others = [cache_key("lstm", 1, (20, None), "hola"), cache_key("bow", 2, (20, None), "hola"),
              cache_key("bow", 1, (10, None), "hola"), cache_key("bow", 1, (20, None), "Hola"),
              cache_key("bow", 1, (20, (("p", 0.5),)), "hola")]
    assert len({base, *others}) == 6
    assert len(base) == 16


def test_entries_round_trip_exactly_through_bytes():
    vector = np.array([0.1, -2.5, 3e-8], dtype=np.float32)
    entry = Cached(vector, ["hola", "<OOV>", "ñandú"], 3, 1)
    back = Cached.from_bytes(entry.to_bytes())
    assert back.tokens == entry.tokens and (back.words, back.unknown) == (3, 1)
    assert back.vector.dtype == np.float32 and np.array_equal(back.vector, vector)


def test_local_cache_evicts_the_least_recently_used():
    cache = LocalCache(2)
    entry = Cached(np.zeros(2, np.float32), [], 0, 0)
    cache.put_many([(b"a", entry), (b"b", entry)])
    cache.get_many([b"a"])
    cache.put_many([(b"c", entry)])
    assert [e is not None for e in cache.get_many([b"a", b"b", b"c"])] == [True, False, True]


def test_make_cache_picks_the_store():
    assert make_cache("", 0, 60) is None
    assert isinstance(make_cache("", 10, 60), LocalCache)
    assert type(make_cache("redis://127.0.0.1:1/0", 10, 60)).__name__ == "RedisCache"
