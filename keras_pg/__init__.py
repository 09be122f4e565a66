"""keras-pg: REINFORCE policy gradients for Keras 3, exported to ONNX.

    import keras_pg
    agent = keras_pg.REINFORCE("CartPole-v1", seed=0)
    summary = agent.learn()
    result = keras_pg.tune("CartPole-v1", trials=20)   # Optuna

Importing keras_pg makes every custom object of its policies known to Keras, so
`keras.models.load_model("RUN_DIR/model.keras")` works after `import keras_pg`.
"""

import os
import sys

from keras_pg._quiet import quiet_tensorflow_import
from serve import __version__  # the one version of keras-pg and keras-pg-serve

try:
    with quiet_tensorflow_import():
        import keras_pg.policy.layers  # noqa: F401  (registers the custom layers)
    from keras_pg.agent import REINFORCE
    from keras_pg.config import Config, ConfigError, ConfigTypeError
    from keras_pg.presets import PRESETS
    from keras_pg.tuning.tune import tune
except KeyboardInterrupt:
    # Ctrl-C while `python -m keras_pg` (or the keras-pg command) is still starting: the
    # command's own handler is not running yet, so answer here as it would.
    if sys.argv[:1] == ["-m"] or os.path.basename(sys.argv[0]) == "keras-pg":
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    raise

__all__ = ["PRESETS", "REINFORCE", "Config", "ConfigError", "ConfigTypeError", "__version__",
           "tune"]
