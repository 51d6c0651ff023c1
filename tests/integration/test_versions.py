"""Model versions and hot reload, with TensorFlow Serving's semantics, on real models."""
from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

from embedding_server.serving.registry import ModelState
from tests.metrics import metric_value

BOW = "/api/v1/models/bow-spanish"


def add_version(models_dir: Path, base: Path, version: int, broken: bool = False) -> Path:
    """Copy the demo bow-spanish in as `version`, whole (as a deploy tool would)."""
    staging = base / "bow-spanish" / f".staging-{version}"
    shutil.copytree(models_dir / "bow-spanish", staging)
    if broken:
        checkpoint = staging / "tensorflow_model"
        checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    target = base / "bow-spanish" / str(version)
    os.replace(staging, target)
    return target


def versions_of(client) -> dict[int, str]:
    status = client.get(BOW).get_json()
    return {v["version"]: v["state"] for v in status["versions"]}


def served_version(client, title="hola mundo") -> int:
    response = client.post(BOW + "/predict", json={"title": title})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["model_version"]


def test_a_flat_directory_serves_as_version_1(client):
    assert served_version(client) == 1
    embed = client.post(BOW + "/embed", json={"texts": ["hola"]}).get_json()
    assert embed["model_version"] == 1
    status = client.get(BOW).get_json()
    assert status["version"] == 1
    assert status["versions"] == [{"version": 1, "state": "AVAILABLE", "error": None}]


def test_the_highest_version_that_loads_serves(models_dir, tmp_path, make_app):
    for version, broken in ((1, False), (2, False), (3, True)):
        add_version(models_dir, tmp_path, version, broken)
    client = make_app(tmp_path, MODEL_NAMES="bow-spanish").test_client()
    assert served_version(client) == 2
    status = client.get(BOW).get_json()
    assert status["state"] == "AVAILABLE" and status["error"] is None
    assert versions_of(client) == {3: "FAILED", 2: "AVAILABLE", 1: "UNLOADED"}
    failed = status["versions"][0]
    assert failed["version"] == 3 and "truncated or corrupt" in failed["error"]


def test_reload_swaps_in_a_new_version_and_releases_the_old(models_dir, tmp_path, make_app):
    add_version(models_dir, tmp_path, 1)
    app = make_app(tmp_path, MODEL_NAMES="bow-spanish", MODEL_SETTLE_MS="50")
    client = app.test_client()
    before = client.post(BOW + "/predict", json={"title": "hola"}).get_json()
    old = app.extensions["registry"].get("bow-spanish")
    swaps = metric_value(app, "embedding_model_swaps_total", model="bow-spanish")
    add_version(models_dir, tmp_path, 2)
    response = client.post(BOW + "/reload")
    assert response.status_code == 200
    assert response.get_json()["version"] == 2
    after = client.post(BOW + "/predict", json={"title": "hola"}).get_json()
    assert after["model_version"] == 2
    # Same weights in both versions: the same answer, from the new session.
    assert after["ModelPrediction"] == before["ModelPrediction"]
    assert old.closed.is_set()
    assert versions_of(client) == {2: "AVAILABLE", 1: "UNLOADED"}
    assert metric_value(app, "embedding_model_swaps_total", model="bow-spanish") == swaps + 1
    assert metric_value(app, "embedding_model_state", model="bow-spanish", version="2",
                        state="AVAILABLE") == 1


def test_a_request_in_flight_finishes_on_its_version(models_dir, tmp_path, make_app):
    add_version(models_dir, tmp_path, 1)
    app = make_app(tmp_path, MODEL_NAMES="bow-spanish", MODEL_SETTLE_MS="0")
    registry = app.extensions["registry"]
    with registry.use("bow-spanish") as held:
        add_version(models_dir, tmp_path, 2)
        assert registry.refresh(registry.entry("bow-spanish"))
        assert registry.get("bow-spanish").version == 2
        assert not held.closed.is_set()  # still in use: not closed under the request
        assert held.embed(["hola"]).version == 1
    assert held.closed.is_set()


