"""The `my-server-manage` CLI: in-process for its commands' output and exit
codes, and as real processes for `run`, each bounded in time and stopped."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from embedding_server.cli import main
from tests.conftest import ROOT, copy_model, test_environ
from tests.integration.test_versions import add_version
from tests.system.processes import BIN, free_port, post_json, start, stop, wait_for


def invoke(args, environ):
    return CliRunner().invoke(main, args, env=environ, catch_exceptions=False)


def test_help_on_every_command():
    for args in ([], ["run"], ["check"], ["models"], ["build-demo-models"]):
        result = CliRunner().invoke(main, args + ["--help"])
        assert result.exit_code == 0 and "Usage:" in result.output


def test_check_passes_on_the_demo_models(models_dir, tmp_path):
    result = invoke(["check"], test_environ(models_dir, tmp_path / "log"))
    assert result.exit_code == 0, result.output
    for name in ("bow-spanish", "lstm-multilingual"):
        assert re.search(rf"^{name}: AVAILABLE \(version 1, loaded in \d+\.\d\d s\)$",
                         result.output, re.M), result.output


def test_check_json_reports_each_model_for_scripts(models_dir, tmp_path):
    result = invoke(["check", "--json"], test_environ(models_dir, tmp_path / "log",
                                                      MODEL_NAMES="bow-spanish,absent"))
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    served, absent = report["models"]
    assert (served["name"], served["state"], served["problems"]) == (
        "bow-spanish", "AVAILABLE", [])
    assert served["load_seconds"] > 0 and served["embedding_dim"] == 300
    assert absent["state"] == "FAILED" and absent["load_seconds"] is None
    assert absent["problems"] and "model directory" in absent["problems"][0]


def test_check_prints_no_tensorflow_chatter(models_dir, tmp_path):
    """A real process: TensorFlow writes its start-up lines to file descriptor 2."""
    environ = {key: value for key, value in os.environ.items()
               if key != "TF_CPP_MIN_LOG_LEVEL"}
    environ.update(test_environ(models_dir, tmp_path / "log"))
    done = subprocess.run([str(BIN / "my-server-manage"), "check"], env=environ,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines()[0].startswith("bow-spanish: AVAILABLE (version 1, ")


def test_check_fails_and_lists_every_problem(models_dir, tmp_path):
    broken = copy_model(models_dir, "bow-spanish", tmp_path / "m" / "bow-spanish")
    os.remove(broken / "tensorflow_model.meta")
    (broken / "word_mapping.json").write_text("[]")
    result = invoke(["check"], test_environ(tmp_path / "m", tmp_path / "log",
                                            MODEL_NAMES="bow-spanish,absent"))
    assert result.exit_code == 1
    assert "bow-spanish: FAILED" in result.output
    assert "  - missing file 'tensorflow_model.meta'" in result.output
    assert "  - word_mapping.json must be a JSON object" in result.output
    assert "absent: FAILED" in result.output


def test_check_reports_a_broken_newer_version_beside_the_one_serving(models_dir, tmp_path):
    add_version(models_dir, tmp_path / "m", 1)
    add_version(models_dir, tmp_path / "m", 2, broken=True)
    result = invoke(["check"], test_environ(tmp_path / "m", tmp_path / "log",
                                            MODEL_NAMES="bow-spanish"))
    assert result.exit_code == 1
    assert "bow-spanish: AVAILABLE (version 1, loaded in " in result.output
    assert "  - version 2 FAILED: " in result.output and "truncated" in result.output


def test_models_lists_states(models_dir, tmp_path):
    result = invoke(["models"], test_environ(models_dir, tmp_path / "log",
                                             MODEL_NAMES="bow-spanish,absent"))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert re.fullmatch(r"bow-spanish\tAVAILABLE\tdim=300 max_length=20 vocabulary=\d+ "
                        r"version=1 load=\d+\.\d\ds", lines[0]), lines[0]
    assert lines[1].startswith("absent\tFAILED\tmodel directory")


def test_malformed_variable_is_a_usage_error(tmp_path):
    result = invoke(["check"], {"MAX_BATCH_TEXTS": "lots"})
    assert result.exit_code == 2
    assert "MAX_BATCH_TEXTS='lots' is not valid" in result.output


def test_build_demo_models_is_deterministic_and_servable(tmp_path, models_dir):
    result = invoke(["build-demo-models", str(tmp_path / "a")], {})
    assert result.exit_code == 0, result.output
    assert "built" in result.output
    for name in ("bow-spanish", "lstm-multilingual"):
        for file_name in ("tensorflow_model.meta", "net_config.json", "word_mapping.json"):
            assert (tmp_path / "a" / name / file_name).is_file()
    # Same seeds, same weights: the checkpoint bytes match the session's build.
    for name, data in (("bow-spanish", "tensorflow_model"),
                       ("lstm-multilingual", "tensorflow_model.data-00000-of-00001")):
        built = (tmp_path / "a" / name / data).read_bytes()
        assert built == (models_dir / name / data).read_bytes()
    config = json.loads((tmp_path / "a" / "bow-spanish" / "net_config.json").read_text())
    assert "serving" not in config and config["embedding_size"] == 300


def test_build_demo_models_defaults_to_models_base_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELS_BASE_DIR", str(tmp_path / "base"))
    result = CliRunner().invoke(main, ["build-demo-models"])
    assert result.exit_code == 0
    assert (tmp_path / "base" / "bow-spanish" / "tensorflow_model").is_file()


@pytest.mark.parametrize("flask_env", ["testing", "development"])
def test_run_serves_on_a_free_port(models_dir, tmp_path, flask_env):
    port = free_port()
    environ = test_environ(models_dir, tmp_path / "api.log", FLASK_ENV=flask_env,
                           LOG_LEVEL="INFO")
    process = start([str(BIN / "my-server-manage"), "run", "--port", str(port)],
                    environ, tmp_path)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        models = json.loads(wait_for(base + "/models", process))["models"]
        assert {m["state"] for m in models} == {"AVAILABLE"}
        result = post_json(base + "/models/bow-spanish/predict", {"title": "hola mundo"})
        assert result["ModelPrediction"]["tokenizedTitle"] == ["hola", "mundo"]
    finally:
        output = stop(process)
    if flask_env == "development":
        assert "Debugger is active" in output
    assert "Traceback" not in output
    # Each model loads once: the development reloader's watching parent
    # never builds the app.
    log = (tmp_path / "api.log").read_text()
    for name in ("bow-spanish", "lstm-multilingual"):
        assert log.count(f"model {name} version 1 AVAILABLE") == 1, log


def test_dotenv_file_with_the_seed_script(models_dir, tmp_path):
    """The seed's form: `dotenv -f FILE run python scripts/manage.py run`."""
    port = free_port()
    env_file = tmp_path / ".env_test"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in test_environ(
        models_dir, tmp_path / "api.log", PORT=str(port)).items()))
    check = subprocess.run(
        [str(BIN / "dotenv"), "-f", str(env_file), "run", sys.executable,
         str(ROOT / "scripts" / "manage.py"), "check"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    assert "bow-spanish: AVAILABLE" in check.stdout
    process = start([str(BIN / "dotenv"), "-f", str(env_file), "run", sys.executable,
                     str(ROOT / "scripts" / "manage.py"), "run"], {}, tmp_path)
    try:
        models = json.loads(wait_for(f"http://127.0.0.1:{port}/api/v1/models", process))
        assert {m["name"] for m in models["models"]} == {"bow-spanish", "lstm-multilingual"}
    finally:
        stop(process)
