import os
import time
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def solved_run(tmp_path_factory) -> Path:
    """A default CartPole-v1 run (seed 0) trained to the solve criterion, then exported
    (`python -m export RUN_DIR`).

    `solved_run / "wall_s"` holds the wall time of `train`.
    """
    from export.cli import main as export_main
    from keras_pg.cli import main

    run_dir = tmp_path_factory.mktemp("solved")
    start = time.perf_counter()
    assert main(["train", "--run-dir", str(run_dir), "--quiet"]) == 0
    (run_dir / "wall_s").write_text(str(time.perf_counter() - start))
    assert export_main([str(run_dir)]) == 0
    return run_dir
