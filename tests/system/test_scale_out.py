"""Scale-out for real: redis-server, two `serve` instances sharing the Redis
cache and rate limits, and nginx in front with the shipped configuration.

Load goes through nginx while one instance is killed with SIGKILL; nginx's
passive health checks and retries keep the clients served.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, test_environ
from tests.metrics import sample_value
from tests.system.processes import (
    BIN, Load, free_port, start, start_redis, stop, wait_for)

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
EMBED = "/api/v1/models/bow-spanish/embed"
LOAD_KEYS = [f"load-{i:03d}" for i in range(400)]
LIMIT_KEY = "limited"


def call(port: int, path: str, body: dict | None = None, key: str | None = None):
    """(status, headers, JSON body) of one request to 127.0.0.1:port."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def nginx_config(tmp_path: Path, listen: int, upstreams: list[int]) -> Path:
    """deploy/nginx/embedding-server.conf with this run's ports, in a minimal
    main configuration whose files all live under tmp_path."""
    site = (ROOT / "deploy" / "nginx" / "embedding-server.conf").read_text()
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    site = site.replace("127.0.0.1:5001", f"127.0.0.1:{upstreams[0]}")
    site = site.replace("127.0.0.1:5002", f"127.0.0.1:{upstreams[1]}")
    (tmp_path / "site.conf").write_text(site)
    temp = {name: tmp_path / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    main = f"""
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {tmp_path}/nginx-access.log;
    client_body_temp_path {temp['body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    include {tmp_path}/site.conf;
}}
"""
    (tmp_path / "nginx.conf").write_text(main)
    return tmp_path / "nginx.conf"


@pytest.fixture()
def cluster(models_dir, tmp_path):
    """redis-server, two instances, nginx; everything stopped afterwards."""
    started = []
    try:
        redis, redis_port = start_redis(tmp_path)
        started.append(redis)
        redis_url = f"redis://127.0.0.1:{redis_port}"
        ports = [free_port(), free_port()]
        instances = []
        for number, port in enumerate(ports):
            directory = tmp_path / f"instance-{number}"
            directory.mkdir()
            environ = test_environ(
                models_dir, directory / "api.log", MODEL_NAMES="bow-spanish",
                API_KEYS=",".join(LOAD_KEYS + [LIMIT_KEY]), RATE_LIMIT="50 per 10 seconds",
                RATELIMIT_STORAGE_URI=f"{redis_url}/0", CACHE_URL=f"{redis_url}/1",
                TRUST_PROXY="1")
            process = start([str(BIN / "my-server-manage"), "serve", "--port", str(port),
                             "--workers", "1", "--timeout", "20"], environ, directory)
            started.append(process)
            instances.append(process)
        for port, process in zip(ports, instances):
            wait_for(f"http://127.0.0.1:{port}/health/ready", process)
        listen = free_port()
        nginx = start([NGINX, "-c", str(nginx_config(tmp_path, listen, ports)),
                       "-g", "daemon off;"], {}, tmp_path)
        started.append(nginx)
        wait_for(f"http://127.0.0.1:{listen}/health/live", nginx)
        yield {"nginx": listen, "ports": ports, "instances": instances}
    finally:
        for process in reversed(started):
            stop(process)


def test_two_instances_behind_nginx_survive_losing_one(cluster):
    nginx, (port_a, port_b) = cluster["nginx"], cluster["ports"]

    # The cache is shared: computed through one instance, a hit on the other.
    text = {"texts": ["el río corre hacia el mar"]}
    assert call(port_a, EMBED, text, LOAD_KEYS[0])[0] == 200
    before = sample_value(call_metrics(port_b), "embedding_cache_lookups_total",
                          model="bow-spanish", result="hit")
    assert call(port_b, EMBED, text, LOAD_KEYS[1])[0] == 200
    assert sample_value(call_metrics(port_b), "embedding_cache_lookups_total",
                        model="bow-spanish", result="hit") == before + 1

    # The rate limit counts both instances together: 50 per 10 s for one key.
    answers = [call(port, EMBED, {"texts": ["hola"]}, LIMIT_KEY)
               for port in [port_a, port_b] * 25]
    assert [status for status, _, _ in answers] == [200] * 50
    status, headers, body = call(port_a, EMBED, {"texts": ["hola"]}, LIMIT_KEY)
    assert status == 429 and int(headers["Retry-After"]) > 0 and "message" in body
    assert call(port_b, EMBED, {"texts": ["hola"]}, LIMIT_KEY)[0] == 429

    # Load through nginx (400 keys in turn, each well under its limit: the
    # load runs at a few hundred requests a second); kill one instance.
    ready_b = []
    with Load(nginx, EMBED, {"texts": ["la casa grande", "el perro"]}, threads=6,
              headers=lambda n: {"X-API-Key": LOAD_KEYS[n % len(LOAD_KEYS)]}) as load:
        wait_until(lambda: load.count("200") >= 300)
        os.killpg(cluster["instances"][0].pid, signal.SIGKILL)
        killed_at = len(load.outcomes)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ready_b.append(call(port_b, "/health/ready")[0])
            time.sleep(0.2)
        wait_until(lambda: len(load.outcomes) >= killed_at + 300)
    summary = load.summary()
    total = sum(summary.values())
    print(f"\nscale-out through nginx: {summary} ({total} requests, "
          f"{killed_at} before the kill); readiness of the survivor: {set(ready_b)}")
    assert summary.get("200", 0) / total >= 0.999, summary
    assert set(ready_b) == {200}

    # nginx keeps the instances' body limit at the edge, in the API's shape.
    oversized = {"texts": ["hola " * 200_000 + "mundo"] * 3}  # ~3 MB
    status, _, body = call(nginx, EMBED, oversized, LOAD_KEYS[0])
    assert status == 413 and "MAX_CONTENT_LENGTH" in body["message"]


def call_metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def wait_until(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)
