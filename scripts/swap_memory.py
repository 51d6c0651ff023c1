"""Memory across hot swaps: does a worker give back each replaced version?

    python scripts/swap_memory.py [--models-dir DIR] [--model bow-spanish] [--swaps 20]

Serves one model (one worker, on 127.0.0.1) from a versioned copy of its
directory, then `--swaps` times: drops in the next version, deletes the
previous one, asks the server to reload (POST .../reload), checks the new
version answers, and waits --settle seconds (the replaced version is
released in the background). Prints the worker's RSS after each swap, the growth from the
first swap to the last, and (the figure a leak shows in) the median RSS of
the later half of the swaps less that of the earlier half.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import Server  # noqa: E402  (a sibling script)


def post(url: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body or {}).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def second_half_growth(rss: list[float]) -> float:
    """Median RSS of the later half of the swaps less that of the earlier half.

    `rss[0]` is the start, left out: the first swap also warms up what
    loading in a thread allocates once (a malloc arena). A leak grows every
    swap, while one reading can dip or peak by tens of MB (the background
    release, the allocator): medians of the halves see the first and not the
    second. With an odd count the middle swap is in neither half.
    """
    swaps = rss[1:]
    size = len(swaps) // 2
    if size == 0:
        raise ValueError("needs at least 2 swaps")
    return median(swaps[len(swaps) - size:]) - median(swaps[:size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", default=os.environ.get("MODELS_BASE_DIR", "models"))
    parser.add_argument("--model", default="bow-spanish")
    parser.add_argument("--swaps", type=int, default=20)
    parser.add_argument("--settle", type=float, default=1.0,
                        help="seconds to wait after each swap before reading RSS")
    args = parser.parse_args()
    if args.swaps < 2:
        parser.error("--swaps must be at least 2 (the growth compares two halves)")
    source = Path(args.models_dir) / args.model
    work = Path(tempfile.mkdtemp(prefix="swap-memory-"))
    shutil.copytree(source, work / args.model / "1")
    os.environ["MODEL_SETTLE_MS"] = "100"
    server = Server(work, [args.model], workers=1, batching=True, log=work / "server.log")
    try:
        server.wait_ready([args.model])
        url = f"{server.base}/api/v1/models/{args.model}"
        rss = [server.worker_rss_mb()[0]]
        print(f"start: version 1, RSS {rss[0]:.1f} MB")
        for version in range(2, args.swaps + 2):
            staging = work / args.model / f".staging-{version}"
            shutil.copytree(source, staging)
            os.replace(staging, work / args.model / str(version))
            shutil.rmtree(work / args.model / str(version - 1))
            served = post(url + "/reload")["version"]
            answered = post(url + "/embed", {"texts": ["hola"]})["model_version"]
            if served != version or answered != version:
                raise SystemExit(f"swap to {version} failed: serving {served}, "
                                 f"answered by {answered}")
            time.sleep(args.settle)  # the old version is released in the background
            rss.append(server.worker_rss_mb()[0])
            print(f"swap {version - 1}: version {version}, RSS {rss[-1]:.1f} MB")
        print(f"RESULT swaps={args.swaps} start_mb={rss[0]:.1f} after_first_mb={rss[1]:.1f} "
              f"last_mb={rss[-1]:.1f} max_mb={max(rss):.1f} "
              f"growth_after_first_mb={rss[-1] - rss[1]:.1f} "
              f"growth_second_half_mb={second_half_growth(rss):.1f}")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
