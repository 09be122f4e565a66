"""OnnxPolicy: a keras_pg `policy.onnx` (or another tool's ONNX policy) in onnxruntime.

Reads the contract in serve/contract.py: input `obs` float32 (uint8 for image observations)
[batch, *obs_shape]; outputs `probs` [batch, n_actions] and `action` [batch] (categorical),
`mean`, `std` and `action` [batch, action_dim] (gaussian), or `probs` and `action` int64
[batch, branches] (multi_categorical, bernoulli); JSON metadata_props. A recurrent policy's
file also has input `state` and output `next_state` [batch, state_size]: its caller carries
the state (serve/state.py). A categorical or multi_categorical policy's file of contract 6 also
has input `action_mask` bool [batch, action_size], which its caller may pass (serve/masks.py);
all true when it does not.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, cast

import numpy as np
import onnxruntime as ort

from serve import contract
from serve.finite import NonFiniteOutputError, check_finite, not_finite
from serve.loading import (
    INPUT_DTYPES,
    PolicyLoadError,
    check_contract,
    check_input_shape,
    open_session,
    read_metadata,
    the_input,
)
from serve.masks import BOOL, AllLegal, MaskSpec, mask_spec
from serve.observations import FLOAT32, PartSpecs, all_finite, as_batch, as_part_batches
from serve.one_observation import OneObservation
from serve.sampling import (
    sample_bernoulli,
    sample_categorical,
    sample_gaussian,
    sample_multi_categorical,
    softmax,
)
from serve.state import Episode, as_state, check_no_state, initial_state

__all__ = ["NonFiniteOutputError", "OnnxPolicy", "PolicyLoadError", "not_finite"]
CALLER_HINT = ("pass observation_shape=... and action_type='discrete' or 'continuous' "
               "(command line: --observation-shape 4 --action-type discrete)")


class OnnxPolicy:
    """A policy answering observations with actions, backed by one onnxruntime session.

    Args:
        path: the .onnx file.
        seed: seeds the numpy Generator used by `act(..., deterministic=False)`.
        intra_op_threads: onnxruntime threads per call (1: lowest single-observation latency).
        observation_shape, action_type: required for an ONNX file without keras_pg metadata.
            "discrete": an output named `probs` [batch, n], wherever it is among the
            outputs, holds the probabilities; without one, the first output holds logits
            [batch, n] (softmax applied); greedy is the argmax, sampling draws from them.
            "continuous": the first output is the action [batch, d] (deterministic only).
            The graph's one input must take [batch, *observation_shape]. For a keras_pg file
            they are optional, and must agree with its metadata when given.

    Raises:
        PolicyLoadError: one line, when the file is missing or not loadable, or declares
            `contract_version` while a metadata key the runtime reads is missing or
            malformed, or its graph disagrees with the metadata (serve/loading.py).

    Every method raises `NonFiniteOutputError` (a ValueError) when a float output is NaN or
    inf -- finite but huge observations such as 3.4e38 overflow the network -- instead of
    returning the argmax of NaNs.

    The input's dtype, `observation_dtype`, is the session's: float32, or uint8 for image
    policies, which take raw frames (uint8 arrays, or integers in [0, 255]). A policy of a
    Dict or Tuple observation has one input per part, `observation_parts` {part: (shape,
    dtype)}, and takes {part: observation or batch} (a Tuple's parts also as a list); its
    `observation_shape` is ().
    `act`, `probs`, `distribution` and `decide` are safe to call from several threads.

    A recurrent policy (`state_size` not None) is one step of the policy: its methods take
    `state`, float32 [state_size] for one observation ([B, state_size] for a batch) --
    `initial_state()` at an episode's first step, then the state the previous step returned
    -- and `act` returns (actions, next state). `episode()` keeps it for the caller.

    A policy of invalid-action masks (`action_mask_size` not None: categorical and
    multi_categorical files of contract 6) takes `action_mask` in every method: true/false
    or 0/1, [action_mask_size] for one observation ([B, action_mask_size] for a batch; a
    MultiDiscrete policy's also one array per branch); without one every action is legal.
    Illegal actions get probability exactly 0: neither greedy nor sampled actions are ever
    illegal. Other policies refuse a mask, in one line saying why.
    """

    kind: str
    """The policy kind: "categorical", "gaussian", "multi_categorical", "bernoulli", or
    "deterministic" (a continuous file without metadata, whose one output is the action)."""
    observation_shape: tuple[int, ...]
    observation_dtype: np.dtype
    observation_parts: PartSpecs | None
    """{part: (shape, dtype)} of a Dict or Tuple observation's inputs; None for one input."""
    action_space: dict[str, Any]
    """{"type": "Discrete", "n", "start"}, {"type": "Box", "shape", ...},
    {"type": "MultiDiscrete", "nvec"} or {"type": "MultiBinary", "n"}."""
    _action_output: str | None
    """The output holding the greedy action (None: the argmax of the probs)."""
    state_size: int | None
    """A recurrent policy's state size (metadata `recurrent`); None for a feed-forward one."""
    action_mask_size: int | None
    """The size of the action masks the policy takes (metadata `action_mask`): its
    action_size; None when it takes none."""
    mask_spec: MaskSpec
    """How it reads a caller's masks (their branches), or why it takes none."""

    def __init__(self, path: str | Path, *, seed: int | None = None, intra_op_threads: int = 1,
                 observation_shape: tuple[int, ...] | None = None,
                 action_type: str | None = None) -> None:
        self.path = Path(path)
        self._session = open_session(self.path, intra_op_threads)
        self.metadata = read_metadata(self._session)
        self._outputs = [o.name for o in self._session.get_outputs()]
        self.observation_parts, self.state_size = None, None
        if contract.CONTRACT_VERSION_KEY in self.metadata:
            self._from_contract(observation_shape, action_type)
        else:
            self._from_caller(observation_shape, action_type)
        self._rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()
        self.action_mask_size = contract.mask_size(self.metadata)
        self.mask_spec = mask_spec(self.kind, self.metadata, self.action_space)
        self._all_legal = AllLegal(self.action_mask_size or 0)
        inputs = ([(name, shape, dtype) for name, (shape, dtype) in self.observation_parts.items()]
                  if self.observation_parts is not None
                  else [(self._input, self.observation_shape, self.observation_dtype)])
        if self.state_size is not None:
            inputs.append((contract.STATE, (self.state_size,), FLOAT32))
        if self.action_mask_size is not None:
            inputs.append((contract.ACTION_MASK, (self.action_mask_size,), BOOL))
        self._one = (None if self._action_output is None else OneObservation.bind(
            self._session, inputs, self._act_fetch, self._act_checked,
            categorical=self.kind == "categorical", structured=self.observation_parts is not None))

    def _from_contract(self, observation_shape: tuple[int, ...] | None,
                       action_type: str | None) -> None:
        """Everything from the metadata, checked against the graph (serve/loading.py)."""
        kind, inputs, self.action_space = check_contract(self.path, self.metadata,
                                                         self._session)
        if list(inputs) == [contract.INPUT]:
            (shape, dtype), = inputs.values()
            self._input, self.observation_dtype = contract.INPUT, np.dtype(dtype)
        else:  # a Dict or Tuple observation: one input per part
            self.observation_parts = {name: (part_shape, np.dtype(part_dtype))
                                      for name, (part_shape, part_dtype) in inputs.items()}
            shape, self._input, self.observation_dtype = (), "", FLOAT32
            if observation_shape is not None:
                raise PolicyLoadError(f"{self.path}: observation_shape is for a policy of one "
                                      f"input; this one takes the parts "
                                      f"{', '.join(inputs)}: leave it out")
        if observation_shape is not None and _shape(self.path, observation_shape) != shape:
            raise PolicyLoadError(f"{self.path}: observation_shape={tuple(observation_shape)} "
                                  f"disagrees with the metadata's {shape}; leave it out")
        if (action_type is not None
                and contract.ACTION_TYPES.get(action_type) != contract.KINDS[kind]):
            raise PolicyLoadError(f"{self.path}: action_type={action_type!r} disagrees with "
                                  f"the metadata's policy_kind {kind!r}; leave it out")
        self.kind, self.observation_shape, self._logits = kind, shape, False
        self.state_size = contract.state_size(self.metadata)
        self._dist_outputs = ([contract.MEAN, contract.STD] if kind == "gaussian"
                              else [contract.PROBS])
        if self.state_size is not None:  # fetched and checked with the distribution
            self._dist_outputs.append(contract.NEXT_STATE)
        self._action_output = contract.ACTION
        # Greedy act fetches the action and the distribution it comes from, checked for NaN
        # and inf: `action` is the argmax of `probs` (or the clipped mean), so a NaN there
        # would pass unseen. Fetching them costs ~0.1 µs, np.isfinite ~1 µs per output.
        self._act_fetch = [self._action_output, *self._dist_outputs]
        self._act_checked = range(1, len(self._act_fetch))

    def _from_caller(self, observation_shape: tuple[int, ...] | None,
                     action_type: str | None) -> None:
        """Everything from the caller, for a file without metadata, checked against the
        graph."""
        if observation_shape is None or action_type not in contract.ACTION_TYPES:
            raise PolicyLoadError(f"{self.path} has no keras_pg metadata; {CALLER_HINT} to "
                                  f"load it (got action_type={action_type!r})")
        node = the_input(self.path, self._session)
        self._input, self.observation_dtype = node.name, INPUT_DTYPES[node.type]
        self.observation_shape = _shape(self.path, observation_shape)
        node = self._session.get_inputs()[0]
        check_input_shape(self.path, node, self.observation_shape,
                          f"observation_shape {self.observation_shape}", any_batch=True)
        # Discrete: an output named probs wherever it is (export writes `action` [batch]
        # first), else the first output as logits. Continuous: the first output.
        named = action_type == "discrete" and contract.PROBS in self._outputs
        role = f"output {contract.PROBS!r}" if named else "first output"
        read = self._session.get_outputs()[self._outputs.index(contract.PROBS) if named else 0]
        if read.shape is None or len(read.shape) != 2:
            raise PolicyLoadError(f"{self.path}: output {read.name!r} has shape {read.shape}; "
                                  f"a {action_type} policy's {role} is [batch, size]")
        size = read.shape[-1] if isinstance(read.shape[-1], int) else None
        if action_type == "discrete":
            self.kind, self._logits, self._dist_outputs = "categorical", not named, [read.name]
            self._action_output = None  # greedy: the argmax of probs
            self.action_space = {"type": "Discrete", "n": size, "start": 0}
        else:
            self.kind, self._logits, self._dist_outputs = "deterministic", False, []
            self._action_output = read.name
            self.action_space = {"type": "Box", "shape": [size]}
            self._act_fetch, self._act_checked = [read.name], range(1)

    @property
    def session(self) -> ort.InferenceSession:
        """The onnxruntime session: its inputs and outputs describe the graph (the v2 HTTP
        routes and export's Triton config read them)."""
        return self._session

    def initial_state(self, batch: int | None = None) -> np.ndarray:
        """A recurrent policy's state at an episode's first step: zeros, float32
        [state_size] (or [batch, state_size]); a ValueError for a feed-forward policy."""
        if self.state_size is None:
            raise ValueError("this policy is feed-forward: it takes no state")
        return initial_state(self.state_size, batch)

    def episode(self, batch: int | None = None, deterministic: bool = True) -> Episode:
        """Acts through one episode (or `batch` episodes in lockstep) keeping a recurrent
        policy's state between calls: `episode.act(obs)`; `episode.reset()` when the episode
        (rows of a batch) start again. For a feed-forward policy it is `act`."""
        return Episode(self, batch, deterministic)

    def act(self, obs: Any, state: Any = None, deterministic: bool = True,
            action_mask: Any = None) -> int | np.ndarray | tuple[int | np.ndarray, np.ndarray]:
        """Actions for one observation or a batch [B, *obs_shape].

        Discrete: a Python int, or int64 [B]. Continuous: float32 [d], or [B, d].
        MultiDiscrete (MultiBinary): int64 [k], one action per branch (bit), or [B, k].
        deterministic=True takes the in-graph `action` (the argmax per branch, the bits
        whose P(1) is above 1/2, or the clipped mean); False samples from `probs` (each
        branch, each bit) or N(mean, std) (clipped) with the Generator seeded at
        construction.

        A recurrent policy takes `state` ([state_size], or [B, state_size]) and returns
        (actions, next state) of the same shapes. A policy of action masks takes
        `action_mask` ([P] for one observation, [B, P] for a batch; all legal without).
        """
        if self.state_size is not None:
            return self._act_recurrent(obs, state, deterministic, action_mask)
        check_no_state(state)
        one, batch = self._one, None
        if deterministic and one is not None:
            # One observation -- the usual call -- goes through buffers bound to the session,
            # with the same checks in fewer steps (OneObservation): an array of the input's
            # dtype and shape as it is (a dict of them, for parts), anything else once
            # as_batch has checked it. Batches, and another thread's call meanwhile, take the
            # path below.
            rows, batch, single = (self._part_rows if one.structured else self._row)(obs, one)
            mask = None if rows is None else self._mask_row(action_mask)
            if rows is not None and one.acquire(False):
                try:
                    for view, row in rows:
                        view[...] = row
                    one.put_mask(mask)
                    one.run(one.binding)
                    if not all_finite(one.floats):
                        one.raise_not_finite()
                    # A Box action is copied: the buffer is the next call's.
                    return one.action.item(0) if one.categorical else one.action[0].copy()
                finally:
                    one.release()
        if batch is None:
            batch, single = self._batch(obs)
        actions = self._act_batch(self._with_mask(batch, action_mask, single), deterministic)
        if not single:
            return actions
        return int(actions[0]) if self.kind == "categorical" else actions[0]

    def _act_batch(self, batch: dict[str, np.ndarray], deterministic: bool) -> np.ndarray:
        """`act`'s actions [B, ...] for the graph's inputs `batch`, by a session run."""
        if deterministic and self._action_output is not None:
            values = self._session.run(self._act_fetch, batch)
            for i in self._act_checked:
                if not all_finite(values[i]):
                    raise not_finite(self._act_fetch[i], values[i], batch)
            return values[0]
        return self._decide(batch, deterministic)[0]

    def _act_recurrent(self, obs: Any, state: Any, deterministic: bool, action_mask: Any
                       ) -> tuple[int | np.ndarray, np.ndarray]:
        """`act` of a recurrent policy: the same two paths, the state copied in beside the
        observation and the next state copied out."""
        one, batch, size = self._one, None, cast(int, self.state_size)
        if deterministic and one is not None:
            rows, batch, single = (self._part_rows if one.structured else self._row)(obs, one)
            if rows is not None:
                if not (type(state) is np.ndarray and state.dtype is FLOAT32
                        and state.shape == (size,)):
                    state = as_state(state, size, 1, True)[0]
                mask = self._mask_row(action_mask)
                if one.acquire(False):
                    try:
                        for view, row in rows:
                            view[...] = row
                        cast(np.ndarray, one.state)[...] = state
                        one.put_mask(mask)
                        one.run(one.binding)
                        if not all_finite(one.floats):
                            one.raise_not_finite()
                        action = one.action.item(0) if one.categorical else one.action[0].copy()
                        return action, one.next_state[0].copy()
                    finally:
                        one.release()
        if batch is None:
            batch, single = self._batch(obs)
        feed = {**self._with_mask(batch, action_mask, single),
                contract.STATE: as_state(state, size, _rows(batch), single)}
        actions, dist = self._decide(feed, deterministic)
        next_state = dist[contract.NEXT_STATE]
        if not single:
            return actions, next_state
        return (int(actions[0]) if self.kind == "categorical" else actions[0]), next_state[0]

    def _row(self, obs: Any, one: OneObservation
             ) -> tuple[list[tuple[np.ndarray, np.ndarray]] | None,
                        dict[str, np.ndarray] | None, bool]:
        """`_part_rows` of an unstructured observation: an array of the input's dtype and
        shape as it is."""
        if type(obs) is np.ndarray and obs.shape == one.shape and obs.dtype is one.dtype:
            return [(one.observation, obs)], None, True
        batch, single = self._batch(obs)
        return ([(one.observation, batch[self._input][0])] if single else None), batch, single

    def _part_rows(self, obs: Any, one: OneObservation
                   ) -> tuple[list[tuple[np.ndarray, np.ndarray]] | None,
                              dict[str, np.ndarray] | None, bool]:
        """(one's input rows and a structured observation's parts to copy into them, or None
        for a batch; the batch when it had to be checked; whether one was given)."""
        views = one.views
        if (type(obs) is dict and len(obs) == len(views) and all(
                name in views and type(part) is np.ndarray and part.shape == views[name].shape
                and part.dtype is views[name].dtype for name, part in obs.items())):
            return [(views[name], part) for name, part in obs.items()], None, True
        batch, single = self._batch(obs)
        if not single:
            return None, batch, False
        return [(views[name], part[0]) for name, part in batch.items()], batch, True

    def decide(self, obs: Any, state: Any = None, deterministic: bool = True,
               action_mask: Any = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Batched actions [B, ...] and the distribution they came from ({"probs"} or
        {"mean", "std"}; with "next_state" [B, state_size] for a recurrent policy, whose
        `state` is [B, state_size]), from one model call, under `action_mask` if given. A
        single observation is a batch of one."""
        feed, single = self._feed(obs, state, action_mask)
        if single and self.state_size is not None:  # decide answers batches: [1, S]
            feed[contract.STATE] = feed[contract.STATE].reshape(1, -1)
        return self._decide(feed, deterministic)

    def _feed(self, obs: Any, state: Any, action_mask: Any
              ) -> tuple[dict[str, np.ndarray], bool]:
        """`_batch` with a recurrent policy's state and the action masks beside the
        observations."""
        batch, single = self._batch(obs)
        if self.state_size is None:
            check_no_state(state)
            return self._with_mask(batch, action_mask, single), single
        return {**self._with_mask(batch, action_mask, single),
                contract.STATE: as_state(state, self.state_size, _rows(batch), single)}, single

    def _with_mask(self, batch: dict[str, np.ndarray], action_mask: Any, single: bool
                   ) -> dict[str, np.ndarray]:
        """The graph's inputs `batch` with the input ACTION_MASK of a policy that takes one:
        the caller's masks, checked, or all legal without (ValueError for a mask given to a
        policy that takes none)."""
        rows = _rows(batch)
        mask = self.mask_spec.read(action_mask, rows, single)
        if self.action_mask_size is None:
            return batch
        return {**batch, contract.ACTION_MASK: self._all_legal(rows) if mask is None else mask}

    def _mask_row(self, action_mask: Any) -> np.ndarray | None:
        """One observation's checked mask [P] (None: all legal) for act's bound buffers."""
        mask = self.mask_spec.read(action_mask, 1, True)
        return None if mask is None else mask[0]

    def zeros(self, batch: int) -> np.ndarray | dict[str, np.ndarray]:
        """`batch` observations of zeros in the form `act` takes: [batch, *shape] of the
        input's dtype, or {part: [batch, ...]}."""
        if self.observation_parts is None:
            return np.zeros((batch, *self.observation_shape), self.observation_dtype)
        return {name: np.zeros((batch, *shape), dtype)
                for name, (shape, dtype) in self.observation_parts.items()}

    def batch(self, obs: Any) -> tuple[dict[str, np.ndarray], bool]:
        """The graph's inputs for `obs` ({"obs": [B, *shape]}, or one [B, ...] per part of a
        Dict or Tuple observation), and whether a single observation was given; a ValueError
        in one line for observations that are not the policy's."""
        return self._batch(obs)

    def _batch(self, obs: Any) -> tuple[dict[str, np.ndarray], bool]:
        if self.observation_parts is not None:
            return as_part_batches(obs, self.observation_parts)
        batch, single = as_batch(obs, self.observation_shape, self.observation_dtype)
        return {self._input: batch}, single

    def probs(self, obs: Any, state: Any = None, action_mask: Any = None) -> np.ndarray:
        """Action probabilities: float32 [n] (categorical), each branch's side by side
        [sum(nvec)] (multi_categorical), or each bit's P(1) [n] (bernoulli); [B, ...] for a
        batch (a recurrent policy's: in `state`). Under `action_mask`, exactly 0 for each
        illegal action."""
        if self.kind in ("gaussian", "deterministic"):
            raise ValueError(f"probs() needs a discrete policy; this one is {self.kind}: "
                             "use distribution()")
        batch, single = self._feed(obs, state, action_mask)
        probs = self._distribution(batch)[contract.PROBS]
        return probs[0] if single else probs

    def distribution(self, obs: Any, state: Any = None, action_mask: Any = None
                     ) -> dict[str, np.ndarray]:
        """The raw outputs of the model by name (e.g. probs and action, or mean, std, action;
        and next_state for a recurrent policy, which takes `state`), under `action_mask` if
        given."""
        batch, single = self._feed(obs, state, action_mask)
        values = self._session.run(self._outputs, batch)
        check_finite(self._outputs, values, batch)
        return {n: (v[0] if single else v) for n, v in zip(self._outputs, values, strict=True)}

    def _distribution(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self._session.run(self._dist_outputs, batch)
        if self._logits:
            values = [softmax(values[0])]
        check_finite(self._dist_outputs, values, batch)
        if self._logits:
            return {contract.PROBS: values[0]}
        return dict(zip(self._dist_outputs, values, strict=True))

    def _decide(self, batch: dict[str, np.ndarray], deterministic: bool
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Actions and their distribution for the graph's inputs `batch`."""
        if self.kind == "deterministic":
            if not deterministic:
                raise ValueError("this policy has no distribution to sample from; "
                                 "use deterministic=True")
            actions = self._session.run(self._act_fetch, batch)[0]
            check_finite(self._act_fetch, [actions], batch)  # its one output, the action
            return actions, {}
        if deterministic and self._action_output is not None:  # the graph's greedy action
            values = self._session.run(self._act_fetch, batch)
            check_finite(self._act_fetch, values, batch)
            return values[0], dict(zip(self._dist_outputs, values[1:], strict=True))
        dist = self._distribution(batch)
        if self.kind == "categorical":
            if deterministic:  # a file without metadata: the argmax of its probs
                return dist[contract.PROBS].argmax(axis=1).astype(np.int64), dist
            with self._rng_lock:
                uniform = self._rng.random(len(dist[contract.PROBS]))
            return sample_categorical(dist[contract.PROBS], uniform), dist
        if self.kind == "multi_categorical":
            nvec = self.action_space["nvec"]
            with self._rng_lock:
                uniform = self._rng.random((len(dist[contract.PROBS]), len(nvec)))
            return sample_multi_categorical(dist[contract.PROBS], nvec, uniform), dist
        if self.kind == "bernoulli":
            probs = dist[contract.PROBS]
            with self._rng_lock:
                uniform = self._rng.random(probs.shape)
            return sample_bernoulli(probs, uniform), dist
        low, high = (np.asarray(self.action_space[k], dtype=np.float32) for k in ("low", "high"))
        mean, std = dist[contract.MEAN], dist[contract.STD]
        with self._rng_lock:
            normal = self._rng.standard_normal(mean.shape)
        return sample_gaussian(mean, std, normal, low, high), dist

    def __repr__(self) -> str:
        parts = self.observation_parts
        observations = (f"observation_shape={self.observation_shape}" if parts is None else
                        f"observation_parts={ {name: s for name, (s, _) in parts.items()} }")
        return (f"OnnxPolicy({str(self.path)!r}, env_id={self.metadata.get('env_id')!r}, "
                f"{observations}, action_space={self.action_space})")


def _rows(batch: dict[str, np.ndarray]) -> int:
    """The number of observations in the graph's inputs `batch`."""
    return len(next(iter(batch.values())))


def _shape(path: Path, shape: Any) -> tuple[int, ...]:
    """A caller's observation_shape as a tuple of positive ints, or a PolicyLoadError."""
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if dims is None or not all(isinstance(d, int | np.integer) and d >= 1 for d in dims):
        raise PolicyLoadError(f"{path}: observation_shape must be a tuple of positive integers "
                              f"such as (4,) or (84, 84, 3), got {shape!r}")
    return tuple(int(d) for d in dims)
