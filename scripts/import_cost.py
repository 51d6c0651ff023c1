"""Time and peak memory of `my-server-manage import-vectors`.

    python scripts/import_cost.py [--words 200000] [--dimension 300]

Writes a synthetic word2vec text file of `--words` x `--dimension` (letters-
only words, random values, 6 decimals) into a temporary directory, imports
it in a subprocess, and prints the import's wall time, its peak RSS, the
peak RSS of the same import of a 10-word file (TensorFlow and the CLI
themselves), the difference, and the kept matrix's size. The difference is
what the vectors cost: streamed, it stays near the matrix, whatever the
file's size.
"""
from __future__ import annotations

import argparse
import json
import os
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent


def word(index: int) -> str:
    """A distinct letters-only word of 3 or more letters (the tokenizer keeps it)."""
    letters = string.ascii_lowercase
    text = ""
    index += 26 * 26  # three letters at least
    while index:
        index, rest = divmod(index, 26)
        text = letters[rest] + text
    return text


def write_vectors(path: Path, words: int, dimension: int, seed: int = 0) -> None:
    """A word2vec text file, written in chunks (the writer needs no big memory either)."""
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"{words} {dimension}\n")
        for start in range(0, words, 5000):
            block = rng.normal(size=(min(5000, words - start), dimension))
            handle.writelines(
                word(start + i) + " " + " ".join(f"{value:.6f}" for value in row) + "\n"
                for i, row in enumerate(block))


def run_import(vectors: Path, models: Path, name: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one import, in its own process."""
    with tempfile.TemporaryFile() as output:  # a pipe could fill and stall it
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(BIN / "my-server-manage"), "import-vectors", str(vectors), name,
             "--models-dir", str(models)], stdout=output, stderr=subprocess.STDOUT)
        # wait4, not wait: the child's own peak RSS, not the sum of all children's.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            output.seek(0)
            raise RuntimeError(f"import-vectors failed: {output.read().decode()}")
    return seconds, usage.ru_maxrss * 1024  # Linux reports KiB


def measure(words: int, dimension: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory)
        write_vectors(base / "big.vec", words, dimension)
        write_vectors(base / "small.vec", 10, dimension)
        _, small_peak = run_import(base / "small.vec", base / "models", "small")
        seconds, peak = run_import(base / "big.vec", base / "models", "big")
        file_bytes = (base / "big.vec").stat().st_size
    matrix = words * dimension * 4
    return {"words": words, "dimension": dimension, "file_mb": file_bytes / 2**20,
            "seconds": seconds, "peak_mb": peak / 2**20, "baseline_peak_mb": small_peak / 2**20,
            "vectors_mb": (peak - small_peak) / 2**20, "matrix_mb": matrix / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--words", type=int, default=200_000)
    parser.add_argument("--dimension", type=int, default=300)
    arguments = parser.parse_args()
    result = measure(arguments.words, arguments.dimension)
    print(json.dumps({key: round(value, 2) for key, value in result.items()}, indent=2))


if __name__ == "__main__":
    main()
