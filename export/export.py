"""`to_onnx` and `export_policy`: convert, verify, then write the file atomically."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import keras

import keras_pg
from export.checks import (
    DEFAULT_OPSET,
    ONNX_FILE,
    check_opset,
    check_writable,
    check_writable_directory,
)
from export.convert import policy_function, to_model_proto
from export.errors import ExportError
from export.precision import in_float32
from export.quantize import check_dtype, quantized_name
from export.quantize import quantize as quantize_model
from export.source import PolicySource, load_source, training_env
from export.verify import rollout_observations, sample_observations, verify
from export.verify_recurrent import Episodes, rollout_episodes, sampled_episodes, verify_recurrent
from keras_pg.envs.masks import branches as mask_branches
from keras_pg.observations import Obs, map_obs
from keras_pg.policy import is_recurrent, make_head
from keras_pg.run import RunDirError, RunDirLock, atomic_write, write_json
from keras_pg.run.run_dir import CONFIG
from serve.envs import is_factory_name

REPORT = "export_report.json"
"""The export report's file name in a run directory (to_onnx returns it too)."""
VERIFY_OBSERVATIONS = 1000  # per set: sampled from the space, and met in rollouts


def to_onnx(source: keras_pg.REINFORCE | keras.Model | str | Path,
            path: str | Path | None = None, *,
            opset: int = DEFAULT_OPSET, env_id: str | None = None, seed: int = 0,
            quantize: str | None = None) -> dict[str, Any]:
    """Export a keras_pg policy to ONNX, verify it, and write it atomically.

    Args:
        source: a `keras_pg.REINFORCE` agent, a run directory, a `model.keras` file, or a
            keras.Model (then give env_id).
        path: the output file (default: RUN_DIR/policy.onnx, or RUN_DIR/policy.int8.onnx
            when quantized; an agent without a run directory needs one).
        opset: the ONNX opset, 13 to 18.
        env_id: the gymnasium id, when the source has no config.json.
        seed: seeds the verification observations.
        quantize: None, or "int8": write the int8 model instead (export/quantize.py),
            checked against the verified float model; ExportError below 99% greedy agreement.

    Returns:
        The export report (also written as RUN_DIR/export_report.json for a run directory;
        export_report.int8.json for an int8 export, which leaves the float one's alone).
        Nothing is written when conversion or verification fails. A run directory is locked
        meanwhile: exporting one that a trainer is writing is an ExportError naming the
        trainer's process (an agent's own run directory: see `REINFORCE.writing`).
    """
    check_opset(opset)
    with _run_dir_lock(source):
        return export_policy(load_source(source, env_id), path, opset=opset, seed=seed,
                             quantize=quantize)


@contextlib.contextmanager
def _run_dir_lock(source: keras_pg.REINFORCE | keras.Model | str | Path) -> Iterator[None]:
    """Hold the lock of the run directory `source` is (or holds the .keras file of, or the
    agent writes), if any."""
    if isinstance(source, keras_pg.REINFORCE):
        with source.writing():
            yield
        return
    path = None if isinstance(source, keras.Model) else Path(source)
    run_dir = path if path is None or path.is_dir() else path.parent
    if run_dir is None or not (run_dir / CONFIG).exists():
        yield
        return
    lock = RunDirLock(run_dir)
    try:
        lock.acquire()
    except RunDirError as exc:
        raise ExportError(str(exc)) from None
    try:
        yield
    finally:
        lock.release()


