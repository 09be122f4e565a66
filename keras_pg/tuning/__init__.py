"""Tuning with Optuna: `keras_pg.tune` and `python -m keras_pg tune`.

tune.py runs the study (trials are REINFORCE runs, pruned by their learning curves),
search_space.py reads and samples the search space, study_record.py records what a study
tunes so that a resumed study cannot silently change it, report.py writes best_config.json
and the plots.
"""

from keras_pg.tuning.report import BEST_CONFIG
from keras_pg.tuning.tune import OBJECTIVES, tune

__all__ = ["BEST_CONFIG", "OBJECTIVES", "tune"]
