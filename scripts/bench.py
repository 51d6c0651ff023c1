"""Benchmark: the served stack against its own limits, side by side in one run.

    python scripts/bench.py [--models-dir DIR] [--seconds 10] [--runs 3] [--floors]

Starts `my-server-manage serve` twice on 127.0.0.1 (batching on and off),
drives them with wrk (one client thread, so the client takes little CPU) and
measures, as medians of --runs interleaved runs:
  (a) the raw in-process pipeline (tokenize + model run, no HTTP), batch 1
      and 64, with as many processes as the server has workers;
  (b) the HTTP ceiling: req/s of the cheapest endpoint (GET /health/live);
  (c) single-text /predict at 32 connections: req/s, p50, p99;
  (d) 64-text /embed at 8 connections: embeddings/s, p99;
  (e) (c) and (d) with batching off, and (c) for lstm-multilingual, also
      with 1 title in 16 of 300 words (rows of very different lengths);
  (f) time to ready and RSS per worker;
  and (c) again on a server with the embedding cache on, whose 64 titles
  repeat (cache on vs off); the other servers run with the cache off.
plus an overload run at 128 connections. Each run measures every scenario
back to back, the raw limit included; the table gives medians, and each ratio
is the median of its per-run ratios. With --floors, (b), (c) and (d) also run
on three reference servers (scripts/floor_server.py: the same workers,
batcher and models behind flask-restx resources, plain Flask routes and a
bare WSGI function, with nothing else), each right after the same scenario
on ours: how far the ratios can go with each. With --baseline BIN_DIR, every
served scenario also runs on the `serve` of another installation (its
`my-server-manage` in BIN_DIR: a checkout of an earlier commit, say) right
after ours, and the table gives ours over it, run by run: a change measured
side by side in one sitting.
Every load targets 127.0.0.1 and stops by itself.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
FLOOR_SERVER = Path(__file__).with_name("floor_server.py")
#: The reference servers of --floors, and the scenarios each runs.
FLOORS = {"restx": "flask-restx resources", "flask": "plain Flask routes",
          "wsgi": "bare WSGI, no framework"}
FLOOR_SCENARIOS = ("b_ceiling", "c_single_on", "d_bulk_on", "d_bulk_b64_on")
LUA = """
local bodies = {%s}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("%s", nil, {["Content-Type"] = "application/json"}, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, ' ..
    '"max_us": %%d, "non2xx": %%d, "socket_errors": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def ensure_wrk() -> None:
    """Find wrk, or install Debian's package (as root, on a Debian-like host)."""
    if shutil.which("wrk") is None and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")


def _sentence(rng: random.Random, words: list[str], length: int) -> str:
    # From the 5,000 most frequent words, so most are in the demo vocabularies.
    common = words[:5000]
    return " ".join(rng.choice(common) for _ in range(length))


def sentences(words: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [_sentence(rng, words, rng.randint(6, 14)) for _ in range(count)]


def long_sentence(words: list[str], length: int, seed: int) -> str:
    return _sentence(random.Random(seed), words, length)


def single_texts(words: list[str]) -> list[str]:
    """The titles of the single-text scenarios (and of the raw limit at batch 1)."""
    return sentences(words, 64, seed=1)


def bulk_texts(words: list[str]) -> list[list[str]]:
    """The 64-text bodies of the bulk scenarios (and the raw limit's batches of 64)."""
    return [sentences(words, 64, seed=seed) for seed in range(2, 6)]


def lua_script(directory: Path, name: str, method: str, bodies: list[dict]) -> Path:
    # Lua long strings: raw UTF-8 JSON, no escapes for Lua to misread.
    encoded = ", ".join("[==[" + json.dumps(body, ensure_ascii=False) + "]==]"
                        for body in bodies)
    path = directory / f"{name}.lua"
    path.write_text(LUA % (encoded, method), encoding="utf-8")
    return path


def wrk(url: str, script: Path, connections: int, seconds: int) -> dict:
    timeout = max(10, seconds)
    before = _children_cpu_s()
    completed = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout}s",
         "-s", str(script), url],
        capture_output=True, text=True, timeout=seconds + 60)
    output = completed.stdout + completed.stderr
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise SystemExit(f"wrk gave no result for {url}:\n{output}")
    line = lines[0]
    result = json.loads(line[len("RESULT "):])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    # The client shares the machine's cores with the server: what it took
    # is what the server could not have.
    result["client_cpu_us_per_req"] = ((_children_cpu_s() - before)
                                       / max(result["requests"], 1) * 1e6)
    return result


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One `my-server-manage serve`, or with `floor` one of the reference
    servers (scripts/floor_server.py), started in its own process group."""

    def __init__(self, models_dir: Path, models: list[str], workers: int, batching: bool,
                 log: Path, cache: bool = False, floor: str | None = None,
                 bin_dir: Path = BIN):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # Production, keyless on loopback; the cache only where it is measured.
        environ = {**os.environ, "FLASK_ENV": "production", "LOG_FILE": "",
                   "SECRET_KEY": secrets.token_hex(16), "ALLOW_ANONYMOUS": "true",
                   "RATE_LIMIT": "", "CACHE_URL": "", "CACHE_SIZE": "10000" if cache else "0",
                   "MODELS_BASE_DIR": str(models_dir), "MODEL_NAMES": ",".join(models),
                   "BATCHING": str(batching).lower()}
        self.started = time.monotonic()
        command = ([sys.executable, str(FLOOR_SERVER), floor, str(self.port), str(workers)]
                   if floor else [str(bin_dir / "my-server-manage"), "serve", "--port",
                                  str(self.port), "--workers", str(workers)])
        with open(log, "wb") as output:
            self.process = subprocess.Popen(
                command, env=environ, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True)

    def wait_ready(self, models: list[str], limit: float = 120) -> float:
        """Seconds from start until every model answers an embedding request."""
        deadline = self.started + limit
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"server exited with {self.process.returncode}")
            try:
                for model in models:
                    request = urllib.request.Request(
                        f"{self.base}/api/v1/models/{model}/embed",
                        data=b'{"texts": ["hola"]}')
                    urllib.request.urlopen(request, timeout=5).read()
                return time.monotonic() - self.started
            except OSError:
                time.sleep(0.1)
        raise SystemExit("server not ready in time")

    def workers(self) -> list[str]:
        pids = []
        for pid in os.listdir("/proc"):
            try:
                if pid.isdigit() and open(f"/proc/{pid}/stat").read().split()[3] == str(
                        self.process.pid):
                    pids.append(pid)
            except OSError:
                continue
        return pids

    def worker_rss_mb(self) -> list[float]:
        rss = []
        for pid in self.workers():
            status = open(f"/proc/{pid}/status").read()
            rss.append(int(status.split("VmRSS:")[1].split()[0]) / 1024)
        return rss

    def worker_cpu_s(self) -> float:
        """User + system CPU seconds of all workers so far: a cost per request
        that moves less with the machine's noise than throughput does."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.workers():
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / ticks

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def raw_worker(models_dir: str, model: str, batch: int, seconds: float, threads: int) -> None:
    """One process of the raw pipeline limit: tokenize + model run, no HTTP."""
    started = time.perf_counter()
    from embedding_server.demo.words import load_words
    from embedding_server.serving.registry import Registry
    from embedding_server.settings import Settings
    from embedding_server.worker.heap import settle_heap

    registry = Registry(Settings(MODELS_BASE_DIR=models_dir, MODEL_NAMES=(model,),
                                 BATCHING=False, TF_THREADS=threads))
    registry.load_all()
    servable = registry.get(model)
    load_s = time.perf_counter() - started
    settle_heap()  # as a serving worker does, so both sides pay the same GC
    # The texts the served scenarios send, so both sides tokenize the same words.
    words = load_words("es")
    batches = ([[text] for text in single_texts(words)] if batch == 1
               else [texts[:batch] for texts in bulk_texts(words)])
    for i in range(20):
        servable.embed(batches[i % len(batches)])
    done, i, began, cpu = 0, 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - began < seconds:
        servable.embed(batches[i % len(batches)])
        done += batch
        i += 1
    print(json.dumps({"per_s": done / (time.perf_counter() - began), "load_s": load_s,
                      "cpu_us_per_text": (time.process_time() - cpu) / done * 1e6}))


