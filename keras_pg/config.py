"""The one training configuration: a frozen dataclass, validated once at construction.

The command line is generated from these fields (see `cli.py`), and `keras_pg.REINFORCE`
takes any of them as a keyword, so every setting, its default and its help text come from
here. Presets (tuned settings per environment) are in `presets.py`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from keras_pg.schedules import SCHEDULED, ScheduleError, schedule_name, schedule_problem

BACKENDS = {
    "gym": "keras_pg.backends.vector:VectorBackend",
    "graph": "keras_pg.backends.graph:GraphBackend",
    "ray": "keras_pg.backends.ray_actors:RayBackend",
}
"""The backends by name (`backend`, `--backend`): the module and class of each, imported when
a run uses it (keras_pg.backends.make_backend). A new backend is a new module, named here."""
VECTOR_MODES = ("sync", "async")
MAX_SEED = 2**32 - 1  # numpy's and gymnasium's seeds are 32-bit
NETWORKS = ("auto", "mlp", "cnn", "gru", "lstm", "custom")
PRECISIONS = ("float32", "bfloat16")
ACTORS = ("auto", "numpy", "tensorflow")
ADVANTAGES = ("mc", "gae")


def is_positive_int(value: object) -> bool:
    """An int above 0, and not a bool (True is an int to Python, not a count to a user)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class ConfigError(ValueError):
    """A user's setting is invalid; the message is one line saying what was expected."""


class ConfigTypeError(ConfigError, TypeError):
    """A user passed an object of the wrong kind (an env instance where a factory is
    needed, ...); a ConfigError for the command line, a TypeError for Python callers."""


class KerasPGWarning(UserWarning):
    """Something the user should know about their setup; training goes on."""


def _doc(text: str, **kwargs: Any) -> Any:
    return field(metadata={"help": text}, **kwargs)


