import pytest

from embedding_server.settings import load_settings
from embedding_server.worker.gunicorn import (
    GunicornServer, ServeOptions, apply_serving_defaults, cooperative, default_workers,
    gunicorn_settings, yield_to_sockets)

OPTIONS = ServeOptions(host="127.0.0.1", port=8123, workers=2, threads=4, timeout=30)


def test_gunicorn_settings_load_models_after_the_fork():
    settings = gunicorn_settings(OPTIONS, load_settings({}))
    assert settings["bind"] == "127.0.0.1:8123"
    assert settings["workers"] == 2 and settings["worker_class"] == "gevent_pywsgi"
    assert settings["preload_app"] is False
    assert settings["timeout"] == settings["graceful_timeout"] == 30
    assert settings["accesslog"] is None


def test_gunicorn_application_takes_the_settings():
    server = GunicornServer(load_settings({}), OPTIONS)
    assert server.cfg.bind == ["127.0.0.1:8123"]
    assert server.cfg.workers == 2 and server.cfg.graceful_timeout == 30


def test_tf_threads_follow_the_cores_per_worker():
    config = apply_serving_defaults(load_settings({}), ServeOptions(
        "h", 1, workers=1, threads=1, timeout=1))
    assert config.TF_THREADS == default_workers() >= 1
    explicit = apply_serving_defaults(load_settings({"TF_THREADS": "3"}), OPTIONS)
    assert explicit.TF_THREADS == 3 and explicit.BATCHING is True


def test_sync_workers_turn_batching_off():
    config = apply_serving_defaults(load_settings({}), ServeOptions(
        "h", 1, 2, 1, 1, worker_class="sync"))
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


def test_the_switch_after_a_response_lets_ready_sockets_go_first():
    # A greenlet that yields again and again (a connection whose answers
    # never block, each next request already waiting) must not keep one whose
    # socket has become readable waiting for its turn.
    import gevent
    from gevent import socket as gsocket

    order = []
    waiting, sender = gsocket.socketpair()
    try:
        def connection_waiting():
            waiting.recv(1)
            order.append("waiting")

        def connection_busy():
            for turn in range(3):
                yield_to_sockets()
                order.append(f"busy {turn}")

        first = gevent.spawn(connection_waiting)
        gevent.sleep(0.01)  # it is blocked on its socket now
        sender.sendall(b"x")
        second = gevent.spawn(connection_busy)
        gevent.joinall([first, second], timeout=5)
        assert order.index("waiting") < order.index("busy 1"), order
        assert len(order) == 4
    finally:
        waiting.close()
        sender.close()


def test_settle_heap_freezes_what_start_up_left():
    import gc

    from embedding_server.worker.heap import settle_heap

    before = gc.get_freeze_count()
    try:
        settle_heap()
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_the_http_settings_reach_gunicorn_and_the_handler():
    from embedding_server.worker.gunicorn import http_policy

    config = load_settings({"KEEPALIVE_TIMEOUT": "2.5", "HEADER_TIMEOUT": "4",
                            "BODY_TIMEOUT": "6", "LIMIT_REQUEST_LINE": "100",
                            "LIMIT_REQUEST_FIELDS": "7", "LIMIT_REQUEST_FIELD_SIZE": "300",
                            "WORKER_CONNECTIONS": "50"})
    settings = gunicorn_settings(OPTIONS, config)
    assert settings["keepalive"] == 3 and settings["worker_connections"] == 50
    assert (settings["limit_request_line"], settings["limit_request_fields"],
            settings["limit_request_field_size"]) == (100, 7, 300)
    policy = http_policy(config)
    assert (policy.idle_s, policy.head_s, policy.body_s) == (2.5, 4.0, 6.0)
    assert (policy.request_line, policy.head.fields, policy.head.field_size) == (100, 7, 300)


@pytest.mark.parametrize("name, value", [
    ("LIMIT_REQUEST_LINE", "0"), ("LIMIT_REQUEST_LINE", "8190"), ("KEEPALIVE_TIMEOUT", "0"),
    ("BODY_TIMEOUT", "-1"), ("LIMIT_REQUEST_FIELDS", "0"), ("WORKER_CONNECTIONS", "0")])
def test_http_settings_out_of_range_are_refused(name, value):
    from embedding_server.settings import ConfigError

    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})