def raw_limit(models_dir: Path, model: str, batch: int, processes: int,
              seconds: float) -> tuple[float, float, float]:
    """Embeddings/s of `processes` raw pipelines in parallel, a load time,
    and the CPU time one embedding took."""
    threads = max(1, (os.cpu_count() or 1) // processes)
    command = [sys.executable, __file__, "--raw-worker", str(models_dir), model,
               str(batch), str(seconds), str(threads)]
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
                for _ in range(processes)]
    results = [json.loads(child.communicate(timeout=seconds + 180)[0].strip().splitlines()[-1])
               for child in children]
    return (sum(r["per_s"] for r in results), max(r["load_s"] for r in results),
            median([r["cpu_us_per_text"] for r in results]))


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models-dir", type=Path,
                        help="models to serve (default: demo models built into a temp dir)")
    parser.add_argument("--model", default="bow-spanish",
                        help="model of scenarios (a) to (d) [default: bow-spanish]")
    parser.add_argument("--heavy-model", default="lstm-multilingual",
                        help="model of the batching on/off ratio [default: lstm-multilingual]")
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (median)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--floors", action="store_true",
                        help="also run (b), (c) and (d) on reference servers: the same "
                        "workers, batcher and models behind flask-restx, plain Flask and "
                        "bare WSGI, with nothing else (scripts/floor_server.py)")
    parser.add_argument("--baseline", type=Path, metavar="BIN_DIR",
                        help="also run every served scenario on the `serve` of the "
                        "installation whose my-server-manage is in BIN_DIR, right after ours")
    args = parser.parse_args()
    if args.baseline and not (args.baseline / "my-server-manage").exists():
        raise SystemExit(f"no my-server-manage in {args.baseline}")
    ensure_wrk()

    scratch = Path(tempfile.mkdtemp(prefix="bench-"))
    models_dir = args.models_dir
    if models_dir is None:
        from embedding_server.demo.builders import build_demo_models
        models_dir = scratch / "models"
        build_demo_models(str(models_dir))
    from embedding_server.demo.words import load_words
    words = load_words("es")
    texts = single_texts(words)
    single = [{"title": text} for text in texts]
    # One title in 16 is long: its batch mixes lengths (docs/performance.md, "Tuning":
    # rows of very different lengths run apart).
    mixed = [{"title": long_sentence(words, 300, seed=i) if i % 16 == 5 else text}
             for i, text in enumerate(texts)]
    bulk = [{"texts": texts} for texts in bulk_texts(words)]
    scripts = {
        "status": lua_script(scratch, "status", "GET", [""]),
        "single": lua_script(scratch, "single", "POST", single),
        "mixed": lua_script(scratch, "mixed", "POST", mixed),
        "bulk": lua_script(scratch, "bulk", "POST", bulk),
        "bulk_b64": lua_script(scratch, "bulk_b64", "POST", [
            {**body, "encoding_format": "base64"} for body in bulk]),
    }
    models = list(dict.fromkeys([args.model, args.heavy_model]))
    workers, seconds = args.workers, args.seconds

    servers: dict = {}
    results: dict[str, list[dict]] = {}
    try:
        # One at a time, so each start-up has the machine to itself, as it
        # would in production.
        ready = {}
        for mode in (True, False, "cached"):
            servers[mode] = Server(models_dir, models, workers, mode is not False,
                                   scratch / f"{mode}.log", cache=mode == "cached")
            ready[mode] = servers[mode].wait_ready(models)
        floors = list(FLOORS) if args.floors else []
        for kind in floors:
            servers[kind] = Server(models_dir, models, workers, True, scratch / f"{kind}.log",
                                   floor=kind)
            servers[kind].wait_ready(models)
        modes = (True, False, "cached") if args.baseline else ()
        for mode in modes:
            servers[f"baseline:{mode}"] = Server(
                models_dir, models, workers, mode is not False,
                scratch / f"baseline-{mode}.log", cache=mode == "cached",
                bin_dir=args.baseline)
            servers[f"baseline:{mode}"].wait_ready(models)
        rss_ready = servers[True].worker_rss_mb()
        main_model = f"/api/v1/models/{args.model}"
        heavy = f"/api/v1/models/{args.heavy_model}"
        scenarios = [
            ("b_ceiling", True, "status", "/health/live", 32),
            ("c_single_on", True, "single", main_model + "/predict", 32),
            ("c_single_off", False, "single", main_model + "/predict", 32),
            ("d_bulk_on", True, "bulk", main_model + "/embed", 8),
            ("d_bulk_off", False, "bulk", main_model + "/embed", 8),
            ("d_bulk_b64_on", True, "bulk_b64", main_model + "/embed", 8),
            ("lstm_single_on", True, "single", heavy + "/predict", 32),
            ("lstm_single_off", False, "single", heavy + "/predict", 32),
            ("lstm_mixed_on", True, "mixed", heavy + "/predict", 32),
            ("overload_128", True, "single", main_model + "/predict", 128),
            # The same 64 titles again and again: after the first round, all hits.
            ("cached_single", "cached", "single", main_model + "/predict", 32),
        ]

        # Each reference server's run, and the baseline's, right after the
        # same scenario's on ours.
        def variants(scenario: tuple) -> list[tuple]:
            name, mode, *rest = scenario
            runs = [scenario]
            runs += [(f"{kind}:{name}", kind, *rest) for kind in floors
                     if name in FLOOR_SCENARIOS]
            if args.baseline:
                runs.append((f"baseline:{name}", f"baseline:{mode}", *rest))
            return runs

        scenarios = [variant for scenario in scenarios for variant in variants(scenario)]
        raw: dict[int, list[float]] = {1: [], 64: []}
        raw_cpu: dict[int, list[float]] = {1: [], 64: []}
        for run in range(args.runs):
            # The raw limit is measured in every run too, beside the served
            # scenarios it is compared with (the servers sit idle meanwhile).
            print(f"run {run + 1}/{args.runs}: raw pipeline limit ({workers} processes)",
                  flush=True)
            for batch in raw:
                per_s, load_s, cpu_us = raw_limit(models_dir, args.model, batch, workers,
                                                  seconds)
                raw[batch].append(per_s)
                raw_cpu[batch].append(cpu_us)
            for name, mode, script, path, connections in scenarios:
                print(f"run {run + 1}/{args.runs}: {name}", flush=True)
                cpu_before = servers[mode].worker_cpu_s()
                result = wrk(servers[mode].base + path, scripts[script], connections, seconds)
                result["cpu_us_per_req"] = ((servers[mode].worker_cpu_s() - cpu_before)
                                            / max(result["requests"], 1) * 1e6)
                results.setdefault(name, []).append(result)
        rss_after = servers[True].worker_rss_mb()
    finally:
        for server in servers.values():
            server.stop()

    def med(name: str, key: str) -> float:
        return median([r[key] for r in results[name]])

    keys = ("rps", "p50_us", "p99_us", "max_us", "non2xx", "socket_errors", "cpu_us_per_req",
            "client_cpu_us_per_req")
    report = {name: {key: med(name, key) for key in keys} for name in results}
    for name in ("d_bulk_on", "d_bulk_off", "d_bulk_b64_on"):
        report[name]["embeddings_per_s"] = report[name]["rps"] * 64

    # Scenarios of one run ran back to back: the median of per-run ratios
    # cancels the machine's slower drifts better than a ratio of medians.
    def paired(top: str, bottom: str) -> list[float]:
        return [a["rps"] / b["rps"] for a, b in zip(results[top], results[bottom])]

    def over_raw(name: str) -> list[float]:
        return [a["rps"] * 64 / b for a, b in zip(results[name], raw[64])]

    def against_limits(prefix: str = "") -> dict[str, list[float]]:
        return {"c_over_b": paired(prefix + "c_single_on", prefix + "b_ceiling"),
                "bulk_over_raw": over_raw(prefix + "d_bulk_on"),
                "bulk_b64_over_raw": over_raw(prefix + "d_bulk_b64_on")}

    raw_cpu_64 = median(raw_cpu[64])

    def cpu_against_limits(prefix: str = "") -> dict[str, float]:
        # The same comparisons in the CPU time the work took, which the
        # machine's noise moves less than throughput: the ceiling's or the
        # raw pipeline's CPU per unit over the served one's.
        def cpu(name: str) -> float:
            return report[prefix + name]["cpu_us_per_req"]

        return {"c_over_b": cpu("b_ceiling") / cpu("c_single_on"),
                "bulk_over_raw": raw_cpu_64 * 64 / cpu("d_bulk_on"),
                "bulk_b64_over_raw": raw_cpu_64 * 64 / cpu("d_bulk_b64_on")}

    per_run = {**against_limits(),
               "single_on_off": paired("c_single_on", "c_single_off"),
               "bulk_on_off": paired("d_bulk_on", "d_bulk_off"),
               "lstm_on_off": paired("lstm_single_on", "lstm_single_off"),
               "lstm_mixed_over_short": paired("lstm_mixed_on", "lstm_single_on"),
               "cached_over_uncached": paired("cached_single", "c_single_on")}
    report["ratios"] = {name: median(values) for name, values in per_run.items()}
    report["ratios_per_run"] = per_run
    report["cpu_ratios"] = cpu_against_limits()
    report["floors"] = {}
    for kind in floors:
        floor_runs = against_limits(f"{kind}:")
        report["floors"][kind] = {
            "ratios": {name: median(values) for name, values in floor_runs.items()},
            "ratios_per_run": floor_runs, "cpu_ratios": cpu_against_limits(f"{kind}:")}
    report["baseline"] = {}
    for name in list(results):
        if args.baseline and not name.startswith(("baseline:", *[f"{k}:" for k in floors])):
            runs = paired(name, f"baseline:{name}")
            report["baseline"][name] = {
                "ratio": median(runs), "per_run": runs,
                "cpu_ratio": report[f"baseline:{name}"]["cpu_us_per_req"]
                / report[name]["cpu_us_per_req"]}
    report["a_raw"] = {"batch1_per_s": median(raw[1]), "batch64_per_s": median(raw[64]),
                       "batch1_cpu_us_per_text": median(raw_cpu[1]),
                       "batch64_cpu_us_per_text": raw_cpu_64, "processes": workers}
    report["f_start"] = {"ready_s": ready, "worker_load_s": load_s,
                         "rss_ready_mb": rss_ready, "rss_after_load_mb": rss_after}
    print_table(report, workers, seconds, args.runs)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    shutil.rmtree(scratch, ignore_errors=True)