def test_a_broken_new_version_leaves_the_old_serving_until_it_is_fixed(
        models_dir, tmp_path, make_app):
    add_version(models_dir, tmp_path, 1)
    app = make_app(tmp_path, MODEL_NAMES="bow-spanish", MODEL_SETTLE_MS="0")
    client = app.test_client()
    failures = metric_value(app, "embedding_model_load_failures_total", model="bow-spanish")
    add_version(models_dir, tmp_path, 2, broken=True)
    status = client.post(BOW + "/reload").get_json()
    assert status["version"] == 1 and status["state"] == "AVAILABLE"
    assert status["versions"][0]["state"] == "FAILED"
    assert served_version(client) == 1
    assert metric_value(app, "embedding_model_load_failures_total",
                        model="bow-spanish") == failures + 1
    # The same files are not tried again...
    client.post(BOW + "/reload")
    assert metric_value(app, "embedding_model_load_failures_total",
                        model="bow-spanish") == failures + 1
    # ...but once they are rewritten, they are.
    shutil.rmtree(tmp_path / "bow-spanish" / "2")
    add_version(models_dir, tmp_path, 2)
    assert client.post(BOW + "/reload").get_json()["version"] == 2
    assert served_version(client) == 2


def test_a_version_still_being_written_is_not_loaded(models_dir, tmp_path, make_app):
    add_version(models_dir, tmp_path, 1)
    app = make_app(tmp_path, MODEL_NAMES="bow-spanish", MODEL_SETTLE_MS="300")
    client = app.test_client()
    target = add_version(models_dir, tmp_path, 2)
    stop = threading.Event()

    def keep_writing():
        while not stop.is_set():
            (target / "upload.part").write_text(str(time.time()))
            time.sleep(0.02)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        status = client.post(BOW + "/reload").get_json()
    finally:
        stop.set()
        writer.join()
    assert status["version"] == 1
    assert versions_of(client)[2] == "PENDING"
    assert served_version(client) == 1
    # At rest now: the next look loads it.
    assert client.post(BOW + "/reload").get_json()["version"] == 2


def test_polling_without_wait_needs_two_scans(models_dir, tmp_path, make_app):
    add_version(models_dir, tmp_path, 1)
    app = make_app(tmp_path, MODEL_NAMES="bow-spanish")
    registry = app.extensions["registry"]
    entry = registry.entry("bow-spanish")
    add_version(models_dir, tmp_path, 2)
    assert not registry.refresh(entry, wait=False)  # first seen: maybe half-written
    assert entry.versions[2].state is ModelState.PENDING
    assert registry.refresh(entry, wait=False)
    assert entry.version == 2


def test_the_watcher_polls_for_new_versions(models_dir, tmp_path, make_app):
    add_version(models_dir, tmp_path, 1)
    app = make_app(tmp_path, MODEL_NAMES="bow-spanish", MODEL_POLL_SECONDS="0.1")
    client = app.test_client()
    add_version(models_dir, tmp_path, 2)
    deadline = time.monotonic() + 30
    while served_version(client) != 2:
        assert time.monotonic() < deadline, versions_of(client)
        time.sleep(0.1)


def test_a_deleted_version_gives_way_to_the_newest_remaining(models_dir, tmp_path, make_app):
    add_version(models_dir, tmp_path, 1)
    add_version(models_dir, tmp_path, 2)
    app = make_app(tmp_path, MODEL_NAMES="bow-spanish", MODEL_SETTLE_MS="0")
    client = app.test_client()
    assert served_version(client) == 2
    shutil.rmtree(tmp_path / "bow-spanish" / "2")
    assert client.post(BOW + "/reload").get_json()["version"] == 1
    assert versions_of(client) == {1: "AVAILABLE"}
    # With every version gone, the loaded copy keeps serving, and says so.
    shutil.rmtree(tmp_path / "bow-spanish" / "1")
    status = client.post(BOW + "/reload").get_json()
    assert status["version"] == 1 and status["state"] == "AVAILABLE"
    assert "directory was removed" in status["versions"][0]["error"]
    assert served_version(client) == 1
    add_version(models_dir, tmp_path, 1)  # put back: the note goes
    assert client.post(BOW + "/reload").get_json()["versions"] == [
        {"version": 1, "state": "AVAILABLE", "error": None}]


def test_reload_of_an_unknown_model_is_404(client):
    response = client.post("/api/v1/models/nope/reload")
    assert response.status_code == 404
    assert "not configured" in response.get_json()["message"]
