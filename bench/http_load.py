"""HTTP serving under bounded loopback load: /v1/act beside the Open Inference Protocol's
infer (JSON and binary tensors) with 1 and 2 uvicorn workers, hot reload under load, and
/healthz while 20 requests of ~1 MiB run.

    python bench/http_load.py [--policy POLICY.onnx] [--seconds 3] [--rounds 6]

`run_load` is the load generator (also used by bench/serve_latency.py): N keep-alive
connections on loopback, each sending one request after the other for a fixed time
(asyncio, one process, so the client costs little beside the server). Rounds alternate the
routes, so that each route's figures come from the same stretch of time. Writes
bench/results/http_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OBS = [0.01, -0.02, 0.03, 0.04]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


async def _client(host: str, port: int, request: bytes, deadline: float,
                  latencies: list[float], statuses: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, ValueError, StopIteration):
                statuses.append(0)  # a failed request: the connection is opened again
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            latencies.append(time.perf_counter() - start)
            statuses.append(status)
    finally:
        writer.close()


def run_load(host: str, port: int, path: str, body: bytes, clients: int = 4,
             seconds: float = 10.0, headers: dict[str, str] | None = None) -> dict:
    """Requests/s, latency p50/p99 (ms) and error count for `clients` concurrent clients."""
    if host not in LOOPBACK:
        raise ValueError(f"load tests target loopback only, got {host}")
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    request = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
               f"{extra}Content-Length: {len(body)}\r\n\r\n").encode() + body
    latencies: list[float] = []
    statuses: list[int] = []

    async def main() -> float:
        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(*(_client(host, port, request, deadline, latencies, statuses)
                               for _ in range(clients)))
        return time.perf_counter() - start

    wall = asyncio.run(main())
    ms = np.asarray(latencies) * 1000
    return {"clients": clients, "seconds": round(wall, 2), "requests": len(statuses),
            "requests_per_s": round(len(latencies) / wall, 1),
            "latency_p50_ms": round(float(np.percentile(ms, 50)), 3),
            "latency_p99_ms": round(float(np.percentile(ms, 99)), 3),
            "errors": sum(s != 200 for s in statuses)}


def requests_of_each_route() -> dict[str, tuple[str, bytes, dict[str, str]]]:
    """One observation per request, as each protocol sends it."""
    v2_json = json.dumps({"inputs": [{"name": "obs", "shape": [1, 4], "datatype": "FP32",
                                      "data": OBS}]}).encode()
    header = json.dumps({"inputs": [{"name": "obs", "shape": [1, 4], "datatype": "FP32",
                                     "parameters": {"binary_data_size": 16}}],
                         "parameters": {"binary_data_output": True}}).encode()
    return {"v1_act": ("/v1/act", json.dumps({"obs": OBS}).encode(), {}),
            "v2_infer_json": ("/v2/models/policy/infer", v2_json, {}),
            "v2_infer_binary": ("/v2/models/policy/infer",
                                header + np.asarray(OBS, "<f4").tobytes(),
                                {"Inference-Header-Content-Length": str(len(header))})}


@contextlib.contextmanager
def server(policy: Path, *args: str):
    """`python -m serve POLICY --http ARGS` on a free loopback port; yields the port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "serve", str(policy), "--http", "--port",
                             str(port), *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.0)  # every worker up
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def routes_side_by_side(policy: Path, workers: int, seconds: float, rounds: int) -> dict:
    """Each route's figures over `rounds` alternating rounds: the median round's req/s and
    p50, the worst round's p99, and v2's requests/s over v1's (the median of the rounds'
    ratios)."""
    routes = requests_of_each_route()
    runs: dict[str, list[dict]] = {name: [] for name in routes}
    with server(policy, "--workers", str(workers)) as port:
        for path, body, headers in routes.values():  # warm-up
            run_load("127.0.0.1", port, path, body, seconds=1.0, headers=headers)
        for _ in range(rounds):
            for name, (path, body, headers) in routes.items():
                runs[name].append(run_load("127.0.0.1", port, path, body, seconds=seconds,
                                           headers=headers))
    result = {name: {"requests_per_s": float(np.median([r["requests_per_s"] for r in rs])),
                     "latency_p50_ms": float(np.median([r["latency_p50_ms"] for r in rs])),
                     "latency_p99_ms": max(r["latency_p99_ms"] for r in rs),
                     "errors": sum(r["errors"] for r in rs),
                     "rounds_requests_per_s": [r["requests_per_s"] for r in rs]}
              for name, rs in runs.items()}
    for name in ("v2_infer_json", "v2_infer_binary"):
        # Each round's v2 over the v1 round just before it: the same load on the machine.
        ratios = [v2["requests_per_s"] / v1["requests_per_s"]
                  for v1, v2 in zip(runs["v1_act"], runs[name], strict=True)]
        result[name]["ratio_to_v1"] = round(float(np.median(ratios)), 3)
        result[name]["rounds_ratio_to_v1"] = [round(r, 3) for r in ratios]
    return result


