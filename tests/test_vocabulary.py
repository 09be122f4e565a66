"""One vocabulary for training, export and serve: the spaces' JSON, the dtype and shape a
policy takes observations in, and how an env factory is named -- each written once (in
serve, which imports neither keras_pg nor export) and agreed on by all three."""

import gymnasium as gym
import numpy as np
import pytest

import keras_pg
from keras_pg.envs import source
from keras_pg.policy import build_policy, mlp
from keras_pg.policy.networks import preprocessed_shape
from serve import contract, envs, spaces

SPACES = {
    "discrete": gym.spaces.Discrete(5, start=2),
    "vector": gym.spaces.Box(-1.0, 1.0, (4,), np.float32),
    "image": gym.spaces.Box(0, 255, (8, 8, 3), np.uint8),
    "float frames": gym.spaces.Box(0.0, 1.0, (8, 8, 3), np.float32),  # not an image: float
    "uint8 vector": gym.spaces.Box(0, 255, (6,), np.uint8),  # not an image: rank 1
}


@pytest.mark.parametrize("name", SPACES)
def test_the_policy_input_the_contract_and_serve_agree_on_the_observation_dtype(name):
    space = SPACES[name]
    expected = "uint8" if name == "image" else "float32"
    assert spaces.observation_dtype(space) == expected
    assert contract.input_dtype(spaces.describe_space(space)) == expected
    model = build_policy(space, gym.spaces.Discrete(2), mlp(preprocessed_shape(space), (8,)))
    assert str(model.inputs[0].dtype) == expected
    assert tuple(model.input_shape[1:]) == spaces.observation_shape(space)


@pytest.mark.parametrize("name", SPACES)
def test_a_space_survives_its_json(name):
    space = SPACES[name]
    again = spaces.space_from_description(spaces.describe_space(space))
    assert again == space and again.dtype == space.dtype


def test_training_and_serve_name_env_factories_alike():
    def make():  # a local function: the name keeps its qualified path
        return gym.make("CartPole-v1")

    name = envs.factory_name(make)
    assert name == f"<{__name__}.{make.__qualname__}>" and envs.is_factory_name(name)
    assert not envs.is_factory_name("CartPole-v1") and not envs.is_factory_name("m:Env-v0")
    assert source.factory_name is envs.factory_name  # training records what serve reads
    agent = keras_pg.REINFORCE(make, seed=0, num_envs=2, episodes_per_update=2)
    assert agent.config.env_id == name


def test_module_env_ids_name_the_module_to_import():
    assert envs.env_module("myenv:GoLeft-v0") == "myenv"
    assert envs.env_module("pkg.sub:Env-v1") == "pkg.sub"
    assert envs.env_module("CartPole-v1") is None
