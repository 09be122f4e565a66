"""Environments: where the training env comes from, its spaces, and envs in TensorFlow ops.

source.py makes the env a run trains on (a gymnasium id, "module:EnvId", or a Python
callable) and checks what it offers; graph/ holds the classic-control envs written in
TensorFlow ops for `--backend graph` (import `keras_pg.envs.graph` for them); partial.py
registers CartPoleNoVel-v1, CartPole without its velocities, a partially observed task for
recurrent policies ("keras_pg.envs.partial:CartPoleNoVel-v1"). The spaces' vocabulary (as
JSON, the uint8 image rule) is serve.spaces, shared with export and serve.
"""

from keras_pg.envs.source import (
    DEFAULT_TIME_LIMIT,
    EnvInfo,
    EnvSource,
    TimeLimitWarning,
    check_env_id,
    check_spaces,
    factory_name,
    is_factory_name,
    prepare_env,
)

__all__ = ["DEFAULT_TIME_LIMIT", "EnvInfo", "EnvSource", "TimeLimitWarning", "check_env_id",
           "check_spaces", "factory_name", "is_factory_name", "prepare_env"]
