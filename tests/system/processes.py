"""Real server processes for system tests: started on 127.0.0.1, bounded, stopped."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
START_TIMEOUT = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen) -> bytes:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read()
        except OSError:  # refused, reset, or accepted but not answered yet
            time.sleep(0.3)
    raise AssertionError(f"no answer from {url} within {START_TIMEOUT}s")


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def start(command: list[str], environ: dict[str, str], cwd: Path) -> subprocess.Popen:
    """Start a server; its output goes to cwd/server.out (a pipe could fill and
    stall it). A session of its own, so its children are stopped with it."""
    with open(cwd / "server.out", "wb") as output:
        process = subprocess.Popen(command, env={**os.environ, **environ}, cwd=cwd,
                                   stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    process.output_path = cwd / "server.out"
    return process


def stop(process: subprocess.Popen, timeout: float = 30) -> str:
    """SIGTERM the process group, SIGKILL it if it lingers; return its output."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.output_path.read_text(errors="replace")
