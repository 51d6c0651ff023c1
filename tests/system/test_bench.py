"""The benchmark script end to end, in its shortest form (1 s runs, 1 run)."""
import json
import os
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import ROOT, load_script

pytestmark = pytest.mark.bench


#: Every scenario of a run, and the reference servers' (--floors) among them.
SCENARIOS = {"b_ceiling", "c_single_on", "c_single_off", "d_bulk_on", "d_bulk_off",
             "d_bulk_b64_on", "lstm_single_on", "lstm_single_off", "lstm_mixed_on",
             "overload_128", "cached_single"}
FLOOR_SCENARIOS = {"b_ceiling", "c_single_on", "d_bulk_on", "d_bulk_b64_on"}
LIMIT_RATIOS = {"c_over_b", "bulk_over_raw", "bulk_b64_over_raw"}


def test_bench_runs_every_scenario_without_errors(models_dir, tmp_path):
    """The shortest run (1 s, 1 run, 1 worker) with the reference servers and
    this installation as its own baseline: the report has every scenario,
    ratio and table, and every request was answered 2xx. Figures are the
    script's to report, not this test's to judge."""
    out = tmp_path / "bench.json"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--seconds", "1", "--runs", "1",
         "--workers", "1", "--models-dir", str(models_dir), "--json", str(out), "--floors",
         "--baseline", str(os.path.dirname(sys.executable))],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(out.read_text())
    floors = {f"{kind}:{name}" for kind in ("restx", "flask", "wsgi")
              for name in FLOOR_SCENARIOS}
    served = SCENARIOS | floors | {f"baseline:{name}" for name in SCENARIOS}
    assert served <= set(report)
    for name in served:
        result = report[name]
        assert result["rps"] > 0 and result["non2xx"] == 0, name
        assert result["socket_errors"] == 0, name
        assert set(result) >= {"p50_us", "p99_us", "cpu_us_per_req", "client_cpu_us_per_req"}
    assert set(report["ratios"]) == set(report["ratios_per_run"]) == LIMIT_RATIOS | {
        "single_on_off", "bulk_on_off", "lstm_on_off", "lstm_mixed_over_short",
        "cached_over_uncached"}
    assert all(len(values) == 1 for values in report["ratios_per_run"].values())
    assert set(report["cpu_ratios"]) == LIMIT_RATIOS
    for kind in ("restx", "flask", "wsgi"):
        floor = report["floors"][kind]
        assert set(floor["ratios"]) == set(floor["cpu_ratios"]) == LIMIT_RATIOS
    assert set(report["baseline"]) == SCENARIOS
    for compared in report["baseline"].values():
        assert set(compared) == {"ratio", "per_run", "cpu_ratio"}
        assert len(compared["per_run"]) == 1
    assert set(report["a_raw"]) == {"batch1_per_s", "batch64_per_s", "batch1_cpu_us_per_text",
                                    "batch64_cpu_us_per_text", "processes"}
    assert set(report["f_start"]) == {"ready_s", "worker_load_s", "rss_ready_mb",
                                      "rss_after_load_mb"}
    for row in ("| b_ceiling |", "| (c) / (b): single text vs HTTP ceiling |",
                "| bare WSGI, no framework |"):
        assert row in completed.stdout


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
