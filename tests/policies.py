"""Building keras_pg policies with the built-in MLP, for tests that need a bare model."""

from keras_pg.policy import build_policy
from keras_pg.policy.networks import build_features


def mlp_policy(observation_space, action_space, hidden, **kwargs):
    """build_policy with an MLP feature network of `hidden` widths."""
    return build_policy(observation_space, action_space,
                        build_features("mlp", observation_space, hidden), **kwargs)
