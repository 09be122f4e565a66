"""`python -m serve POLICY.onnx`: run episodes, or serve the policy over HTTP;
`python -m serve --model-repository DIR`: serve a Triton model repository over HTTP."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from serve import contract
from serve.config import ServiceConfig
from serve.policy import OnnxPolicy, PolicyLoadError
from serve.ports import check_free, check_port

TRAINED_ENV = "the metadata's, unless --env names another env"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m serve", description="Run a keras_pg ONNX policy with onnxruntime.")
    parser.add_argument("policy", type=Path, nargs="?", default=None,
                        help="the .onnx file (or give --model-repository)")
    parser.add_argument("--env", default=None, metavar="ID",
                        help="a gymnasium env id, or module:EnvId to import the module that "
                             "registers it (default: the metadata's)")
    parser.add_argument("--env-kwargs", default=None, metavar="JSON",
                        help="gymnasium.make keyword arguments as a JSON object, e.g. "
                             f"'{{\"is_slippery\": false}}' (default: {TRAINED_ENV})")
    parser.add_argument("--max-episode-steps", type=int, default=None, metavar="N",
                        help=f"time limit per episode (default: {TRAINED_ENV})")
    parser.add_argument("--episodes", type=int, default=100, help="episodes (default: 100)")
    parser.add_argument("--seed", type=int, default=0,
                        help="episode i resets with seed+i; also seeds sampling (default: 0)")
    parser.add_argument("--stochastic", action="store_true",
                        help="sample actions from probs instead of the greedy action")
    parser.add_argument("--gif", type=Path, default=None, help="write the first episode as a GIF")
    parser.add_argument("--threads", type=int, default=1,
                        help="onnxruntime intra-op threads (default: 1)")
    _http_arguments(parser.add_argument_group(
        "HTTP service", "/v1 routes, the Open Inference Protocol (v2), hot reload of the file"))
    parser.add_argument("--observation-shape", default=None, metavar="DIMS",
                        help="for an .onnx without keras_pg metadata: the observation shape, "
                             "comma-separated, e.g. 4 or 84,84,3 (the episodes need --env)")
    parser.add_argument("--action-type", choices=tuple(contract.ACTION_TYPES), default=None,
                        help="for an .onnx without keras_pg metadata: discrete (the first "
                             "output holds logits, or an output named probs) or continuous "
                             "(the first output is the action)")
    return parser


def _http_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument("--http", action="store_true", help="serve over HTTP instead")
    group.add_argument("--host", default="127.0.0.1",
                       help="bind address (default: loopback; any other warns without a key)")
    group.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    group.add_argument("--grpc-port", type=int, default=None, metavar="N",
                       help="also serve the Open Inference Protocol over gRPC on port N "
                            "(tritonclient.grpc; needs the extra grpc); implies --http")
    group.add_argument("--model-repository", default=None, metavar="DIR",
                       help="serve every model of a Triton model repository "
                            "(DIR/NAME/<version>/model.onnx) under its name; implies --http")
    group.add_argument("--model-name", default=None, metavar="NAME",
                       help="the policy's name in the v2 routes (default: the file's stem)")
    group.add_argument("--workers", type=int, default=1,
                       help="uvicorn worker processes (default: 1)")
    group.add_argument("--api-key-file", default=None, metavar="FILE",
                       help="API keys, one per line: every route but health then needs "
                            "'Authorization: Bearer KEY' (default: $KERAS_PG_API_KEY, if set)")
    group.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                       help="let browser pages of ORIGIN call the service (repeatable; "
                            "default: none)")
    group.add_argument("--max-body-bytes", type=int, default=ServiceConfig.max_body_bytes,
                       metavar="N", help="larger request bodies get 413 (default: 1 MiB)")
    group.add_argument("--max-batch", type=int, default=ServiceConfig.max_batch, metavar="N",
                       help="requests of more observations get 413 (default: "
                            f"{ServiceConfig.max_batch})")
    group.add_argument("--reload-interval", type=float, default=ServiceConfig.reload_interval,
                       metavar="S", help="seconds between checks of the file for a "
                                         "replacement; 0 turns hot reload off (default: 0.5)")
    group.add_argument("--inference-threads", type=int,
                       default=ServiceConfig.inference_threads, metavar="N",
                       help="requests worked on at once in threads beside the event loop "
                            "(default: 2)")
    group.add_argument("--decode-processes", type=int, default=ServiceConfig.decode_processes,
                       metavar="N", help="worker processes decoding and encoding bodies over "
                                         "64 KiB (default: 1; 0: in the threads)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_numbers(args)
        if args.http or args.model_repository is not None or args.grpc_port is not None:
            return _http(args)
        if args.policy is None:
            raise ValueError("give a policy .onnx file (or --model-repository DIR)")
        env_kwargs = _json_object(args.env_kwargs)
        policy = OnnxPolicy(args.policy, seed=args.seed, intra_op_threads=args.threads,
                            observation_shape=_dims(args.observation_shape),
                            action_type=args.action_type)
        return _episodes(policy, args, env_kwargs)
    except (PolicyLoadError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _http(args: argparse.Namespace) -> int:
    """Serve over HTTP: every option checked, the ports found free and every model loaded
    before the service is announced."""
    from serve.auth import load_keys
    from serve.http import serve_http
    from serve.repository import load_models

    check_port(args.port, "--port")
    config = ServiceConfig(
        policy=None if args.policy is None else str(args.policy), model_name=args.model_name,
        repository=args.model_repository, host=args.host, port=args.port,
        grpc_port=args.grpc_port,
        workers=args.workers, api_key_file=args.api_key_file,
        cors_origins=tuple(args.cors_origin), max_body_bytes=args.max_body_bytes,
        max_batch=args.max_batch, reload_interval=args.reload_interval,
        inference_threads=args.inference_threads, decode_processes=args.decode_processes,
        intra_op_threads=args.threads,
        seed=args.seed, observation_shape=_dims(args.observation_shape),
        action_type=args.action_type)
    load_keys(config.api_key_file)
    check_free(config.host, config.port, "--port")
    if config.grpc_port is not None:
        _check_grpc(config.host, config.grpc_port)
    models = load_models(config)
    names = ", ".join(models)
    grpc = "" if args.grpc_port is None else f" and grpc://{args.host}:{args.grpc_port}"
    print(f"serving {names} on http://{args.host}:{args.port}{grpc} with {config.workers} "
          f"worker(s) (POST /v1/act, /v2/models/NAME/infer; GET /v1/metadata, /v2/models/"
          f"NAME, /healthz, /docs)", flush=True)
    policy = next(iter(models.values())).current.policy if config.policy else None
    serve_http(config, policy)
    return 0


def _check_grpc(host: str, port: int) -> None:
    """The gRPC service's requirements are installed and `port` is free on `host`."""
    try:
        importlib.import_module("serve.grpc_v2")
    except ImportError as exc:
        raise ValueError(f"--grpc-port needs grpcio and tritonclient[grpc] ({exc}); pip "
                         "install './serve[grpc]'") from None
    check_free(host, port, "--grpc-port")


