"""Real server processes for system tests: started on 127.0.0.1, bounded, stopped."""
from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

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


@contextmanager
def serving(environ: dict[str, str], cwd: Path, workers: int = 2,
            ready_path: str = "/health/ready") -> Iterator[tuple[str, subprocess.Popen]]:
    """`my-server-manage serve` on a free port of 127.0.0.1, ready; yields its
    base URL (`http://127.0.0.1:PORT`) and process, and stops it after."""
    port = free_port()
    process = start([str(BIN / "my-server-manage"), "serve", "--port", str(port),
                     "--workers", str(workers), "--timeout", "20"], environ, cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + ready_path, process)
        yield base, process
    finally:
        stop(process)


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


def worker_pids(master: subprocess.Popen) -> set[int]:
    """The live processes whose parent is `master` (gunicorn's workers)."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(master.pid) and fields[0] != "Z":
            pids.add(int(entry))
    return pids


def connections_per_worker(master: subprocess.Popen, port: int) -> dict[int, int]:
    """How many established connections to `port` each worker of `master`
    holds (IPv4: the servers under test listen on 127.0.0.1)."""
    served = set()
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
            if local_port == port and state == "01":  # ESTABLISHED, the server's end
                served.add(f"socket:[{inode}]")
    counts = {}
    for pid in worker_pids(master):
        held = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                held += os.readlink(f"/proc/{pid}/fd/{fd}") in served
            except OSError:  # closed meanwhile
                continue
        counts[pid] = held
    return counts


class Load:
    """Client threads posting one request per fresh connection, until stopped.

    Each outcome is recorded: the status and the model version of a response,
    "refused" when no connection could be made (the server was not accepting:
    nothing was lost), or "lost" when a connection was made but no whole
    response came back.
    """

    def __init__(self, port: int, path: str, body: dict, threads: int = 4,
                 timeout: float = 20, headers: Callable[[int], dict] | None = None):
        self.port, self.path, self.timeout = port, path, timeout
        self.body = json.dumps(body).encode()
        self._headers = headers or (lambda number: {})
        self._sent = itertools.count()
        self.outcomes: list[tuple[str, int | None]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True)
                         for _ in range(threads)]

    def __enter__(self) -> "Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
            assert not thread.is_alive(), "a client request hung"

    def count(self, outcome: str) -> int:
        with self._lock:
            return sum(1 for seen, _ in self.outcomes if seen == outcome)

    def versions(self) -> list[int]:
        with self._lock:
            return [version for seen, version in self.outcomes if seen == "200"]

    def summary(self) -> dict[str, int]:
        with self._lock:
            kinds = sorted({seen for seen, _ in self.outcomes})
            return {kind: sum(1 for seen, _ in self.outcomes if seen == kind) for kind in kinds}

    def _run(self) -> None:
        while not self._stop.is_set():
            outcome = self._one()
            with self._lock:
                self.outcomes.append(outcome)

    def _one(self) -> tuple[str, int | None]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            connection.connect()
        except OSError:
            time.sleep(0.05)
            return "refused", None
        try:
            connection.request("POST", self.path, body=self.body,
                               headers={"Content-Type": "application/json",
                                        "Connection": "close",
                                        **self._headers(next(self._sent))})
            response = connection.getresponse()
            payload = json.loads(response.read())
        except (OSError, http.client.HTTPException, ValueError):
            return "lost", None
        finally:
            connection.close()
        version = payload.get("model_version") if isinstance(payload, dict) else None
        return str(response.status), version


def start_redis(tmp_path: Path, port: int | None = None) -> tuple[subprocess.Popen, int]:
    """A throwaway redis-server on 127.0.0.1 (no persistence), ready to answer."""
    port = port or free_port()
    directory = tmp_path / f"redis-{port}"
    directory.mkdir(exist_ok=True)
    process = start(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--dir", str(directory)],
                    {}, directory)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return process, port
        except OSError:
            time.sleep(0.1)
    stop(process)
    raise AssertionError("redis-server did not start")
