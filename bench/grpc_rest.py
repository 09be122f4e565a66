"""The Open Inference Protocol's infer over gRPC beside REST, on one served CartPole-shaped
policy (`python -m serve POLICY --http --grpc-port N`), side by side in the same run.

    python bench/grpc_rest.py [--seconds 5] [--rounds 4] [--clients 4]

Each client sends one request after the other on its own connection for a fixed time, a
request built once as tritonclient sends it: REST with binary tensor data
(bench/http_load.py's run_load, raw HTTP/1.1 keep-alive), gRPC a serialized ModelInferRequest
with raw_input_contents on its own HTTP/2 channel (grpc.aio, bytes in and out), so neither
client decodes more than it must. Rounds alternate the protocols so that each one's figures
come from the same stretch of time; each batch size is measured so. Writes
bench/results/grpc_rest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"


def grpc_request(observations: int) -> bytes:
    """A serialized ModelInferRequest of `observations` zeros, as tritonclient.grpc sends it."""
    from tritonclient.grpc import service_pb2

    request = service_pb2.ModelInferRequest(model_name="policy")
    request.inputs.add(name="obs", datatype="FP32", shape=[observations, 4])
    request.raw_input_contents.append(np.zeros((observations, 4), "<f4").tobytes())
    return request.SerializeToString()


def rest_request(observations: int) -> tuple[str, bytes, dict[str, str]]:
    """(path, body, headers) of the same request as tritonclient.http sends it."""
    header = json.dumps({"inputs": [{"name": "obs", "shape": [observations, 4],
                                     "datatype": "FP32",
                                     "parameters": {"binary_data_size": 16 * observations}}],
                         "parameters": {"binary_data_output": True}}).encode()
    body = header + np.zeros((observations, 4), "<f4").tobytes()
    return ("/v2/models/policy/infer", body,
            {"Inference-Header-Content-Length": str(len(header))})


async def _grpc_client(port: int, request: bytes, deadline: float, latencies: list[float],
                       errors: list[int]) -> None:
    # A channel of its own (no shared subchannel): one HTTP/2 connection per client.
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}",
                                         options=[("grpc.use_local_subchannel_pool", 1)]) as ch:
        infer = ch.unary_unary(MODEL_INFER)  # bytes in, bytes out
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                await infer(request)
            except grpc.aio.AioRpcError:
                errors.append(1)
                continue
            latencies.append(time.perf_counter() - start)


def run_grpc_load(port: int, request: bytes, clients: int, seconds: float) -> dict:
    """Requests/s, latency p50/p99 (ms) and error count for `clients` concurrent clients."""
    latencies: list[float] = []
    errors: list[int] = []

    async def main() -> float:
        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(*(_grpc_client(port, request, deadline, latencies, errors)
                               for _ in range(clients)))
        return time.perf_counter() - start

    wall = asyncio.run(main())
    ms = np.asarray(latencies) * 1000
    return {"clients": clients, "seconds": round(wall, 2),
            "requests": len(latencies) + len(errors),
            "requests_per_s": round(len(latencies) / wall, 1),
            "latency_p50_ms": round(float(np.percentile(ms, 50)), 3),
            "latency_p99_ms": round(float(np.percentile(ms, 99)), 3), "errors": len(errors)}


@contextlib.contextmanager
def server(policy: Path, *args: str):
    """`python -m serve POLICY --http --grpc-port G ARGS` on free loopback ports; yields
    (HTTP port, gRPC port)."""
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    proc = subprocess.Popen([sys.executable, "-m", "serve", str(policy), "--http", "--port",
                             str(ports[0]), "--grpc-port", str(ports[1]), *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", ports[0]), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.0)
        yield ports[0], ports[1]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def side_by_side(policy: Path, observations: int, clients: int, seconds: float,
                 rounds: int, server_args: tuple[str, ...] = ()) -> dict:
    """Each protocol's median round (req/s, p50), worst p99, and gRPC's req/s over REST's
    (the median of the rounds' ratios, each gRPC round over the REST round just before)."""
    from bench.http_load import run_load

    path, body, headers = rest_request(observations)
    message = grpc_request(observations)
    runs: dict[str, list[dict]] = {"rest": [], "grpc": []}
    with server(policy, *server_args) as (http, rpc):
        run_load("127.0.0.1", http, path, body, clients, 1.0, headers)  # warm-up
        run_grpc_load(rpc, message, clients, 1.0)
        for _ in range(rounds):
            runs["rest"].append(run_load("127.0.0.1", http, path, body, clients, seconds,
                                         headers))
            runs["grpc"].append(run_grpc_load(rpc, message, clients, seconds))
    result = {name: {"requests_per_s": round(float(np.median(
                         [r["requests_per_s"] for r in rs])), 1),
                     "latency_p50_ms": round(float(np.median(
                         [r["latency_p50_ms"] for r in rs])), 3),
                     "latency_p99_ms": max(r["latency_p99_ms"] for r in rs),
                     "errors": sum(r["errors"] for r in rs),
                     "rounds_requests_per_s": [r["requests_per_s"] for r in rs]}
              for name, rs in runs.items()}
    ratios = [g["requests_per_s"] / r["requests_per_s"]
              for r, g in zip(runs["rest"], runs["grpc"], strict=True)]
    result["grpc_over_rest_requests_per_s"] = round(float(np.median(ratios)), 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per round (default: 5)")
    parser.add_argument("--rounds", type=int, default=4, help="per protocol (default: 4)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent (default: 4)")
    parser.add_argument("--inference-threads", type=int, nargs="+", default=[2],
                        help="the server's --inference-threads, one run each (default: 2)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/grpc_rest.json")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.train_speed import machine
    from tests.linear_policies import discrete_policy

    with tempfile.TemporaryDirectory() as tmp:
        policy = discrete_policy(Path(tmp) / "policy.onnx")  # CartPole's shapes
        runs = {f"inference_threads_{threads}_batch_{observations}": side_by_side(
                    policy, observations, args.clients, args.seconds, args.rounds,
                    ("--inference-threads", str(threads)))
                for threads in args.inference_threads for observations in (1, 256)}
    result = {"benchmark": "grpc_rest", "machine": machine(),
              "date": time.strftime("%Y-%m-%d"), "policy": "tests/linear_policies.py "
              "discrete_policy (obs [B, 4] FP32 -> probs [B, 2], action [B, 1])",
              "clients": args.clients, "seconds_per_round": args.seconds,
              "rounds": args.rounds, **runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
