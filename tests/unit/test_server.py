from embedding_server.config import load_config
from embedding_server.server import (
    GunicornServer, ServeOptions, apply_serving_defaults, cooperative, default_workers,
    gunicorn_settings)

OPTIONS = ServeOptions(host="127.0.0.1", port=8123, workers=2, threads=4, timeout=30)


def test_gunicorn_settings_load_models_after_the_fork():
    settings = gunicorn_settings(OPTIONS)
    assert settings["bind"] == "127.0.0.1:8123"
    assert settings["workers"] == 2 and settings["worker_class"] == "gevent_pywsgi"
    assert settings["preload_app"] is False
    assert settings["timeout"] == settings["graceful_timeout"] == 30
    assert settings["accesslog"] is None


def test_gunicorn_application_takes_the_settings():
    server = GunicornServer(load_config({}), OPTIONS)
    assert server.cfg.bind == ["127.0.0.1:8123"]
    assert server.cfg.workers == 2 and server.cfg.graceful_timeout == 30


def test_tf_threads_follow_the_cores_per_worker():
    config = load_config({})
    apply_serving_defaults(config, ServeOptions("h", 1, workers=1, threads=1, timeout=1))
    assert config.TF_THREADS == default_workers() >= 1
    explicit = load_config({"TF_THREADS": "3"})
    apply_serving_defaults(explicit, OPTIONS)
    assert explicit.TF_THREADS == 3 and explicit.BATCHING is True


def test_sync_workers_turn_batching_off():
    config = load_config({})
    apply_serving_defaults(config, ServeOptions("h", 1, 2, 1, 1, worker_class="sync"))
    assert config.BATCHING is False


def test_cooperative_app_yields_once_the_response_is_closed():
    closed = []

    class Body(list):
        def close(self):
            closed.append(True)

    def app(environ, start_response):
        start_response("200 OK", [])
        return Body([b"a", b"b"])

    body = cooperative(app)({}, lambda status, headers: None)
    assert b"".join(body) == b"ab"
    assert closed == []
    body.close()
    assert closed == [True]


def test_settle_heap_freezes_what_start_up_left():
    import gc

    from embedding_server.heap import settle_heap

    before = gc.get_freeze_count()
    try:
        settle_heap()
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