def other_version(policy: Path, path: Path) -> Path:
    """The same policy re-saved with another created_at: other bytes, so a real swap (load,
    check, swap), as a retrained policy would be."""
    import onnx

    model = onnx.load(policy)
    for prop in model.metadata_props:
        if prop.key == "created_at":
            prop.value = json.dumps("2000-01-01T00:00:00+00:00")
    onnx.save(model, path)
    return path


def hot_reload(policy: Path, seconds: float, tmp: Path) -> dict:
    """v1 load with no swap, then the same load while the file is replaced every 0.5 s
    (two versions alternating, written to a temporary name and renamed, as export does)."""
    served, versions = tmp / "policy.onnx", [policy, other_version(policy, tmp / "b.onnx")]
    served.write_bytes(policy.read_bytes())
    path, body, _ = requests_of_each_route()["v1_act"]
    with server(served) as port:
        run_load("127.0.0.1", port, path, body, seconds=1.0)
        quiet = run_load("127.0.0.1", port, path, body, seconds=seconds)
        stop, swaps = threading.Event(), [0]

        def swapper():
            while not stop.wait(0.5):
                swaps[0] += 1
                tmp_file = tmp / ".policy.onnx.tmp"
                tmp_file.write_bytes(versions[swaps[0] % 2].read_bytes())
                os.replace(tmp_file, served)

        thread = threading.Thread(target=swapper)
        thread.start()
        swapping = run_load("127.0.0.1", port, path, body, seconds=seconds)
        stop.set()
        thread.join()
        time.sleep(1.0)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/models/policy") as answer:
            version = json.loads(answer.read())["versions"][0]
    return {"without_swaps": quiet, "with_swaps": swapping, "files_replaced": swaps[0],
            "version_served_at_end": int(version),
            "failed_requests": swapping["errors"] + quiet["errors"]}


def health_under_large_requests(policy: Path, processes: int) -> dict:
    """/healthz latency every 20 ms while 20 concurrent /v1/act requests of just under 1 MiB
    (43,679 observations of one decimal each) run; --decode-processes `processes`."""
    sys.path.insert(0, str(ROOT))
    from tests.servers import big_body, health_latencies, post

    body, rows = big_body()

    async def load(port):
        latencies, stop = [], asyncio.Event()
        probe = asyncio.create_task(health_latencies(port, stop, latencies))
        await asyncio.sleep(0.2)
        start = time.perf_counter()
        statuses = await asyncio.gather(*(post(port, "/v1/act", body) for _ in range(20)))
        wall = time.perf_counter() - start
        stop.set()
        await probe
        return statuses, latencies, wall

    with server(policy, "--max-batch", str(rows), "--decode-processes", str(processes)) as port:
        statuses, latencies, wall = asyncio.run(load(port))
    ms = np.asarray(latencies) * 1000
    return {"decode_processes": processes, "body_bytes": len(body), "observations": rows,
            "statuses": sorted(set(statuses)), "wall_s": round(wall, 2), "probes": len(ms),
            "healthz_p50_ms": round(float(np.median(ms)), 1),
            "healthz_max_ms": round(float(ms.max()), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", type=Path, default=None,
                        help="a CartPole policy.onnx (default: train one now, not timed)")
    parser.add_argument("--seconds", type=float, default=3.0, help="per round (default: 3)")
    parser.add_argument("--rounds", type=int, default=6, help="per route (default: 6)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/http_load.json")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.train_speed import machine

    with tempfile.TemporaryDirectory() as tmp:
        policy = args.policy
        if policy is None:
            subprocess.run([sys.executable, "-m", "keras_pg", "train", "--quiet", "--run-dir",
                            f"{tmp}/run"], cwd=ROOT, check=True, capture_output=True)
            policy = Path(tmp) / "run" / "policy.onnx"
        result = {"benchmark": "http_load", "machine": machine(),
                  "date": time.strftime("%Y-%m-%d"), "clients": 4,
                  "seconds_per_round": args.seconds, "rounds": args.rounds,
                  "workers_1": routes_side_by_side(policy, 1, args.seconds, args.rounds),
                  "workers_2": routes_side_by_side(policy, 2, args.seconds, args.rounds),
                  "hot_reload": hot_reload(policy, 2 * args.seconds, Path(tmp)),
                  "healthz_under_20_large_requests": [
                      health_under_large_requests(policy, 1),
                      health_under_large_requests(policy, 0)]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
