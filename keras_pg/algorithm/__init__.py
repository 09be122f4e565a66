"""REINFORCE's math: discounted reward-to-go, advantages, the loss and its update step.

Pure functions on arrays and tensors (returns.py, advantages.py), the loss and one
gradient step (update.py), and the Learner that owns the networks and optimizers
(learner.py). The trainer feeds it rounds of complete episodes; nothing here touches an
environment or a file.
"""

from keras_pg.algorithm.advantages import (
    advantages,
    explained_variance,
    lambda_advantages,
    normalize,
)
from keras_pg.algorithm.batch import Batch, concatenate, episode_steps
from keras_pg.algorithm.learner import Learner, UpdateResult
from keras_pg.algorithm.returns import discounted_returns, reward_to_go, truncation_discounts
from keras_pg.algorithm.update import (
    NonFiniteLossError,
    UpdateMetrics,
    UpdateStep,
    reinforce_loss,
)

__all__ = ["Batch", "Learner", "NonFiniteLossError", "UpdateMetrics", "UpdateResult", "UpdateStep",
           "advantages", "concatenate", "discounted_returns", "episode_steps",
           "explained_variance", "lambda_advantages", "normalize", "reinforce_loss",
           "reward_to_go", "truncation_discounts"]
