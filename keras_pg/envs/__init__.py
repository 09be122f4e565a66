"""Environments: where the training env comes from, its spaces, and envs in TensorFlow ops.

source.py makes the env a run trains on (a gymnasium id, "module:EnvId", or a Python
callable) and checks what it offers; spaces.py writes spaces as JSON and back; graph/ holds
the classic-control envs written in TensorFlow ops for `--backend graph` (import
`keras_pg.envs.graph` for them).
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
from keras_pg.envs.spaces import describe_space, is_image_space, space_from_description

__all__ = ["DEFAULT_TIME_LIMIT", "EnvInfo", "EnvSource", "TimeLimitWarning", "check_env_id",
           "check_spaces", "describe_space", "factory_name", "is_factory_name",
           "is_image_space", "prepare_env", "space_from_description"]
