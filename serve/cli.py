"""`python -m serve POLICY.onnx`: run episodes, or serve the policy over HTTP."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from serve.policy import OnnxPolicy, PolicyLoadError

TRAINED_ENV = "the metadata's, unless --env names another env"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m serve", description="Run a keras_pg ONNX policy with onnxruntime.")
    parser.add_argument("policy", type=Path, help="the .onnx file")
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
    parser.add_argument("--http", action="store_true", help="serve over HTTP instead")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default: loopback)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (default: 8000)")
    parser.add_argument("--observation-shape", default=None, metavar="DIMS",
                        help="for an .onnx without keras_pg metadata: the observation shape, "
                             "comma-separated, e.g. 4 or 84,84,3 (the episodes need --env)")
    parser.add_argument("--action-type", choices=("discrete", "continuous"), default=None,
                        help="for an .onnx without keras_pg metadata: discrete (the first "
                             "output holds logits, or an output named probs) or continuous "
                             "(the first output is the action)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_numbers(args)
        env_kwargs = _json_object(args.env_kwargs)
        policy = OnnxPolicy(args.policy, seed=args.seed, intra_op_threads=args.threads,
                            observation_shape=_dims(args.observation_shape),
                            action_type=args.action_type)
        if args.http:
            from serve.http import check_port, serve_http

            check_port(args.port, "--port")
            print(f"serving {args.policy} on http://{args.host}:{args.port} "
                  f"(POST /v1/act, GET /v1/metadata, /healthz, /docs)", flush=True)
            serve_http(policy, args.host, args.port)
            return 0
        return _episodes(policy, args, env_kwargs)
    except (PolicyLoadError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


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


def _json_object(text: str | None) -> dict | None:
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


def _episodes(policy: OnnxPolicy, args: argparse.Namespace, env_kwargs: dict | None) -> int:
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
