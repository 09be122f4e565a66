"""The copies of the contract generated from serve/contract.json, and the check that they
are current:

    serve/js/src/contract.spec.js   the JSON as an ES module (src/contract-names.js reads it)
    docs/contract.md                 the contract's tables, between the markers
                                     <!-- contract:begin --> and <!-- contract:end -->

    python -m serve.contract_render --write    regenerate both
    python -m serve.contract_render --check    exit 1 naming each stale copy (tests run it)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from serve.contract import NAMES, SOURCE, SPEC

ROOT = SOURCE.parent.parent
JS_SPEC = SOURCE.parent / "js" / "src" / "contract.spec.js"
CONTRACT_PAGE = ROOT / "docs" / "contract.md"  # the documentation site's page
BEGIN, END = "<!-- contract:begin -->", "<!-- contract:end -->"
SIZE_NAMES = {"Discrete": "n_actions", "Box": "action_dim", "MultiDiscrete": "sum(nvec)",
              "MultiBinary": "n_bits"}  # what action_size is, per space
BRANCH_NAMES = {"MultiDiscrete": "len(nvec)", "MultiBinary": "n_bits"}  # action_branches
GENERATED = "generated from serve/contract.json by `python -m serve.contract_render --write`"


def render_js() -> str:
    """serve/js/src/contract.spec.js: the contract's JSON as the default export."""
    return (f"// {GENERATED}; do not edit.\n"
            f"export default /** @type {{const}} */ ({json.dumps(SPEC, indent=2)});\n")


def render_tables() -> str:
    """The contract's tables (Markdown): the graph, then the metadata."""
    shape = "`[" + ", ".join(_dim(d) for d in SPEC["input"]["shape"]) + "]`"
    rows = ["| | name | type | shape | meaning |", "|---|---|---|---|---|",
            f"| input | `{NAMES[SPEC['input']['name']]}` | {SPEC['input']['dtype']}, or "
            f"{SPEC['input']['image_dtype']} for images | {shape} | "
            f"{SPEC['input']['description']} |"]
    for kind, rule in SPEC["policy_kinds"].items():
        names = {"action_size": SIZE_NAMES[rule["action_space"]],
                 "action_branches": BRANCH_NAMES.get(rule["action_space"], "")}
        for output in rule["outputs"]:
            dims = "`[" + ", ".join(names.get(d) or _dim(d) for d in output["shape"]) + "]`"
            rows.append(f"| output ({kind}) | `{NAMES[output['name']]}` | {output['dtype']} "
                        f"| {dims} | {output['description']} |")
    state = SPEC["state"]
    dims = "`[" + ", ".join(_dim(d) for d in state["shape"]) + "]`"
    rows += [f"| {role} (recurrent) | `{NAMES[state[role]]}` | {state['dtype']} | {dims} | "
             f"{state['description'] if role == 'input' else 'the state after this step'} |"
             for role in ("input", "output")]
    mask = SPEC["action_mask"]
    dims = "`[" + ", ".join(_dim(d) for d in mask["shape"]) + "]`"
    rows.append(f"| input ({' and '.join(mask['policy_kinds'])}) | `{NAMES[mask['input']]}` | "
                f"{mask['dtype']} | {dims} | {mask['description']} |")
    rows += ["", "| key | since | required | example | meaning |", "|---|---|---|---|---|"]
    for entry in SPEC["metadata"]:
        rows.append(f"| `{entry['key']}` | {entry['since']} | "
                    f"{'yes' if entry['required'] else 'no'} | `{entry['example']}` | "
                    f"{entry['description']} |")
    rows += ["", "| version | what it is |", "|---|---|"]
    rows += [f"| {version} | {text} |" for version, text in SPEC["versions"].items()]
    current = SPEC["version"]
    supported = ", ".join(map(str, SPEC["supported_versions"]))
    rows += ["", f"Files are written with version {current}; every runtime reads versions "
                 f"{supported} and refuses another in one line. {SPEC['wire']['description']}"]
    return "\n".join(rows)


def _dim(dim: str) -> str:
    """A symbolic dimension as the tables write it."""
    return NAMES.get(dim, dim)


def with_tables(page: str) -> str:
    """`page` with the text between the markers replaced by the current tables."""
    start, end = page.index(BEGIN) + len(BEGIN), page.index(END)
    return f"{page[:start]}\n{render_tables()}\n{page[end:]}"


def stale() -> list[Path]:
    """The generated copies that differ from what contract.json gives."""
    found = []
    if not JS_SPEC.is_file() or JS_SPEC.read_text() != render_js():
        found.append(JS_SPEC)
    if CONTRACT_PAGE.is_file():  # a checkout's; an installed serve has no docs/
        text = CONTRACT_PAGE.read_text()
        if with_tables(text) != text:
            found.append(CONTRACT_PAGE)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serve.contract_render",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="regenerate the copies")
    parser.add_argument("--check", action="store_true", help="exit 1 if a copy is stale")
    args = parser.parse_args(argv)
    if args.write:
        JS_SPEC.write_text(render_js())
        CONTRACT_PAGE.write_text(with_tables(CONTRACT_PAGE.read_text()))
        return 0
    paths = stale()
    for path in paths:
        print(f"stale: {path} differs from {SOURCE}; run python -m serve.contract_render "
              "--write", file=sys.stderr)
    return 1 if paths else 0


if __name__ == "__main__":
    sys.exit(main())