def print_table(r: dict, workers: int, seconds: int, runs: int) -> None:
    def ms(us: float) -> str:
        return f"{us / 1000:.1f} ms"

    print(f"\n{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {workers} workers, "
          f"wrk -t1, {seconds} s runs, median of {runs}\n")
    print("| scenario | result | p50 | p99 | p99/p50 | server CPU per request "
          "| client CPU per request |")
    print("|---|---|---|---|---|---|---|")
    raw = r["a_raw"]
    rows = [
        ("(a) raw pipeline, batch 1", f"{raw['batch1_per_s']:,.0f} emb/s "
         f"({raw['batch1_cpu_us_per_text']:.0f} µs CPU a text)", None),
        ("(a) raw pipeline, batch 64", f"{raw['batch64_per_s']:,.0f} emb/s "
         f"({raw['batch64_cpu_us_per_text'] * 64:,.0f} µs CPU per 64 texts)", None),
        ("(b) HTTP ceiling (GET /health/live)", f"{r['b_ceiling']['rps']:,.0f} req/s",
         "b_ceiling"),
        ("(c) single text, 32 conn, batching on", f"{r['c_single_on']['rps']:,.0f} req/s",
         "c_single_on"),
        ("(e) single text, 32 conn, batching off", f"{r['c_single_off']['rps']:,.0f} req/s",
         "c_single_off"),
        ("(d) 64 texts, 8 conn, batching on",
         f"{r['d_bulk_on']['embeddings_per_s']:,.0f} emb/s", "d_bulk_on"),
        ("(e) 64 texts, 8 conn, batching off",
         f"{r['d_bulk_off']['embeddings_per_s']:,.0f} emb/s", "d_bulk_off"),
        ("(d) 64 texts, 8 conn, batching on, base64",
         f"{r['d_bulk_b64_on']['embeddings_per_s']:,.0f} emb/s", "d_bulk_b64_on"),
        ("lstm single text, 32 conn, batching on",
         f"{r['lstm_single_on']['rps']:,.0f} req/s", "lstm_single_on"),
        ("lstm single text, 32 conn, batching off",
         f"{r['lstm_single_off']['rps']:,.0f} req/s", "lstm_single_off"),
        ("lstm single text, 32 conn, batching on, 1 in 16 of 300 words",
         f"{r['lstm_mixed_on']['rps']:,.0f} req/s", "lstm_mixed_on"),
        ("single text, repeated, cache on (c: cache off)",
         f"{r['cached_single']['rps']:,.0f} req/s", "cached_single"),
        ("overload: single text, 128 conn",
         f"{r['overload_128']['rps']:,.0f} req/s, {r['overload_128']['non2xx']:.0f} "
         f"non-2xx, {r['overload_128']['socket_errors']:.0f} socket errors, max "
         f"{ms(r['overload_128']['max_us'])}", "overload_128"),
    ]
    for label, value, key in rows:
        if key:
            p50, p99 = r[key]["p50_us"], r[key]["p99_us"]
            print(f"| {label} | {value} | {ms(p50)} | {ms(p99)} | {p99 / p50:.1f} | "
                  f"{r[key]['cpu_us_per_req']:,.0f} µs | "
                  f"{r[key]['client_cpu_us_per_req']:,.0f} µs |")
        else:
            print(f"| {label} | {value} | | | | | |")
    start = r["f_start"]
    print(f"| (f) start to ready (both models answer; one server starting alone) | "
          f"{start['ready_s'][True]:.1f} s (one worker's import + load: "
          f"{start['worker_load_s']:.1f} s) | | | | | |")
    print(f"| (f) RSS per worker, at ready / after the runs | "
          f"{max(start['rss_ready_mb']):.0f} / {max(start['rss_after_load_mb']):.0f} MB "
          "| | | | | |")
    print("\n(value: median of the per-run ratios of throughput; by CPU: the same "
          "comparison in CPU time per unit of work)")
    print("\n| ratio | value | per run | by CPU | target |")
    print("|---|---|---|---|---|")
    ratios = [
        ("(c) / (b): single text vs HTTP ceiling", "c_over_b", ">= 0.70"),
        ("(d) / (a, batch 64): bulk vs raw limit", "bulk_over_raw", ">= 0.60"),
        ("(d, base64) / (a, batch 64)", "bulk_b64_over_raw", ">= 0.60"),
        ("bow single text: batching on / off", "single_on_off", ""),
        ("bow 64 texts: batching on / off", "bulk_on_off", ""),
        ("lstm single text: batching on / off", "lstm_on_off", ">= 2.0"),
        ("lstm: 1 in 16 titles of 300 words / all short", "lstm_mixed_over_short", ""),
        ("repeated single text: cache on / off", "cached_over_uncached", ""),
    ]
    for label, key, target in ratios:
        runs = ", ".join(f"{value:.2f}" for value in r["ratios_per_run"][key])
        by_cpu = f"{r['cpu_ratios'][key]:.2f}" if key in r["cpu_ratios"] else ""
        print(f"| {label} | {r['ratios'][key]:.2f} | {runs} | {by_cpu} | {target} |")
    if r["floors"]:
        print_floors(r)
    if r["baseline"]:
        print_baseline(r)


