"""keras-pg: REINFORCE policy gradients for Keras 3, exported to ONNX.

Importing keras_pg makes every custom object of its policies known to Keras, so
`keras.models.load_model("RUN_DIR/model.keras")` works after `import keras_pg`.
"""

import os

# TensorFlow's C++ start-up messages (no CUDA driver, CPU features) are noise for a
# command-line tool; failures still surface as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_pg._quiet import quiet_native_stderr

with quiet_native_stderr():
    import keras_pg.layers  # noqa: F401  (registers the custom layers)

__version__ = "0.1.0"
