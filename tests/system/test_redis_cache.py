"""The Redis embedding cache against a real redis-server: shared, and never a dependency."""
from __future__ import annotations

import time

from embedding_server.app import create_app
from embedding_server.serving.cache import RedisCache
from tests.conftest import test_environ
from tests.metrics import metric_value
from tests.system.processes import start_redis, stop

BOW = "/api/v1/models/bow-spanish"


def hits(app) -> float:
    return metric_value(app, "embedding_cache_lookups_total", model="bow-spanish",
                        result="hit")


def test_redis_cache_is_shared_and_survives_an_outage(models_dir, tmp_path):
    redis, port = start_redis(tmp_path)
    environ = test_environ(models_dir, tmp_path / "api.log", MODEL_NAMES="bow-spanish",
                           CACHE_URL=f"redis://127.0.0.1:{port}/0", CACHE_TTL_SECONDS="60")
    one, two = create_app(environ), create_app(environ)
    try:
        body = {"texts": ["el gato duerme en la casa"]}
        first = one.test_client().post(BOW + "/embed", json=body).get_json()
        before = hits(two)
        second = two.test_client().post(BOW + "/embed", json=body).get_json()
        assert hits(two) == before + 1  # computed by one app, a hit in the other
        assert second["embeddings"] == first["embeddings"]

        stop(redis)  # Redis goes away: requests still succeed, uncached
        errors = metric_value(one, "embedding_cache_errors_total")
        for _ in range(3):
            down = one.test_client().post(BOW + "/embed", json={"texts": ["sin caché"]})
            assert down.status_code == 200
        assert metric_value(one, "embedding_cache_errors_total") > errors
        assert "the Redis cache is unavailable" in (tmp_path / "api.log").read_text()

        redis, _ = start_redis(tmp_path, port)  # it comes back: caching resumes
        time.sleep(RedisCache.RETRY_S + 0.1)  # once the retry pause is over
        one.test_client().post(BOW + "/embed", json={"texts": ["de vuelta"]})
        before = hits(two)
        two.test_client().post(BOW + "/embed", json={"texts": ["de vuelta"]})
        assert hits(two) == before + 1
        assert "caching resumes" in (tmp_path / "api.log").read_text()
    finally:
        one.extensions["registry"].close()
        two.extensions["registry"].close()
        stop(redis)
