"""A gunicorn worker's load, with real models: what it does with a SIGHUP
that arrives while its models load."""
from embedding_server.settings import load_settings
from embedding_server.worker.gunicorn import GunicornServer, ServeOptions


def test_a_sighup_during_the_model_load_is_acted_on_once_loaded(
        models_dir, tmp_path, monkeypatch):
    """A worker asked to look for versions while it was still loading (its
    scan done, the new version written after it) loads that version once up."""
    import gc
    import os
    import signal
    import time

    import embedding_server.app as app_module
    from tests.conftest import test_environ
    from tests.integration.test_versions import add_version

    add_version(models_dir, tmp_path / "models", 1)
    real_create_app = app_module.create_app

    def create_app_then_a_new_version_and_a_sighup(config, hooks=None):
        app = real_create_app(config, hooks)
        add_version(models_dir, tmp_path / "models", 2)
        os.kill(os.getpid(), signal.SIGHUP)  # still inside the worker's load
        return app

    monkeypatch.setattr(app_module, "create_app", create_app_then_a_new_version_and_a_sighup)
    previous = signal.getsignal(signal.SIGHUP)
    config = load_settings(test_environ(tmp_path / "models", tmp_path / "api.log",
                                        MODEL_NAMES="bow-spanish", MODEL_SETTLE_MS="0"))
    options = ServeOptions("127.0.0.1", 0, workers=1, threads=1, timeout=10,
                           worker_class="sync")
    server = GunicornServer(config, options)
    try:
        app = server.load()
        registry = app.extensions["registry"]
        deadline = time.monotonic() + 30
        while registry.entry("bow-spanish").version != 2:
            assert time.monotonic() < deadline, "the SIGHUP was lost"
            time.sleep(0.05)
    finally:
        signal.signal(signal.SIGHUP, previous)
        gc.unfreeze()  # load() froze this test process's heap
        app.extensions["watcher"].stop()
        registry.close()
