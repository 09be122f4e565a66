"""The run directory: every file a run writes and reads, its lock, its checkpoints.

run_dir.py names the files and reads and writes them (`RunDir`, with typed metric rows),
files.py writes atomically and reads with one-line errors, lock.py keeps one writer at a
time, checkpoint.py saves and restores training exactly, tensorboard.py writes the `tb/`
event files, plots.py the learning curve.
"""

from keras_pg.run.files import atomic_write, write_json
from keras_pg.run.lock import RunDirLock
from keras_pg.run.run_dir import EpisodeRow, RunDir, RunDirError, UpdateRow

__all__ = ["EpisodeRow", "RunDir", "RunDirError", "RunDirLock", "UpdateRow", "atomic_write",
           "write_json"]
