"""Recurrent policies: a GRU or LSTM cell between the feature network and the head.

A recurrent policy is a Keras model of one step, `model([obs, state]) -> [params,
next_state]`: the observation (a tensor, or {part: tensor}) and the state float32 [B, S]
after the episode's previous step (zeros at its first step) give the head's parameters and
the state after this step. The same model acts in rollouts (one step per call, the state
carried per env), is exported (serve/contract.json: inputs `state`, outputs `next_state`)
and is trained: `unroll` steps it through whole episodes inside the update, so that the
gradient flows back through time over each episode (BPTT).

The state of an LSTM is its h then its c, side by side ([B, 2 * units]); a GRU's is its h
([B, units]). Any model of that form is recurrent (`is_recurrent`): the built-in cell below,
or a user's feature network taking [preprocessed observation, state] and returning
[features, next_state].
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from serve.contract import RECURRENT_CELLS

CELLS = tuple(RECURRENT_CELLS)  # "gru", "lstm"
CORE_NAME = "recurrent"


@keras.saving.register_keras_serializable(package="keras_pg")
class RecurrentCore(keras.layers.Layer):
    """One step of a GRU or LSTM cell: (x [B, F], state [B, S]) -> (h [B, units],
    next_state [B, S]), S = units (GRU) or 2 * units (LSTM: h then c).

    The GRU is Keras's GRUCell (reset gate after the matmul, as cuDNN's), the LSTM Keras's
    LSTMCell (forget-gate bias 1); both with Keras's default initializers."""

    def __init__(self, cell: str, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cell_kind, self.units = cell, units
        self.cell = (keras.layers.GRUCell(units, name="gru_cell") if cell == "gru"
                     else keras.layers.LSTMCell(units, name="lstm_cell"))
        self.state_size = units * len(RECURRENT_CELLS[cell])

    def build(self, x_shape: Any, state_shape: Any) -> None:
        self.cell.build(tuple(x_shape))
        self.built = True

    def call(self, x: tf.Tensor, state: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        if self.cell_kind == "gru":
            h, _ = self.cell(x, [state])
            return h, h
        h, (_, c) = self.cell(x, keras.ops.split(state, 2, axis=-1))
        return h, keras.ops.concatenate([h, c], axis=-1)

    def compute_output_shape(self, x_shape: Any, state_shape: Any) -> Any:
        return (x_shape[0], self.units), (x_shape[0], self.state_size)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cell": self.cell_kind, "units": self.units}


def is_recurrent(model: keras.Model) -> bool:
    """Whether `model` is a recurrent policy (or value) model: inputs [obs, state]."""
    try:
        inputs = model.input
    except (AttributeError, ValueError):  # a subclassed or never-called model: feed-forward
        return False
    return isinstance(inputs, list | tuple) and len(inputs) == 2


def state_size(model: keras.Model) -> int:
    """S, the size of a recurrent model's state input."""
    return int(model.input[1].shape[-1])


def recurrent_core(model: keras.Model) -> RecurrentCore | None:
    """The built-in cell of a recurrent policy (None: a user's recurrent network)."""
    cores = [layer for layer in model._flatten_layers() if isinstance(layer, RecurrentCore)]
    return cores[0] if cores else None


def unroll(step: keras.Model, obs: Any, cells: tf.Tensor, training: bool = False
           ) -> tf.Tensor:
    """A recurrent model's first output for every transition of whole episodes, each run
    from the initial state (zeros) through its steps in order.

    Args:
        step: a recurrent model, [obs, state] -> [output [B, ...], next_state [B, S]].
        obs: [M, ...] (or {part: [M, ...]}), the episodes' observations in any order.
        cells: int32 [M, 2], (t, k): row i is step t of episode k; episode k's steps are
            t = 0 .. T_k - 1, each once.
        training: passed to the model's calls.

    Returns:
        [M, ...]: the output at each row's step, from the state after the episode's steps
        before it.

    The rows go into a padded grid [T, K, ...] (T the longest episode, K the episodes) and
    the model steps along T on K rows at a time; a shorter episode's padding comes after
    its last step, so it cannot reach its outputs (the cell is causal), and gathering the
    rows back leaves it out of the loss and the gradient. Memory: the activations of every
    step are kept for backpropagation, K * T rows of the model's layers: the episodes per
    update times the longest episode, which `max_episode_steps` bounds.
    """
    cells = tf.cast(cells, tf.int32)
    shape = tf.reduce_max(cells, axis=0) + 1  # [T, K]
    grid = tf.nest.map_structure(
        lambda x: tf.scatter_nd(cells, x, tf.concat([shape, tf.shape(x)[1:]], axis=0)), obs)
    size = state_size(step)
    state = tf.zeros(tf.stack([shape[1], size]))
    output_shape = step.output[0].shape[1:]
    initial_output = tf.zeros(tf.concat([shape[1:], list(output_shape)], axis=0))

    def one_step(carry: tuple[tf.Tensor, tf.Tensor], obs_t: Any) -> tuple[tf.Tensor, tf.Tensor]:
        output, next_state = step([obs_t, carry[0]], training=training)
        return next_state, output

    _, outputs = tf.scan(one_step, grid, initializer=(state, initial_output))
    return tf.gather_nd(outputs, cells)


def over_episodes(model: keras.Model, obs: Any, cells: tf.Tensor | None,
                  training: bool = False) -> tf.Tensor:
    """The model's output for transitions [M, ...] of whole episodes: `unroll` for a
    recurrent model, model(obs) for a feed-forward one (which ignores `cells`)."""
    if is_recurrent(model):
        assert cells is not None, "a recurrent model runs over episodes: pass their cells"
        return unroll(model, obs, cells, training)
    return model(obs, training=training)


def from_initial_state(model: keras.Model, obs: Any) -> tf.Tensor:
    """The model's (first) output for observations [B, ...]: a recurrent model's as at an
    episode's first step (the initial state, zeros)."""
    if not is_recurrent(model):
        return model(obs, training=False)
    obs = tf.nest.map_structure(tf.convert_to_tensor, obs)  # Keras takes no numpy mixed in
    rows = tf.shape(tf.nest.flatten(obs)[0])[0]
    return model([obs, tf.zeros(tf.stack([rows, state_size(model)]))], training=False)[0]
