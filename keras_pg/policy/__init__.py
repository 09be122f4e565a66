"""The Keras policy: preprocessing in front, a feature network, a distribution head behind.

heads.py holds the action distributions (categorical, diagonal Gaussian), networks.py the
feature networks (MLP, CNN, the user's own), layers.py the custom layers a saved
`model.keras` needs (registered with Keras when keras_pg is imported), model.py builds and
loads the policy and its value network, recurrent.py the recurrent cell and how a recurrent
policy runs over whole episodes; actors.py acts with it in rollouts (numpy_forward.py:
its forward pass in numpy).
"""

from keras_pg.policy.actors import Actor, describe_actor, make_actor
from keras_pg.policy.heads import CategoricalHead, GaussianHead, Head, make_head
from keras_pg.policy.layers import OneHot, RunningNormalization, StateIndependentLogStd
from keras_pg.policy.model import (
    POLICY_NAME,
    VALUE_NAME,
    build_policy,
    build_value,
    feature_network,
    load_policy,
    make_act_fn,
    observation_dtypes,
    observation_inputs,
    observation_normalizers,
    observation_spec,
    state_spec,
)
from keras_pg.policy.networks import build_features, check_serializable, cnn, mlp, user_features
from keras_pg.policy.recurrent import RecurrentCore, is_recurrent, recurrent_core, state_size

__all__ = ["POLICY_NAME", "VALUE_NAME", "Actor", "CategoricalHead", "GaussianHead", "Head",
           "OneHot", "RecurrentCore", "RunningNormalization", "StateIndependentLogStd",
           "build_features", "build_policy", "build_value", "check_serializable", "cnn",
           "describe_actor", "feature_network", "is_recurrent", "load_policy", "make_act_fn",
           "make_actor", "make_head", "mlp", "observation_dtypes", "observation_inputs",
           "observation_normalizers", "observation_spec", "recurrent_core", "state_size",
           "state_spec", "user_features"]
