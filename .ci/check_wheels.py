"""The two wheels CI builds hold what a user imports: keras-pg's three packages, serve alone in
keras-pg-serve, each with py.typed, and serve's contract.json. Usage: check_wheels.py DIR"""

import sys
import zipfile
from pathlib import Path

EXPECTED = {
    "keras_pg-": {"keras_pg/py.typed", "export/py.typed", "serve/py.typed",
                  "serve/contract.json", "keras_pg/envs/graph/cartpole.py"},
    "keras_pg_serve-": {"serve/py.typed", "serve/contract.json"},
}

wheels = sorted(Path(sys.argv[1]).glob("*.whl"))
for prefix, names in EXPECTED.items():
    found = [w for w in wheels if w.name.startswith(prefix)]
    if len(found) != 1:
        sys.exit(f"expected one {prefix}*.whl in {sys.argv[1]}, found {[w.name for w in wheels]}")
    missing = names - set(zipfile.ZipFile(found[0]).namelist())
    if missing:
        sys.exit(f"{found[0].name} lacks {sorted(missing)}")
    print(found[0].name)
