"""`keras_pg tune`: an Optuna study in SQLite that continues, shares, prunes and writes a
best_config.json that `train --config` reads."""

import json
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import optuna
import pytest

from keras_pg import run_dir as rd
from keras_pg.cli import main
from keras_pg.tune import CHECKPOINTS, TrialReport, _open_study

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--env", "CartPole-v1", "--max-steps", "2000", "--eval-episodes", "2"]


def tune_cli(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "keras_pg", "tune", "--storage",
         f"sqlite:///{tmp_path}/tune.db", "--study", "s", "--out", str(tmp_path / "out"),
         "--quiet", *SMALL, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def trials(tmp_path: Path) -> list:
    """The study's trials (none before the tuner has created it)."""
    try:
        return optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path}/tune.db").trials
    except KeyError:
        return []


def test_a_study_continues_and_its_best_config_trains(tmp_path, capsys):
    storage = f"sqlite:///{tmp_path}/tune.db"
    args = ["tune", "--storage", storage, "--study", "s", "--out", str(tmp_path / "out"),
            "--quiet", *SMALL]
    assert main([*args, "--trials", "3"]) == 0
    first = trials(tmp_path)
    assert [t.number for t in first] == [0, 1, 2] and (tmp_path / "tune.db").exists()
    assert main([*args, "--trials", "5"]) == 0  # the same study, continued
    second = trials(tmp_path)
    assert [t.number for t in second] == [0, 1, 2, 3, 4]
    assert [(t.params, t.value) for t in second[:3]] == [(t.params, t.value) for t in first]
    out = tmp_path / "out"
    assert (out / "optimization_history.png").stat().st_size > 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("study s: ")
    best = json.loads((out / "best_config.json").read_text())
    study = optuna.load_study(study_name="s", storage=storage)
    assert best == study.best_trial.user_attrs["config"] and best["env_id"] == "CartPole-v1"
    assert main(["train", "--config", str(out / "best_config.json"), "--max-steps", "1000",
                 "--run-dir", str(tmp_path / "run"), "--quiet", "--no-export"]) == 0
    config = rd.read_json(tmp_path / "run" / rd.CONFIG)
    assert config == {**best, "max_steps": 1000}  # the flag overrides the file


def test_the_pruner_stops_a_trial_that_is_clearly_worse(tmp_path):
    study = _open_study(optuna, f"sqlite:///{tmp_path}/p.db", "p", seed=0)

    def scripted(level: float):
        def objective(trial):
            report = TrialReport(trial, max_steps=CHECKPOINTS)
            report.set_model(types.SimpleNamespace(stop_training=False))
            for step in range(1, CHECKPOINTS + 1):
                report.on_epoch_end(step, {"env_steps": step, "mean_return": level})
                if report.pruned:
                    assert report.model.stop_training
                    raise optuna.TrialPruned
            return report.auc(level)
        return objective

    for level in (100.0, 110.0, 120.0):
        study.optimize(scripted(level), n_trials=1)
    study.optimize(scripted(5.0), n_trials=1)
    states = [t.state for t in study.trials]
    assert states[:3] == [optuna.trial.TrialState.COMPLETE] * 3
    assert states[3] == optuna.trial.TrialState.PRUNED
    assert max(study.trials[3].intermediate_values) < CHECKPOINTS  # stopped early


def test_kill_9_mid_study_then_the_same_command_keeps_the_finished_trials(tmp_path):
    proc = tune_cli(tmp_path, "--trials", "5")
    deadline = time.monotonic() + 120
    while len([t for t in trials(tmp_path) if t.state.is_finished()]) < 2:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {t.number: (t.params, t.value) for t in trials(tmp_path) if t.state.is_finished()}
    rerun = tune_cli(tmp_path, "--trials", "5")
    _, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    after = trials(tmp_path)
    assert {n: (after[n].params, after[n].value) for n in before} == before
    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    assert len([t for t in after if t.state in done]) == 5


@pytest.mark.parametrize("args,message", [
    (["--storage", "runs/tune.db"], "error: storage must be a database URL such as "
                                    "sqlite:///runs/tune.db, got 'runs/tune.db'"),
    (["--trials", "0"], "error: trials must be a positive integer, got 0"),
    (["--space", "SPACE"], "error: unknown parameter 'learning_rate' in the search space"),
])
def test_bad_tune_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    (tmp_path / "space.json").write_text(json.dumps({"learning_rate": {"choices": [1]}}))
    args = [str(tmp_path / "space.json") if a == "SPACE" else a for a in args]
    proc = subprocess.run([sys.executable, "-m", "keras_pg", "tune", "--out",
                           str(tmp_path / "out"), *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT),
                                                       "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().startswith(message), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["space.json"]


def test_a_config_file_that_is_not_a_keras_pg_config_names_the_key(tmp_path, capsys):
    (tmp_path / "c.json").write_text(json.dumps({"env_id": "CartPole-v1", "learning": 1}))
    assert main(["train", "--config", str(tmp_path / "c.json"), "--run-dir",
                 str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'c.json'} is not a keras_pg config: unknown "
                          f"config keys ['learning']")
    assert not (tmp_path / "run").exists()


def test_two_tuner_processes_share_one_study(tmp_path):
    first, second = tune_cli(tmp_path, "--trials", "4"), tune_cli(tmp_path, "--trials", "4")
    for proc in (first, second):
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
    done = [t for t in trials(tmp_path) if t.state.is_finished()]
    assert len({t.number for t in done}) == len(done) >= 4  # one study, no number twice
    assert {t.number for t in done} >= {0, 1, 2, 3}