def print_baseline(r: dict) -> None:
    """Each served scenario on this server over the baseline's, run by run."""
    print("\nThis server over the baseline (--baseline), each run side by side:")
    print("\n| scenario | throughput, this / baseline | per run | CPU per request, "
          "baseline / this | CPU per request, this and baseline |")
    print("|---|---|---|---|---|")
    for name, ratios in r["baseline"].items():
        runs = ", ".join(f"{value:.2f}" for value in ratios["per_run"])
        print(f"| {name} | {ratios['ratio']:.2f} | {runs} | {ratios['cpu_ratio']:.2f} | "
              f"{r[name]['cpu_us_per_req']:,.0f} and "
              f"{r['baseline:' + name]['cpu_us_per_req']:,.0f} µs |")


def print_floors(r: dict) -> None:
    """The target ratios of this server beside the reference servers'."""
    print("\nThe same ratios on reference servers (same workers, batcher and models):")
    print("\n| server | (c) / (b) | by CPU | (d) / (a), JSON | by CPU | (d, base64) / (a) "
          "| by CPU | CPU per request: (b), (c), (d) base64 |")
    print("|---|---|---|---|---|---|---|---|")
    rows = [("this server", "", r)] + [(label, f"{kind}:", r["floors"][kind])
                                       for kind, label in FLOORS.items() if kind in r["floors"]]
    for label, prefix, ratios in rows:
        cells = [f"{ratios[kind][key]:.2f}" for key in ("c_over_b", "bulk_over_raw",
                                                        "bulk_b64_over_raw")
                 for kind in ("ratios", "cpu_ratios")]
        cpu = ", ".join(f"{r[prefix + name]['cpu_us_per_req']:,.0f}"
                        for name in ("b_ceiling", "c_single_on", "d_bulk_b64_on"))
        print(f"| {label} | {' | '.join(cells)} | {cpu} µs |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--raw-worker":
        raw_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]),
                   int(sys.argv[6]))
    else:
        main()