@dataclass(frozen=True)
class Config:
    """Everything that determines a training run (saved as `config.json` in the run directory)."""

    env_id: str = _doc(
        "gymnasium env id, or module:EnvId to import the module that registers it "
        "(from Python, a callable's name <module.function>)", default="CartPole-v1")
    # A bare `dict`: _type_problems and flags.py compare the annotation with `dict` itself.
    env_kwargs: dict = field(default_factory=dict, metadata={"help": (
        "keyword arguments for gymnasium.make, a JSON object such as "
        "'{\"is_slippery\": false}'")})
    max_episode_steps: int | None = _doc(
        "time limit in steps per episode (gymnasium's TimeLimit); none: the env's own, and "
        "1000 with a warning for an env that has none", default=None)
    action_masks: bool = _doc(
        "use the env's invalid-action masks (Discrete and MultiDiscrete actions): from "
        "action_mask_fn, else the env's action_masks() method, else info['action_mask'] after "
        "reset and step, else a Dict observation's key action_mask; illegal actions get "
        "probability 0 in training, evaluation and the exported policy (false: ignore them)",
        default=True)
    action_mask_fn: str | None = _doc(
        "module:function called with the env after each reset and step, returning its action "
        "mask (1: legal); from Python, the function itself", default=None)
    backend: str = _doc(
        "gym: gymnasium vector envs; graph: the env in TensorFlow ops (CartPole-v1, "
        "Acrobot-v1, MountainCar-v0, Pendulum-v1) with rollout, returns and update in one "
        "compiled function per iteration (episodes per update = num envs); ray: Ray actors "
        "collect the episodes (--num-workers)", default="gym")
    vector_mode: str = _doc(
        "sync: the gymnasium backend steps its envs in this process; async: one subprocess per "
        "env (gymnasium's AsyncVectorEnv), for envs whose steps are slow", default="sync")
    actor: str = _doc(
        "how rollouts of the gym and ray backends sample actions: numpy (the network's forward "
        "pass in numpy from weights read once per round, a few µs per step), tensorflow (one "
        "compiled call per step: any network), auto: numpy when every layer has a numpy form "
        "(the built-in MLPs), else tensorflow (convolutions); summary.json says which ran",
        default="auto")
    num_workers: int = _doc("Ray actors that collect episodes (--backend ray)", default=2)
    envs_per_worker: int | None = _doc(
        "envs per Ray actor (none: num_envs / num_workers, rounded up)", default=None)
    ray_address: str | None = _doc(
        "join a running Ray cluster: auto or HOST:PORT (none: start a local Ray, stopped at the "
        "end)", default=None)
    network: str = _doc(
        "auto: cnn for (H, W, C) uint8 image observations, mlp otherwise; mlp: dense layers "
        "of --hidden widths; cnn: the Nature-DQN convolutions, then --hidden; gru, lstm: a "
        "recurrent policy for partially observed envs, the network auto picks then a GRU "
        "(LSTM) cell of --recurrent-units whose state is carried through each episode "
        "(custom: set by REINFORCE(policy=...))", default="auto")
    recurrent_units: int = _doc("units of the GRU or LSTM cell (--network gru, lstm)",
                                default=64)
    precision: str = _doc(
        "float32; bfloat16: the built-in network computes in bfloat16 (Keras mixed precision: "
        "float32 weights, head, losses and ONNX export), ~1.6x faster convolutions on CPUs "
        "with AVX512-BF16 or AMX; ~8x slower on CPUs without, where bfloat16 is emulated "
        "(measured: AVX2 only)", default="float32")
    seed: int = _doc("seeds the environments, the weights and the action sampling", default=0)
    num_envs: int = _doc("environments stepped together through gymnasium's vector API", default=16)
    episodes_per_update: int = _doc("complete episodes per policy-gradient update", default=16)
    gamma: float = _doc(
        "discount factor in [0, 1] (0.95: a horizon of about 20 steps; raise it for envs "
        "whose rewards come later)", default=0.95)
    lr: float | str = _doc(
        "Adam learning rate: a number, START:END for a linear schedule over max_steps "
        "(0.01:0.001), or module:function of progress in [0, 1]", default=1e-3)
    hidden: tuple[int, ...] = _doc("hidden layer widths, comma separated", default=(128,))
    baseline: str = _doc(
        "none: plain REINFORCE; value: subtract a learned state value V(s) from the returns",
        default="none")
    advantage: str = _doc(
        "what weights log pi(a|s): mc: the Monte Carlo return G_t (minus V(s_t) with "
        "--baseline value); gae: generalized advantage estimation from the value network "
        "over each complete episode (--baseline value; --gae-lambda 1 is mc, lower trades "
        "bias for less variance); the value network fits the matching lambda-returns",
        default="mc")
    gae_lambda: float = _doc("lambda of --advantage gae, in [0, 1]", default=0.95)
    value_lr: float = _doc("Adam learning rate of the value network (--baseline value)",
                           default=1e-3)
    bootstrap_truncated: bool = _doc(
        "when a time limit cuts an episode off, continue its returns with gamma^k V(s) of the "
        "state it stopped in instead of ending them there (Pardo et al. 2018; --baseline value, "
        "gym and ray backends)", default=False)
    value_epochs: int = _doc("full-batch value-network steps per update (--baseline value)",
                             default=10)
    entropy_coef: float | str = _doc(
        "weight of the entropy bonus in the policy loss: a number, START:END (linear over "
        "max_steps) or module:function of progress", default=0.01)
    normalize_obs: bool = _doc(
        "normalize non-image Box observations by running mean/std, inside the model",
        default=True)
    initial_log_std: float = _doc("initial log-std of a Gaussian policy (Box actions)",
                                  default=0.0)
    max_grad_norm: float | None = _doc(
        "clip gradients to this global norm (none: no clipping)", default=None
    )
    return_eps: float = _doc(
        "epsilon added to the std when normalizing returns (keeps std 0 finite)", default=1e-8
    )
    max_steps: int = _doc("training budget in environment steps", default=1_000_000)
    target_return: float | None = _doc(
        "stop when the mean training return of the last solve_window episodes reaches this, "
        "or with eval_every a greedy evaluation's mean return (none: the env's "
        "reward_threshold)",
        default=None,
    )
    solve_window: int = _doc("episodes in the moving mean that decides solving", default=100)
    eval_episodes: int = _doc("greedy evaluation episodes after training (0: none)", default=100)
    eval_every: int = _doc(
        "env steps between greedy evaluations during training (0: none); with them the run is "
        "solved when an evaluation's mean return reaches target_return, not the training mean",
        default=0)
    eval_every_episodes: int = _doc("greedy episodes of each evaluation during training",
                                    default=20)
    eval_confirm_episodes: int = _doc(
        "with eval_every: an evaluation that reaches target_return is confirmed on this many "
        "fresh greedy episodes, and the confirmation decides solving (0: it decides itself)",
        default=0)
    eval_screen_margin: float = _doc(
        "with eval_confirm_episodes: an evaluation that comes within this much below "
        "target_return is confirmed too (a short screen is noisy; the confirmation still "
        "decides)", default=0.0)
    tensorboard: bool = _doc("write TensorBoard event files into RUN_DIR/tb", default=True)
    histogram_every: int = _doc(
        "updates between TensorBoard histograms of actions and weights (0: none)", default=10)

    def __post_init__(self) -> None:
        for name in SCHEDULED:  # a schedule function is kept by its import name
            try:
                object.__setattr__(self, name, schedule_name(getattr(self, name), name))
            except ScheduleError as exc:
                raise ConfigError(str(exc)) from None
        for problem in _type_problems(self):  # types first: the value checks rely on them
            raise ConfigError(problem)
        for problem in itertools.chain(self._choice_problems(), self._count_problems(),
                                       self._number_problems(), self._evaluation_problems()):
            raise ConfigError(problem)  # the first one, in one line

    def _choice_problems(self) -> Iterator[str]:
        if not isinstance(self.env_id, str) or not self.env_id:
            yield f"env_id must be a gym id such as CartPole-v1, got {self.env_id!r}"
        yield from _env_kwargs_problems(self.env_kwargs)
        for name, choices in (("baseline", ("none", "value")), ("backend", tuple(BACKENDS)),
                              ("network", NETWORKS), ("vector_mode", VECTOR_MODES),
                              ("precision", PRECISIONS), ("actor", ACTORS),
                              ("advantage", ADVANTAGES)):
            if getattr(self, name) not in choices:
                yield f"{name} must be one of {', '.join(choices)}; got {getattr(self, name)!r}"
        if self.backend == "graph" and self.episodes_per_update != self.num_envs:
            yield (f"with backend graph every env plays one episode per update: "
                   f"episodes_per_update ({self.episodes_per_update}) must equal num_envs "
                   f"({self.num_envs})")
        if self.precision != "float32" and self.network == "custom":
            yield (f"precision {self.precision} applies to the built-in networks (mlp, cnn); "
                   f"give your own network's layers a dtype policy instead")
        if self.advantage == "gae" and self.baseline != "value":
            yield "advantage gae estimates advantages with the value network: set baseline value"
        if self.network in ("gru", "lstm") and self.backend == "graph":
            yield (f"network {self.network} steps its state per env in rollouts: backend gym "
                   f"or ray (the graph backend's rollout is feed-forward)")
        if self.action_mask_fn is not None and (self.backend == "graph" or not self.action_masks):
            yield ("action_mask_fn masks the actions of gym and ray backend rollouts: set "
                   "action_masks true and backend gym or ray")
        if self.bootstrap_truncated and (self.baseline != "value" or self.backend == "graph"):
            yield ("bootstrap_truncated needs a value estimate and the episodes' last "
                   "observations: baseline value with backend gym or ray")

    def _count_problems(self) -> Iterator[str]:
        for name in ("num_envs", "episodes_per_update", "value_epochs", "max_steps",
                     "solve_window", "num_workers", "eval_every_episodes", "recurrent_units"):
            if not is_positive_int(getattr(self, name)):
                yield f"{name} must be a positive integer, got {getattr(self, name)!r}"
        for name in ("eval_episodes", "eval_every", "eval_confirm_episodes", "histogram_every"):
            if getattr(self, name) < 0:
                yield f"{name} must be 0 or a positive integer, got {getattr(self, name)!r}"
        if not 0 <= self.seed <= MAX_SEED:
            yield f"seed must be an integer in [0, {MAX_SEED}], got {self.seed}"
        for name in ("max_episode_steps", "envs_per_worker"):
            if getattr(self, name) is not None and not is_positive_int(getattr(self, name)):
                yield f"{name} must be a positive integer or none, got {getattr(self, name)!r}"
        if not self.hidden or not all(is_positive_int(w) for w in self.hidden):
            yield f"hidden must be positive layer widths like 128 or 128,128, got {self.hidden!r}"

    def _number_problems(self) -> Iterator[str]:
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                yield f"{name} must be in [0, 1], got {getattr(self, name)}"
        for name in ("value_lr", "return_eps"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                yield f"{name} must be a positive number, got {value}"
        for name, strict in (("lr", True), ("entropy_coef", False)):
            problem = schedule_problem(getattr(self, name), name, 0.0, strict)
            if problem is not None:
                yield problem
        for name in ("initial_log_std", "target_return"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                yield f"{name} must be a finite number, got {value}"
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            yield f"max_grad_norm must be positive or none, got {self.max_grad_norm}"

    def _evaluation_problems(self) -> Iterator[str]:
        """The settings of evaluations during training that need one another."""
        if self.eval_confirm_episodes and not self.eval_every:
            yield "eval_confirm_episodes confirms evaluations during training: set eval_every too"
        margin = self.eval_screen_margin
        if not (margin >= 0 and math.isfinite(margin)):
            yield f"eval_screen_margin must be 0 or a positive number, got {margin}"
        if margin and not self.eval_confirm_episodes:
            yield ("eval_screen_margin widens the screen of confirmed evaluations: set "
                   "eval_confirm_episodes too")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        items = dataclasses.asdict(self).items()
        return {k: list(v) if isinstance(v, tuple) else v for k, v in items}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Inverse of `to_dict`; unknown keys are an error naming them."""
        if not isinstance(data, dict):
            raise ConfigError(f"a config must be a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown config keys {unknown}; expected some of {sorted(names)}")
        values = dict(data)
        if isinstance(values.get("hidden"), list):
            values["hidden"] = tuple(values["hidden"])
        return cls(**values)


_KINDS: dict[type, tuple[str, type | tuple[type, ...]]] = {
    str: ("a string", str), int: ("an integer", int), float: ("a number", (int, float)),
    bool: ("true or false", bool), dict: ("a JSON object", dict)}


def _type_problems(config: Config) -> Iterator[str]:
    """A field whose value has the wrong type (config.json is edited by hand: "0.99" is a
    string, not a number), named with what was expected."""
    hints = typing.get_type_hints(Config)
    for f in dataclasses.fields(Config):
        if f.name in SCHEDULED:  # checked by schedule_problem
            continue
        value, hint = getattr(config, f.name), hints[f.name]
        args = typing.get_args(hint)
        if type(None) in args:
            if value is None:
                continue
            hint = next(a for a in args if a is not type(None))
        if typing.get_origin(hint) is tuple:
            if not (isinstance(value, tuple) and all(_is(v, int) for v in value)):
                yield f"{f.name} must be a list of integers, got {value!r}"
        elif not _is(value, hint):
            yield f"{f.name} must be {_KINDS[hint][0]}, got {value!r}"


def _is(value: object, kind: type) -> bool:
    """isinstance, except that a bool is not a number (JSON true is not 1)."""
    return isinstance(value, _KINDS[kind][1]) and (kind is bool or not isinstance(value, bool))


def _env_kwargs_problems(kwargs: object) -> Iterator[str]:
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        yield f"env_kwargs must be a JSON object (a dict with string keys), got {kwargs!r}"
        return
    try:
        json.dumps(kwargs, allow_nan=False)
    except (TypeError, ValueError) as exc:
        yield f"env_kwargs must hold JSON values (it is saved in config.json): {exc}"


def parse_env_kwargs(text: str) -> dict[str, Any]:
    """`--env-kwargs` text -> dict, or a one-line ConfigError naming what was expected."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--env-kwargs must be a JSON object such as "
                          f"'{{\"is_slippery\": false}}'; got {text!r} ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"--env-kwargs must be a JSON object such as "
                          f"'{{\"is_slippery\": false}}'; got {type(value).__name__} {text!r}")
    return value