def export_policy(policy: PolicySource, path: str | Path | None = None, *,
                  opset: int = DEFAULT_OPSET, seed: int = 0,
                  quantize: str | None = None) -> dict[str, Any]:
    """`to_onnx` for a PolicySource (a policy and what is known about its training).

    Verification runs on VERIFY_OBSERVATIONS observations sampled from the observation
    space and as many met by the policy: those kept from training when there are some,
    else from rollouts in the env, the converted file acting in onnxruntime (skipped for an
    env only a Python callable can create).
    With `quantize` ("int8"), the verified float model is quantized and compared with it on
    the same observations (export/quantize.py); the int8 model is written, with its
    "quantization" report.
    """
    start = time.perf_counter()
    check_opset(opset)
    if quantize is not None:
        check_dtype(quantize)
    policy = dataclasses.replace(policy, model=in_float32(policy.model))
    if path is None:
        if policy.run_dir is None:
            raise ExportError("no run directory to write into (a keras.Model, or an agent "
                              "without run_dir): pass the output path")
        path = policy.run_dir / (ONNX_FILE if quantize is None else quantized_name(
            ONNX_FILE, quantize))
    path = Path(path)
    check_writable(path)
    report_name = REPORT if quantize is None else quantized_name(REPORT, quantize)
    if policy.run_dir is not None:
        check_writable_directory(policy.run_dir / report_name, policy.run_dir)
    recurrent = is_recurrent(policy.model)
    if recurrent and quantize is not None:
        raise ExportError("--quantize int8 takes feed-forward policies; this one is recurrent "
                          "(export it in float32)")
    head = make_head(policy.action_space)
    function = policy_function(policy.model, head)
    model_bytes = to_model_proto(policy, opset, function).SerializeToString()
    branches = mask_branches(policy.action_space) if head.maskable else None
    if recurrent:
        report = verify_recurrent(model_bytes, function, _episodes(policy, model_bytes, seed),
                                  branches)
    else:
        observations = _observations(policy, model_bytes, seed)
        report = verify(model_bytes, function, observations, branches)
    if quantize is not None:
        model_bytes, report["quantization"] = quantize_model(
            model_bytes, observations, policy.action_space, quantize)
    atomic_write(path, lambda tmp: tmp.write_bytes(model_bytes))
    report |= {"path": str(path), "opset": opset, "file_bytes": len(model_bytes),
               "env_id": policy.env_id, "export_s": round(time.perf_counter() - start, 3)}
    if policy.run_dir is not None:
        write_json(policy.run_dir / report_name, report)
    return report



def _env_maker(policy: PolicySource) -> Callable[[], gym.Env] | None:
    """A function making the policy's training env, when it can be made here (None: no
    env id, or a Python callable's); a one-line ExportError when its id is known but the
    env cannot be made."""
    config = policy.config  # env_id is read from it: not None when env_id is set
    if config is None or not policy.env_id or is_factory_name(policy.env_id):
        return None
    training_env(config, policy.mask_source).close()
    return lambda: training_env(config, policy.mask_source)


def _observations(policy: PolicySource, model_bytes: bytes, seed: int) -> dict[str, Obs]:
    """The observations a feed-forward policy is verified on: VERIFY_OBSERVATIONS sampled
    from its space, and as many met (kept from training, else from rollouts of the file)."""
    sets = {"sampled": sample_observations(policy.observation_space, VERIFY_OBSERVATIONS, seed)}
    if policy.observations is not None:
        sets["rollout"] = map_obs(lambda part: part[:VERIFY_OBSERVATIONS], policy.observations)
    elif (make_env := _env_maker(policy)) is not None:
        sets["rollout"] = rollout_observations(model_bytes, make_env, VERIFY_OBSERVATIONS, seed)
    return sets


def _episodes(policy: PolicySource, model_bytes: bytes, seed: int) -> dict[str, Episodes]:
    """The episodes a recurrent policy is verified on: VERIFY_OBSERVATIONS sampled from its
    space, cut into episodes, and whole episodes of at least as many steps met by the file
    in rollouts of its env (when the env can be made here: the observations kept from
    training are not whole episodes)."""
    sets = {"sampled": sampled_episodes(policy.observation_space, VERIFY_OBSERVATIONS, seed)}
    if (make_env := _env_maker(policy)) is not None:
        sets["rollout"] = rollout_episodes(model_bytes, make_env, VERIFY_OBSERVATIONS, seed)
    return sets