def _check_numbers(args: argparse.Namespace) -> None:
    if args.threads <= 0:
        raise ValueError(f"--threads must be a positive integer, got {args.threads}")
    if args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {args.seed}")


def _dims(text: str | None) -> tuple[int, ...] | None:
    """--observation-shape "84,84,3" as (84, 84, 3) (None when not given)."""
    if text is None:
        return None
    try:
        dims = tuple(int(d) for d in text.split(","))
    except ValueError:
        dims = ()
    if not dims or min(dims) < 1:
        raise ValueError(f"--observation-shape must be comma-separated positive integers such "
                         f"as 4 or 84,84,3, got {text!r}")
    return dims


def _json_object(text: str | None) -> dict[str, Any] | None:
    """--env-kwargs as a dict (None when not given)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--env-kwargs must be a JSON object, got {text!r}: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"--env-kwargs must be a JSON object such as '{{\"is_slippery\": "
                         f"false}}', got {text!r}")
    return value


def _episodes(policy: OnnxPolicy, args: argparse.Namespace,
              env_kwargs: dict[str, Any] | None) -> int:
    import gymnasium as gym

    from serve.episodes import run_episodes

    try:
        result = run_episodes(policy, args.env, args.episodes, seed=args.seed,
                              deterministic=not args.stochastic, gif=args.gif,
                              env_kwargs=env_kwargs, max_episode_steps=args.max_episode_steps)
    except gym.error.Error as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    mode = "sampled" if args.stochastic else "greedy"
    print(f"{result['env_id']}: return {result['mean_return']:.1f} ± {result['std_return']:.1f} "
          f"over {result['episodes']} episodes ({mode}); act() latency p50 "
          f"{result['latency_p50_us']:.1f} µs, p99 {result['latency_p99_us']:.1f} µs")
    if args.gif:
        print(f"wrote {args.gif}")
    return 0
