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

from keras_pg.cli import main
from keras_pg.run.run_dir import RunDir
from keras_pg.tuning.study_record import RECORD, check_record
from keras_pg.tuning.tune import CHECKPOINTS, TrialReport, open_study

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
                 "--run-dir", str(tmp_path / "run"), "--quiet"]) == 0
    config = RunDir(tmp_path / "run").read_config()
    assert config == {**best, "max_steps": 1000}  # the flag overrides the file


def test_the_pruner_stops_a_trial_that_is_clearly_worse(tmp_path):
    study = open_study(optuna, f"sqlite:///{tmp_path}/p.db", "p", seed=0)

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
    *[(["--storage", url, "--trials", "1", "--max-steps", "500"],
       f"error: storage {url} is an in-memory database: nothing would persist, and the study "
       f"could not be continued or shared; give a file, e.g. sqlite:///runs/tune.db")
      for url in ("sqlite://", "sqlite:///:memory:")],
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


def test_a_study_refuses_other_settings_in_one_line_before_any_trial(tmp_path, capsys):
    storage = f"sqlite:///{tmp_path}/tune.db"
    for name, low in (("space", 1e-3), ("other_space", 1e-4)):  # one parameter: a fast trial
        (tmp_path / f"{name}.json").write_text(json.dumps({"lr": {"type": "log", "low": low,
                                                                  "high": 1e-2}}))
    args = ["tune", "--storage", storage, "--study", "s", "--out", str(tmp_path / "out"),
            "--quiet", "--env", "CartPole-v1", "--max-steps", "1000", "--eval-episodes", "1",
            "--space", str(tmp_path / "space.json"), "--no-tensorboard"]
    assert main([*args, "--trials", "1"]) == 0
    best = (tmp_path / "out" / "best_config.json").read_text()
    capsys.readouterr()
    changes = {  # a flag changed -> the field named, its recorded and its given value
        ("--env", "Acrobot-v1"): 'env_id = "CartPole-v1", and this command has '
                                 'env_id = "Acrobot-v1"',
        ("--env-kwargs", '{"sutton_barto_reward": true}'): "env_kwargs = {}, and this "
            'command has env_kwargs = {"sutton_barto_reward": true}',
        ("--objective", "eval"): 'objective = "auc", and this command has objective = "eval"',
        ("--max-steps", "3000"): "max_steps = 1000, and this command has max_steps = 3000",
        ("--seeds", "2"): "seeds = 1, and this command has seeds = 2",
        ("--tune-preset", "seed"): 'preset = "none", and this command has preset = "seed"',
        ("--space", str(tmp_path / "other_space.json")): 'space.lr = {"type": "log", '
            '"low": 0.001, "high": 0.01}, and this command has space.lr = {"type": "log", '
            '"low": 0.0001, "high": 0.01}',
        ("--lr", "0.01"): "settings.lr = (not set), and this command has settings.lr = 0.01",
    }
    for (flag, value), difference in changes.items():
        given = [*args, "--trials", "2"]
        if flag in given:
            given[given.index(flag) + 1] = value
        assert main(given if flag in given else [*given, flag, value]) == 2, flag
        err = capsys.readouterr().err
        assert err.startswith(f"error: study 's' in {storage} was created with {difference}")
        assert err.endswith(": their trials are not comparable; use another --study name or "
                            "the same settings\n") and len(err.splitlines()) == 1, err
    assert [t.state for t in trials(tmp_path)] == [optuna.trial.TrialState.COMPLETE]
    assert (tmp_path / "out" / "best_config.json").read_text() == best
    # The same settings pass the check; where a trial logs is not part of what it tunes.
    assert main([*args, "--trials", "1", "--tensorboard"]) == 0


def test_a_study_made_before_studies_recorded_their_settings(tmp_path, capsys):
    storage = f"sqlite:///{tmp_path}/tune.db"
    old = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    old.add_trial(optuna.trial.create_trial(value=1.0))
    assert main(["tune", "--storage", storage, "--study", "s", "--out", str(tmp_path / "out"),
                 "--quiet", *SMALL, "--trials", "2"]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: study 's' in {storage} was made by an older keras-pg, which did "
                   f"not record what it tunes, and its trials (1) cannot be checked against "
                   f"these settings; use another --study name, or delete it (optuna "
                   f"delete-study --study-name s --storage {storage})\n")
    assert len(trials(tmp_path)) == 1
    # One with no trials yet takes the record of the first command that continues it.
    empty = optuna.create_study(study_name="empty", storage=storage, direction="maximize")
    check_record(empty, storage, {"env_id": "CartPole-v1"})
    assert empty.user_attrs[RECORD] == {"env_id": "CartPole-v1"}
    with pytest.raises(ValueError, match='env_id = "CartPole-v1", and this command has '
                                         'env_id = "Acrobot-v1"'):
        check_record(empty, storage, {"env_id": "Acrobot-v1"})


def test_an_unwritable_out_is_one_line_exit_74_before_any_trial(tmp_path, capsys):
    (tmp_path / "file").write_text("a file where --out needs a directory (fails for root too)")
    assert main(["tune", "--storage", f"sqlite:///{tmp_path}/tune.db", "--study", "s",
                 "--out", str(tmp_path / "file" / "out"), "--quiet", *SMALL,
                 "--trials", "1"]) == 74
    assert capsys.readouterr().err == (f"error: cannot write the run: {tmp_path}/file/out: "
                                       f"Not a directory; give --out a writable directory\n")
    assert trials(tmp_path) == []  # no failed trial: the study was not even opened


@pytest.mark.parametrize("database,reason", [
    ("text.db", "DatabaseError: (sqlite3.DatabaseError) file is not a database"),
    ("folder.db", "OperationalError: (sqlite3.OperationalError) unable to open database file"),
    ("text.db/tune.db", "cannot create the folder TMP/text.db: File exists"),
])
def test_a_storage_that_cannot_be_opened_is_one_line_exit_2(tmp_path, capsys, database,
                                                            reason):
    (tmp_path / "text.db").write_text("not a database")
    (tmp_path / "folder.db").mkdir()
    storage = f"sqlite:///{tmp_path}/{database}"
    assert main(["tune", "--storage", storage, "--out", str(tmp_path / "out"), "--quiet",
                 *SMALL]) == 2
    reason = reason.replace("TMP", str(tmp_path))
    assert capsys.readouterr().err == f"error: cannot open the storage {storage}: {reason}\n"


def test_a_gae_draw_brings_the_value_baseline_it_needs():
    import optuna

    from keras_pg.config import Config
    from keras_pg.tuning.search_space import DEFAULT_SPACE, suggest

    space = DEFAULT_SPACE | {"advantage": {"choices": ["gae"]},
                             "baseline": {"choices": ["none"]}}
    trial = optuna.create_study().ask()
    values = suggest(trial, space)
    assert values["advantage"] == "gae" and values["baseline"] == "value"
    Config(**values)  # a valid configuration, not a ConfigError
