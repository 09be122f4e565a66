"""`keras_pg.REINFORCE`: train, predict, evaluate, save and load from Python.

    agent = keras_pg.REINFORCE("CartPole-v1", seed=0)
    summary = agent.learn(max_steps=200_000)
    action = agent.predict(obs)
    agent.save("runs/cartpole")
    report = export.to_onnx(agent)      # export/ reads the agent; keras_pg never imports it

The command line (`python -m keras_pg train`) is this class with flags.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeAlias

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from keras_pg.algorithm.learner import Learner
from keras_pg.backends import Backend, make_backend
from keras_pg.callbacks import CallbackDriver
from keras_pg.config import Config, ConfigError, ConfigTypeError, is_positive_int
from keras_pg.envs.masks import branches, function_name, mask_description
from keras_pg.envs.source import factory_name, is_factory_name, prepare_env
from keras_pg.evaluate import Evaluation, evaluate_policy
from keras_pg.observations import Obs, observation_batch, rows
from keras_pg.policy import build_policy, load_policy, make_act_fn
from keras_pg.policy.networks import build_features, check_serializable, user_features
from keras_pg.policy.recurrent import from_initial_state, is_recurrent, state_size
from keras_pg.presets import resolve_config
from keras_pg.progress import ProgressBar
from keras_pg.run import run_dir as rd
from keras_pg.run.lock import RunDirLock
from keras_pg.run.plots import plot_learning_curve
from keras_pg.run.run_dir import EpisodeRow, RunDir, RunDirError, UpdateRow
from keras_pg.run.tensorboard import TensorBoardLog, drop_events_after, hparams
from keras_pg.seeding import EVAL_STREAM, PREDICT_STREAM, derived_seed, initialization
from keras_pg.train import INTERRUPTED, Progress, Trainer
from serve.contract import CONTRACT_VERSION
from serve.masks import as_masks, takes_none
from serve.spaces import describe_space
from serve.state import UNEXPECTED, as_state, check_no_state, initial_state

EnvArg = str | Callable[..., gym.Env]
PolicyArg: TypeAlias = keras.Model | Callable[[gym.Space], keras.Model]


class REINFORCE:
    """REINFORCE (Williams 1992) with a Keras policy on a gymnasium environment.

    Args:
        env: a registered gymnasium id ("CartPole-v1"), "module:EnvId" (the module is
            imported so it can register EnvId), or a function returning a `gymnasium.Env`
            (called with `env_kwargs`; keras_pg makes `num_envs` of them).
        policy: None for the built-in network (`network`: an MLP, or a CNN for uint8
            images); a `keras.Model`, or a function `(observation_space) -> keras.Model`,
            mapping the preprocessed observation [batch, *shape] (see keras_pg.policy.networks) to
            a feature vector [batch, features]. keras_pg adds the preprocessing in front and
            the distribution head behind.
        run_dir: where checkpoints, metrics and the model are written while training (None:
            nothing is written until `save`).
        preset: "auto" (the env's tuned preset, if there is one), "none", or a preset name.
        verbose: 0 prints nothing; 1 a progress bar or lines while learning, and notices.
        **settings: any `keras_pg.Config` field (lr=..., num_envs=..., seed=...).

    Raises:
        ValueError (ConfigError) or TypeError (ConfigTypeError) with a one-line message, before
        anything is written.
    """

    def __init__(self, env: EnvArg = "CartPole-v1", *, policy: PolicyArg | None = None,
                 run_dir: str | Path | None = None, preset: str = "auto", verbose: int = 0,
                 **settings: Any) -> None:
        if "env_id" in settings:
            raise ConfigTypeError("pass the env as the first argument, not env_id=")
        settings = dict(settings)
        if settings.get("action_mask_fn") is not None:
            settings["action_mask_fn"] = function_name(settings["action_mask_fn"])
        if callable(env) and not isinstance(env, gym.Env | str):
            settings["env_id"] = factory_name(env)
        elif isinstance(env, str):
            settings["env_id"] = env
        if policy is not None:
            if settings.get("network", "custom") != "custom":
                raise ConfigError(f"network={settings['network']!r} conflicts with policy=...; "
                                  f"drop one of them")
            settings["network"] = "custom"
        config, self.preset = resolve_config(preset, settings)
        if config.network == "custom" and policy is None:
            raise ConfigError("network 'custom' needs REINFORCE(policy=...), a keras.Model")
        if run_dir is not None:
            if (Path(run_dir) / rd.LOCK).exists():  # a run in progress: name its process
                RunDirLock(run_dir).acquire().release()
            RunDir(run_dir).check_new()
        self._lock: RunDirLock | None = None
        self._setup(config, env, policy, Path(run_dir) if run_dir else None, verbose,
                    restore=False)

    @classmethod
    def load(cls, path: str | Path, env: EnvArg | None = None, *, verbose: int = 0) -> REINFORCE:
        """The agent saved in run directory `path`, ready to continue training (into `path`),
        predict, evaluate or export. `env` is needed when the run was trained on a Python
        callable; an id or "module:EnvId" run rebuilds its env from config.json."""
        path = RunDir(path).check_resumable().path
        agent = cls.__new__(cls)
        lock = RunDirLock(path)
        agent.preset, agent._lock = None, lock
        with lock:  # nobody writes while the run is read and checked
            config = _read_config(path)
            if env is None and is_factory_name(config.env_id):
                raise ConfigError(f"{path} was trained on the Python env factory "
                                  f"{config.env_id}; pass it: REINFORCE.load({str(path)!r}, "
                                  f"env=...)")
            agent._setup(config, env if env is not None else config.env_id, None, path,
                         verbose, restore=True)
        return agent

    def _setup(self, config: Config, env: EnvArg, policy: PolicyArg | None,
               run_dir: Path | None, verbose: int, restore: bool) -> None:
        """Check everything, build the networks and backend, then (only then) write."""
        config, self.env_source, info = prepare_env(env, config)
        self.config, self.run_dir, self.verbose = config, run_dir, verbose
        self.observation_space, self.action_space = info.observation_space, info.action_space
        self.spaces = {"observation_space": describe_space(info.observation_space),
                       "action_space": describe_space(info.action_space),
                       **mask_description(info.mask_source)}
        restore_from = run_dir if restore else None  # `load` restores from its run_dir
        if restore_from is not None:
            RunDir(restore_from).check_spaces(self.spaces)
        with initialization(config.seed):
            model = self._policy_model(policy, restore_from)
            learner = Learner(config, info.observation_space, info.action_space, model,
                              masked=info.mask_source is not None)
        target = config.target_return if config.target_return is not None \
            else info.reward_threshold
        self._trainer = Trainer(config, learner, make_backend(config, self.env_source, learner),
                                target, run_dir, self.spaces, self._evaluate_during_training)
        self.summary: dict[str, Any] | None = None
        self._predict_calls = 0
        self._act: dict[tuple[bool, bool], tf.types.experimental.ConcreteFunction] = {}
        if restore_from is not None:
            try:
                self._trainer.restore(restore_from)
            except BaseException:
                self._trainer.backend.close()  # its envs, and a Ray it may have started
                raise
            if RunDir(restore_from).tensorboard_dir.is_dir():
                drop_events_after(RunDir(restore_from).tensorboard_dir,
                                  self._trainer.progress.env_steps)
        elif run_dir is not None:
            RunDir(run_dir).create()
            self._lock = RunDirLock(run_dir)
            with self._lock:
                self._write_config(run_dir)
                self._trainer.save()  # a first checkpoint: a run killed at once resumes

    def _policy_model(self, policy: PolicyArg | None, restore_from: Path | None) -> keras.Model:
        c = self.config
        if c.network == "custom" and restore_from is not None:
            return load_policy(RunDir(restore_from).model_file)
        features = (user_features(policy, self.observation_space) if policy is not None
                    else build_features(c.network, self.observation_space, c.hidden,
                                        c.precision, c.recurrent_units))
        model = build_policy(self.observation_space, self.action_space, features,
                             c.normalize_obs, c.initial_log_std)
        if policy is not None:
            check_serializable(model)
        return model

    # -- training ----------------------------------------------------------------------------
    def learn(self, max_steps: int | None = None,
              callbacks: list[keras.callbacks.Callback] | None = None, *,
              checkpoint_every_s: float = 10.0,
              should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Train; a second call continues where the first stopped.

        Args:
            max_steps: env steps to train in this call (None: up to `config.max_steps` in
                all). Rounds are whole, so the last one may overshoot; two calls train
                exactly as one call with their sum.
            callbacks: `keras.callbacks.Callback` objects, driven as `model.fit` drives them
                with one epoch per update (see keras_pg.callbacks).
            checkpoint_every_s: seconds between checkpoints into the run directory.
            should_stop: polled during rounds; when it returns True the round in flight is
                dropped and training stops (the command line's Ctrl-C).

        Returns:
            The summary (summary.json of the run directory), with `stop_reason`: "solved",
            "max_steps", "callback" or "interrupted" (no evaluation then).
        """
        if max_steps is not None and not is_positive_int(max_steps):
            raise ConfigError(f"max_steps must be a positive integer or None, got {max_steps!r}")
        budget = self._trainer.budget_for(max_steps)
        board = self._tensorboard_log()
        extra = [*([ProgressBar()] if self.verbose else []), *([board] if board else [])]
        driver = CallbackDriver([*(callbacks or []), *extra], self.model,
                                {"max_steps": budget, "verbose": self.verbose})
        with self.writing():  # the run directory is ours meanwhile
            reason = self._trainer.train(budget, driver, should_stop or (lambda: False),
                                         checkpoint_every_s)
            if reason == INTERRUPTED:
                return self._trainer.summary(None) | {"stop_reason": reason}
            evaluation = None
            if self.config.eval_episodes:
                evaluation = evaluate_policy(
                    self.model, self.env_source, self.config.eval_episodes,
                    seed=derived_seed(self.config.seed, EVAL_STREAM, 0), actor=self.config.actor)
            self.summary = self._trainer.summary(evaluation) | {"stop_reason": reason}
            if self.run_dir is not None:
                self._write_results(self.run_dir, self.summary)
            if board is not None:
                board.write_results(self.summary["env_steps"], self.summary)
        return self.summary

    def _tensorboard_log(self) -> TensorBoardLog | None:
        """The TensorBoard callback of a run with a run directory (unless turned off)."""
        if not (self.config.tensorboard and self.run_dir is not None):
            return None
        head = self._trainer.learner.head
        return TensorBoardLog(RunDir(self.run_dir).tensorboard_dir, hparams(self.config.to_dict()),
                              lambda: self._trainer.observation_sample,
                              lambda obs: from_initial_state(self.model, obs),
                              None if head.kind == "gaussian" else head.probs,
                              self.config.histogram_every)

    def _evaluate_during_training(self, number: int, episodes: int) -> Evaluation:
        """The `number`-th greedy evaluation during training (config.eval_every), on
        `episodes` episodes: its own seeds, never those of the training rounds or of the
        evaluation after training."""
        return evaluate_policy(self.model, self.env_source, episodes,
                               seed=derived_seed(self.config.seed, EVAL_STREAM, number),
                               actor=self.config.actor)

    # -- using the policy --------------------------------------------------------------------
    def predict(self, obs: Any, state: Any = None, deterministic: bool = True,
                action_mask: Any = None
                ) -> int | np.ndarray | tuple[int | np.ndarray, np.ndarray]:
        """Actions for one observation or a batch [B, *obs_shape], as `serve.OnnxPolicy.act`.
        A Dict (Tuple) observation is a dict {key: part} (a tuple of the parts), each part one
        observation or a batch of the same size.

        Discrete actions: a Python int, or int64 [B]. MultiDiscrete (MultiBinary) actions:
        int64 [k] per branch (bit), or [B, k]. Box actions: float32 [d] or [B, d], clipped
        to the bounds. deterministic=True takes the greedy action (the argmax per branch, the
        bits more likely 1 than 0, or the mean); False samples from the policy (seeded by
        `seed` and the call count).

        A recurrent policy (network gru or lstm) takes `state`, float32 [S] for one
        observation ([B, S] for a batch): `initial_state()` at an episode's first step, then
        the state the previous call returned; it returns (actions, next state).

        `action_mask` says which actions are legal (Discrete and MultiDiscrete actions):
        true/false or 0/1 of shape [P] for one observation, [B, P] for a batch (P = n, or
        sum(nvec) with the branches side by side, or one array per branch); an illegal
        action is never returned, greedy or sampled. None: every action is legal.

        Raises:
            ValueError: one line, for observations that are not the policy's (as_batch), a
                missing or mis-shaped state or action mask, and `serve.NonFiniteOutputError`
                when they overflow the network to NaN or inf, as `OnnxPolicy.act` does.
        """
        batch, single = observation_batch(obs, self.observation_space)
        recurrent = is_recurrent(self.model)
        states = ([as_state(state, state_size(self.model), rows(batch), single)] if recurrent
                  else [])
        if not recurrent:
            check_no_state(state)
        masks = self._masks(action_mask, rows(batch), single)
        key = (deterministic, bool(masks))
        if key not in self._act:
            self._act[key] = make_act_fn(self.model, self._trainer.learner.head,
                                         greedy=deterministic, with_params=True,
                                         masked=bool(masks))
        self._predict_calls += 1
        seed = tf.constant([derived_seed(self.config.seed, PREDICT_STREAM, 0),
                            self._predict_calls], tf.int64)
        actions, *next_state, params = self._act[key](batch, *states, *masks, seed)
        if not np.isfinite(params.numpy()).all():
            from serve.policy import not_finite

            output = "mean" if isinstance(self.action_space, gym.spaces.Box) else "probs"
            raise not_finite(output, params.numpy(), batch)
        actions = self._env_actions(actions.numpy(), single)
        if not recurrent:
            return actions
        new_state = next_state[0].numpy()
        return actions, (new_state[0] if single else new_state)

    def _masks(self, action_mask: Any, batch: int, single: bool) -> list[np.ndarray]:
        """[the caller's action masks, bool [batch, P]], checked as `serve.OnnxPolicy.act`
        checks them; [] without."""
        if action_mask is None:
            return []
        head = self._trainer.learner.head
        if not head.maskable:
            raise ValueError(takes_none(head.kind, CONTRACT_VERSION))
        return [as_masks(action_mask, branches(self.action_space), batch, single)]

    def _env_actions(self, actions: np.ndarray, single: bool) -> int | np.ndarray:
        """The policy's actions [B, ...] as `predict` returns them (see there)."""
        head = self._trainer.learner.head
        actions = head.to_env(actions)
        if head.kind == "gaussian":
            return actions[0] if single else actions
        actions = actions.astype(np.int64)
        if head.kind == "categorical" and single:
            return int(actions[0])
        return actions[0] if single else actions

    def initial_state(self, batch: int | None = None) -> np.ndarray:
        """A recurrent policy's state at an episode's first step: zeros, float32 [S] (or
        [batch, S]); a ValueError for a feed-forward policy."""
        if not is_recurrent(self.model):
            raise ValueError(f"{UNEXPECTED}: initial_state() is for recurrent policies")
        return initial_state(state_size(self.model), batch)

    def evaluate(self, episodes: int = 100, seed: int | None = None) -> dict[str, Any]:
        """Greedy episodes in the agent's env: mean_return, std_return, episodes, returns.
        `seed` seeds the resets (default: derived from the run's seed, never used in
        training)."""
        if not is_positive_int(episodes):
            raise ConfigError(f"episodes must be a positive integer, got {episodes!r}")
        if seed is None:
            seed = derived_seed(self.config.seed, EVAL_STREAM, 0)
        result = evaluate_policy(self.model, self.env_source, episodes, seed=seed,
                                 actor=self.config.actor)
        return {"mean_return": result.mean_return, "std_return": result.std_return,
                "episodes": result.episodes, "returns": result.returns.tolist()}

    # -- files -------------------------------------------------------------------------------
    def save(self, path: str | Path | None = None) -> Path:
        """Write the run directory (config.json, spaces.json, checkpoint.npz, metrics.csv,
        updates.csv, model.keras, and after `learn` summary.json and learning_curve.png)
        into `path` (default: the agent's run_dir); `REINFORCE.load(path)` reads it back.
        `export.to_onnx(agent)` adds policy.onnx."""
        path = Path(path) if path is not None else self.run_dir
        if path is None:
            raise ConfigError("save() needs a path: this agent has no run_dir")
        RunDir(path).create()
        with self._run_dir_lock(path):
            self._write_config(path)
            self._trainer.save(path)
            if self.summary is not None:
                self._write_results(path, self.summary)
        return path

    def _run_dir_lock(self, path: Path) -> RunDirLock:
        """The lock to hold while writing into `path` (the agent's own for its run_dir)."""
        return self._lock if self._lock is not None and path == self.run_dir else RunDirLock(
            path)

    @contextlib.contextmanager
    def writing(self) -> Iterator[Path | None]:
        """Hold this agent's run directory for writing beside it (export writes policy.onnx
        and its report there): its lock while held, and a RunDirError first if another
        writer has checkpointed into it since this agent loaded or last wrote it. Yields the
        run directory (None: the agent has none, and nothing is held)."""
        with self._lock or contextlib.nullcontext():
            if self.run_dir is not None:
                self._trainer.check_not_stale()
            yield self.run_dir

    def close(self) -> None:
        """Release the envs."""
        self._trainer.backend.close()

    def __enter__(self) -> REINFORCE:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- state -------------------------------------------------------------------------------
    @property
    def model(self) -> keras.Model:
        """The Keras policy: obs [B, *obs_shape] -> logits [B, n] or [mean, log_std] [B, 2d]."""
        return self._trainer.learner.model

    @property
    def progress(self) -> Progress:
        """The run's counters (updates, episodes, env_steps, train_wall_s, solved, ...)."""
        return self._trainer.progress

    @property
    def observations_met(self) -> Obs | None:
        """[n, *obs_shape] observations met in training ({part: [n, ...]} for a Dict or
        Tuple observation), the latest kept (None before any); export verifies the ONNX file
        on them."""
        return self._trainer.observation_sample

    @property
    def history(self) -> list[EpisodeRow]:
        """One row per training episode (metrics.csv): episode, env_steps, episode_return,
        length, wall_s."""
        return list(self._trainer.episode_rows)

    @property
    def updates(self) -> list[UpdateRow]:
        """One row per update (updates.csv): update, episodes, env_steps, loss, entropy,
        grad_norm, value_loss, explained_variance, wall_s."""
        return list(self._trainer.update_rows)

    @property
    def recent_mean_return(self) -> float:
        """Mean return of the last `solve_window` training episodes (nan before any): what
        decides solving, and the callbacks' `mean_return`."""
        return self._trainer.recent_mean()

    @property
    def backend(self) -> Backend:
        """What collects the rounds (config.backend: gymnasium vector envs, TensorFlow graph
        envs, or Ray actors; see keras_pg.backends)."""
        return self._trainer.backend

    def _write_config(self, path: Path) -> None:
        RunDir(path).write_config(self.config.to_dict(), self.spaces)

    def _write_results(self, path: Path, summary: dict[str, Any]) -> None:
        c = self.config
        returns = np.array([row.episode_return for row in self._trainer.episode_rows])
        plot_learning_curve(RunDir(path).file(rd.CURVE), returns, self._trainer.target,
                            f"REINFORCE on {c.env_id} (seed {c.seed})")
        RunDir(path).write_summary(summary)

    def __repr__(self) -> str:
        return (f"REINFORCE({self.config.env_id!r}, steps={self.progress.env_steps:,}, "
                f"run_dir={str(self.run_dir) if self.run_dir else None!r})")



def _read_config(run_dir: Path) -> Config:
    """config.json of a run directory, or a RunDirError naming the file and the problem."""
    try:
        return Config.from_dict(RunDir(run_dir).read_config())
    except ConfigError as exc:
        raise RunDirError(f"{RunDir(run_dir).file(rd.CONFIG)}: {exc}") from None
