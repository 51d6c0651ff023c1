"""Shared fixtures: demo models built once per session, an app, a client.

The models are real TensorFlow models written by the project's own builders
into a temporary directory; nothing is mocked.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
from types import ModuleType
from pathlib import Path

import pytest
from dotenv import dotenv_values

from embedding_server.app import create_app
from embedding_server.settings import variables
from embedding_server.demo.builders import build_bow_spanish, build_demo_models

ROOT = Path(__file__).resolve().parent.parent


def test_environ(models_dir: Path, log_file: Path, **overrides: str) -> dict[str, str]:
    """The variables of `test_env`, pointed at temporary paths, plus overrides."""
    environ = {k: v for k, v in dotenv_values(ROOT / "test_env").items() if v is not None}
    environ.update(MODELS_BASE_DIR=str(models_dir), LOG_FILE=str(log_file))
    environ.update(overrides)
    return environ


test_environ.__test__ = False  # a helper, not a test


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    """Both demo models, plus bow-spanish again with a V2 checkpoint."""
    base = tmp_path_factory.mktemp("models")
    build_demo_models(str(base))
    v2 = base / "bow-spanish-v2"
    build_bow_spanish(str(v2), checkpoint_format="V2")
    config = json.loads((v2 / "net_config.json").read_text())
    config["serving"] = {"profile": "bow-spanish"}
    (v2 / "net_config.json").write_text(json.dumps(config))
    return base


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The folder is the tier: every test in tests/system/ starts real
    processes and needs the packages .ci/run installs (`-m "not system"`
    leaves them out)."""
    system = ROOT / "tests" / "system"
    for item in items:
        if system in item.path.parents:
            item.add_marker(pytest.mark.system)


def load_script(name: str) -> ModuleType:
    """A module of scripts/ (not a package), loaded from its file."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def copy_model(models_dir: Path, name: str, target: Path) -> Path:
    """A private copy of a demo model, for tests that break it."""
    shutil.copytree(models_dir / name, target)
    return target


@pytest.fixture(scope="session")
def app(models_dir, tmp_path_factory):
    log_file = tmp_path_factory.mktemp("logs") / "api.log"
    application = create_app(test_environ(
        models_dir, log_file, MODEL_NAMES="bow-spanish,lstm-multilingual,bow-spanish-v2"))
    yield application
    application.extensions["registry"].close()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def make_app(models_dir, tmp_path):
    """Build an app with extra variables; its models are closed afterwards."""
    apps = []

    def factory(base_dir: Path | None = None, **overrides: str):
        application = create_app(test_environ(base_dir or models_dir,
                                              tmp_path / "api.log", **overrides))
        apps.append(application)
        return application

    yield factory
    for application in apps:
        application.extensions["watcher"].stop()
        application.extensions["registry"].close()
        tracing = application.extensions["tracing"]
        if tracing is not None:
            tracing.shutdown()


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path):
    """Each test runs from an empty directory with none of our variables set,
    so a developer's .env or shell never changes what a test sees."""
    monkeypatch.chdir(tmp_path)
    for name in variables():
        monkeypatch.delenv(name, raising=False)
