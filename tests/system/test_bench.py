"""The benchmark script end to end, in its shortest form (1 s runs, 1 run)."""
import json
import os
import shutil
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import ROOT, load_script


@pytest.mark.skipif(
    shutil.which("wrk") is None and (shutil.which("apt-get") is None or os.geteuid() != 0),
    reason="wrk is not installed, and only root can install it (CI installs it)")
def test_bench_measures_every_scenario(models_dir, tmp_path):
    out = tmp_path / "bench.json"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--seconds", "1", "--runs", "1",
         "--models-dir", str(models_dir), "--json", str(out), "--floors",
         # This installation as its own baseline: the side-by-side runs work.
         "--baseline", str(os.path.dirname(sys.executable))],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(out.read_text())
    for scenario in ("b_ceiling", "c_single_on", "c_single_off", "d_bulk_on", "d_bulk_off",
                     "d_bulk_b64_on", "lstm_single_on", "lstm_single_off", "lstm_mixed_on",
                     "overload_128", "cached_single"):
        assert report[scenario]["rps"] > 0 and report[scenario]["p99_us"] > 0
        assert report[scenario]["socket_errors"] == 0
        assert report[scenario]["cpu_us_per_req"] > 0
        assert report[scenario]["client_cpu_us_per_req"] > 0
    assert all(value > 0 for value in report["ratios"].values())
    assert all(len(values) == 1 for values in report["ratios_per_run"].values())
    assert set(report["cpu_ratios"]) == {"c_over_b", "bulk_over_raw", "bulk_b64_over_raw"}
    assert all(value > 0 for value in report["cpu_ratios"].values())
    assert report["a_raw"]["batch64_per_s"] > report["a_raw"]["batch1_per_s"] > 0
    # Batching is worth something in the model itself: 64 texts in one run
    # cost each text less CPU than one text a run.
    assert 0 < report["a_raw"]["batch64_cpu_us_per_text"] < report["a_raw"][
        "batch1_cpu_us_per_text"]
    assert 0 < report["f_start"]["ready_s"]["true"] < 120
    assert all(0 < rss < 4000 for rss in report["f_start"]["rss_ready_mb"])
    assert "| (c) / (b): single text vs HTTP ceiling |" in completed.stdout
    # The reference servers ran the target scenarios, answered every request,
    # and have their ratios in the report and the table.
    for kind in ("restx", "flask", "wsgi"):
        for scenario in ("b_ceiling", "c_single_on", "d_bulk_on", "d_bulk_b64_on"):
            result = report[f"{kind}:{scenario}"]
            assert result["rps"] > 0 and result["non2xx"] == 0
            assert result["socket_errors"] == 0 and result["cpu_us_per_req"] > 0
        floor = report["floors"][kind]
        assert set(floor["ratios"]) == set(floor["cpu_ratios"]) == {
            "c_over_b", "bulk_over_raw", "bulk_b64_over_raw"}
        assert all(value > 0 for value in floor["ratios"].values())
    assert "| bare WSGI, no framework |" in completed.stdout
    # Every served scenario also ran on the baseline's servers, right after ours.
    assert set(report["baseline"]) == {
        "b_ceiling", "c_single_on", "c_single_off", "d_bulk_on", "d_bulk_off", "d_bulk_b64_on",
        "lstm_single_on", "lstm_single_off", "lstm_mixed_on", "overload_128", "cached_single"}
    for name, compared in report["baseline"].items():
        assert report[f"baseline:{name}"]["non2xx"] == 0, name
        assert compared["ratio"] > 0 and compared["cpu_ratio"] > 0 and len(compared["per_run"]) == 1
    assert "| b_ceiling |" in completed.stdout


def test_reference_servers_answer_as_this_server(models_dir, tmp_path):
    """The floors are worth reading only if they do the same work: the same
    vectors, tokens and response shapes as the served API, for both models."""
    bench = load_script("bench")
    models = ["bow-spanish", "lstm-multilingual"]
    servers = [bench.Server(models_dir, models, 1, True, tmp_path / f"{kind}.log",
                            floor=kind) for kind in (None, "restx", "flask", "wsgi")]
    try:
        for server in servers:
            server.wait_ready(models, limit=180)

        def answer(server, path: str, body: dict | None = None) -> object:
            data = None if body is None else json.dumps(body).encode()
            with urllib.request.urlopen(urllib.request.Request(server.base + path, data=data),
                                        timeout=30) as response:
                assert response.status == 200
                return json.loads(response.read())

        for model in models:
            for action, body in (("embed", {"texts": ["hola mundo", "qué tal estás hoy"]}),
                                 ("embed", {"texts": ["hola mundo zzyzx"],
                                            "encoding_format": "base64"}),
                                 ("predict", {"title": "hola mundo, ¿qué tal?"})):
                path = f"/api/v1/models/{model}/{action}"
                ours, *floors = [answer(server, path, body) for server in servers]
                assert floors == [ours] * 3, (path, body)
        assert [answer(server, "/health/live") for server in servers] == [
            {"status": "alive"}] * 4
    finally:
        for server in servers:
            server.stop()
    for server in servers:
        assert server.process.returncode is not None
