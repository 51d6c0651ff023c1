"""Every curl example in README.md, run against a live `serve` on the demo
models: each answers as its comment says, so the manual cannot drift.

An example's expected answer is the `# ...` comment after the command (on
its line, or the lines that follow). A comment that is whole JSON must match
the answer (floats as rounded there; a list or a string may end in "...");
any other comment names keys, which must all be in the answer. An answer
`{"message": ...}` is an error example and must not be 2xx; every other
answer must be.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass

import pytest

from tests.conftest import ROOT, test_environ
from tests.system.processes import serving

README = ROOT / "README.md"
DOCUMENTED = "http://127.0.0.1:5000"
KEY = "readme-example-key"


@dataclass
class Example:
    line: int
    command: str
    expected: str


def examples(text: str) -> list[Example]:
    """The curl commands of the README's sh blocks with their comments."""
    found: list[Example] = []
    in_block = False
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):
            in_block = line.strip() == "```sh" if not in_block else False
            index += 1
            continue
        if in_block and line.startswith("curl "):
            start_line, command = index + 1, line
            while command.rstrip().endswith("\\"):
                index += 1
                command = command.rstrip()[:-1] + " " + lines[index].strip()
            command, _, inline = command.partition("   #")
            expected = [inline.strip()] if inline.strip() else []
            while index + 1 < len(lines) and lines[index + 1].startswith("#"):
                index += 1
                expected.append(lines[index][1:].strip())
            found.append(Example(start_line, command.strip(), " ".join(expected)))
        index += 1
    return found


EXAMPLES = examples(README.read_text())


def test_the_readme_has_examples_and_each_targets_the_documented_server():
    assert len(EXAMPLES) >= 15
    for example in EXAMPLES:
        assert DOCUMENTED in example.command, example


@pytest.fixture(scope="module")
def server(models_dir, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("readme")
    with serving(test_environ(models_dir, tmp_path / "api.log"), tmp_path, workers=1) as (
            base, _):
        yield base


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in _keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in _keys(item)}
    return set()


def _matches(expected: object, actual: object) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _matches(value, actual[key]) for key, value in expected.items())
    if isinstance(expected, list):
        if expected and expected[-1] == "...":  # a list shown by its first items
            return isinstance(actual, list) and len(actual) >= len(expected) - 1 and all(
                _matches(e, a) for e, a in zip(expected[:-1], actual))
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            _matches(e, a) for e, a in zip(expected, actual))
    if isinstance(expected, float) and isinstance(actual, (int, float)):
        # As printed: -0.1064 stands for any value that rounds to it.
        decimals = len(repr(expected).partition(".")[2])
        return abs(expected - actual) <= 0.5 * 10 ** -decimals + 1e-6
    if isinstance(expected, str) and expected.endswith("...") and len(expected) > 3:
        return isinstance(actual, str) and actual.startswith(expected[:-3])  # a prefix
    return expected == actual


def _as_json(comment: str) -> object | None:
    """The comment as JSON, with `...` closing a list read as the string "..."."""
    try:
        return json.loads(re.sub(r",\s*\.\.\.(?=\s*\])", ', "..."', comment))
    except ValueError:
        return None


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"README.md:{e.line}")
def test_readme_example(server, example):
    command = example.command.replace(DOCUMENTED, server)
    piped = "|" in command
    if not piped:
        command += " -w '\\n%{http_code}'"
    completed = subprocess.run(["bash", "-o", "pipefail", "-c", command],
                               env={**os.environ, "KEY": KEY}, capture_output=True,
                               text=True, timeout=60)
    assert completed.returncode == 0, (example, completed.stderr)
    output = completed.stdout.strip()
    if piped:  # e.g. `curl ... | grep NAME`: the comment is a line of the output
        name = example.expected.split("{")[0].split()[0]
        assert any(line.startswith(name) for line in output.splitlines()), (example, output)
        return
    body, _, status = output.rpartition("\n")
    answer = json.loads(body)
    error_example = example.expected.startswith('{"message"')
    assert (int(status) >= 400) == error_example, (example, status, body[:500])
    if not example.expected:
        return
    expected = _as_json(example.expected)
    if expected is not None:
        assert _matches(expected, answer), (example, body[:2000])
    else:
        named = set(re.findall(r'"([A-Za-z_][\w-]*)"\s*:', example.expected))
        assert named and named <= _keys(answer), (example, named - _keys(answer))
