"""`my-server-manage export` and `import-vectors` as an operator runs them:
real processes, their output and exit codes, the import's peak memory."""
from __future__ import annotations

import json
import os
import pty
import re
import subprocess

import tensorflow as tf

from tests.conftest import ROOT, load_script, test_environ
from tests.system.processes import BIN

import_cost = load_script("import_cost")
#: The stated bound (README, "Your own word vectors"): what a streamed import
#: of vectors holds beyond TensorFlow and the CLI themselves.
EXTRA_PEAK_PER_MATRIX = 3.0
EXTRA_PEAK_SLACK_MB = 64


def manage(*arguments: str, environ: dict[str, str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "my-server-manage"), *arguments], cwd=cwd,
                          env={**os.environ, **environ}, capture_output=True, text=True,
                          timeout=600)


def test_export_prints_its_verification_and_refuses_an_unknown_model(models_dir, tmp_path):
    environ = test_environ(models_dir, tmp_path / "api.log", MODEL_NAMES="bow-spanish")
    done = manage("export", "bow-spanish", str(tmp_path / "out"), environ=environ, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"exported bow-spanish version 1 to {tmp_path / 'out' / '1'}: " in done.stdout
    assert "at 20 lengths checked, largest difference 0" in done.stdout
    assert (tmp_path / "out" / "1" / "saved_model.pb").is_file()
    refused = manage("export", "nope", str(tmp_path / "other"), environ=environ, cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip() == "Error: unknown model 'nope': MODEL_NAMES has bow-spanish"
    assert not (tmp_path / "other").exists()


def test_import_vectors_writes_a_model_check_accepts(models_dir, tmp_path):
    import_cost.write_vectors(tmp_path / "small.vec", 300, 8)
    environ = test_environ(tmp_path / "models", tmp_path / "api.log", MODEL_NAMES="mine")
    done = manage("import-vectors", str(tmp_path / "small.vec"), "mine", "--oov-token", "<OOV>",
                  environ=environ, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "wrote mine version 1" in done.stdout and "300 words x 8 dimensions" in done.stdout
    checked = manage("check", environ=environ, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.startswith("mine: AVAILABLE (version 1, loaded in ")
    bad = tmp_path / "bad.vec"
    bad.write_text("2 3\nhola 1 2 3\nadiós 1 2\n")
    refused = manage("import-vectors", str(bad), "mine", environ=environ, cwd=tmp_path)
    assert refused.returncode == 1 and "line 3 ('adiós') has 2 values" in refused.stderr
    assert sorted(os.listdir(tmp_path / "models" / "mine")) == ["1"]


def test_import_peak_memory_stays_near_the_kept_matrix():
    """50k words x 100 dimensions (a 50 MB file): the import holds the 19 MB
    matrix, not the file; measured with wait4 on the subprocess."""
    result = import_cost.measure(50_000, 100)
    assert result["file_mb"] > 2 * result["matrix_mb"]
    bound = EXTRA_PEAK_PER_MATRIX * result["matrix_mb"] + EXTRA_PEAK_SLACK_MB
    assert result["vectors_mb"] <= bound, result


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"## {title}\n")
    return text[start:text.index("\n## ", start + 1)]


def test_the_readmes_export_example_prints_what_it_shows(models_dir, tmp_path):
    """The command and its output line in "Migrating off tf.compat.v1", run
    as written; the TF Serving request's body fits the export's signature."""
    section = readme_section("Migrating off tf.compat.v1")
    command, shown = re.search(r"\n\.venv/bin/my-server-manage (export .+)\n# (.+)\n",
                               section).groups()
    environ = test_environ(models_dir, tmp_path / "api.log", MODEL_NAMES="lstm-multilingual")
    done = manage(*command.split(), environ=environ, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == shown
    body = json.loads(re.search(r"-d '(\{.+\})'", section).group(1))
    # TF Serving's row format: one dict per instance, batched by input name.
    columns = {name: tf.constant([instance[name] for instance in body["instances"]], tf.int64)
               for name in body["instances"][0]}
    exported = tf.saved_model.load(str(tmp_path / "exported" / "lstm-multilingual" / "1"))
    embedding = exported.signatures["serving_default"](**columns)["embedding"]
    assert embedding.shape == (1, 256)


def test_import_vectors_shows_a_progress_bar_on_a_terminal_only(tmp_path):
    import_cost.write_vectors(tmp_path / "v.vec", 2000, 8)
    command = [str(BIN / "my-server-manage"), "import-vectors", str(tmp_path / "v.vec"), "m",
               "--models-dir", str(tmp_path / "models")]
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=follower)
        os.close(follower)
        terminal = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            terminal += chunk
        assert process.wait(timeout=300) == 0
    finally:
        os.close(leader)
    assert b"reading vectors" in terminal and b"100%" in terminal
    piped = subprocess.run(command[:-2] + ["--models-dir", str(tmp_path / "piped")],
                           capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0 and "reading vectors" not in piped.stderr + piped.stdout


def test_import_vectors_names_its_files_as_model_files_says(tmp_path):
    """An operator with their own MODEL_FILES gets a model their server reads."""
    import_cost.write_vectors(tmp_path / "small.vec", 50, 4)
    environ = test_environ(tmp_path / "models", tmp_path / "api.log", MODEL_NAMES="mine",
                           MODEL_FILES="ckpt,config.json,graph.meta,vocab.json")
    done = manage("import-vectors", str(tmp_path / "small.vec"), "mine",
                  environ=environ, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert {"vocab.json", "config.json"} <= set(os.listdir(tmp_path / "models" / "mine" / "1"))
    checked = manage("check", environ=environ, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
