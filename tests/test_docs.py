"""The documentation's examples run as written.

Every ```python block of README.md and of each docs/ page runs, per page in order in one
process, in a fresh directory holding the quick start's `runs/cartpole/policy.onnx` (the solved
CartPole policy the JavaScript fixtures keep), `runs/beacon/policy.onnx` (their policy of
Dict observations, tests/structured_envs.py's Beacon-v0), `runs/cue/policy.onnx` (their
recurrent policy, tests/memory_env.py's Cue-v0) and `runs/corridor/policy.onnx` (their policy
of action masks, tests/masked_env.py's Corridor-v0); a ```text block right after an
example is its expected output. A block that starts with "# with `python -m serve ...`
running" needs that service: the test starts it on free ports of 127.0.0.1 before the page
runs and stops it after. ```js blocks run in Node against serve/js. Every `python -m
keras_pg|export|serve` command of a ```bash block is parsed by that package's real command
line (a flag that does not exist fails), and every repository path in one must exist. The
README's quick start also runs outside the repository with the package installed by pip.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import glob
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
QUICK_START_POLICY = ROOT / "serve" / "js" / "test" / "fixtures" / "cartpole.onnx"
DICT_POLICY = QUICK_START_POLICY.with_name("beacon.onnx")
RECURRENT_POLICY = QUICK_START_POLICY.with_name("cue.onnx")
MASKED_POLICY = QUICK_START_POLICY.with_name("corridor.onnx")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```[ \t]*$", re.M | re.S)
SERVER = re.compile(r"\A# with `(python -m serve [^`]+)` running\n")
PORTS = {"8000": "--port", "8001": "--grpc-port"}  # the ports the pages write, and their flags
REPO_PATH = re.compile(r"^(bench|serve|tests|docs|export|keras_pg|\.ci)/")
SECONDS = 300


class Block(NamedTuple):
    lang: str
    code: str
    output: str | None
    """The ```text block right after this one, if any: its expected output."""


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    found = list(FENCE.finditer(text))
    result = []
    for i, match in enumerate(found):
        after = found[i + 1] if i + 1 < len(found) else None
        output = None
        if (after is not None and after.group(1) == "text"
                and not text[match.end():after.start()].strip()):
            output = after.group(2)
        result.append(Block(match.group(1), match.group(2), output))
    return result


def name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def pages_with(lang: str) -> list[Path]:
    return [page for page in PAGES if any(b.lang == lang for b in blocks(page))]


# -- running a page's examples -----------------------------------------------------------------
class PageRun(NamedTuple):
    code: str
    proc: subprocess.CompletedProcess
    expected: list[str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"the service exited: {proc.args}"
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"the service did not start: {proc.args}"
            time.sleep(0.1)


@contextmanager
def service(command: str | None, cwd: Path) -> Iterator[dict[str, str]]:
    """The page's service, on free ports; yields the port each of the page's ports became."""
    if command is None:
        yield {}
        return
    ports = {page_port: str(free_port()) for page_port in PORTS if page_port in command}
    argv = shlex.split(command)
    for page_port, port in ports.items():
        argv[argv.index(PORTS[page_port]) + 1] = port
    assert argv[:3] == ["python", "-m", "serve"] and "--http" in argv, command
    server = subprocess.Popen([sys.executable, *argv[1:]], cwd=cwd, env=environment(ROOT),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for port in ports.values():
            wait_for_port(int(port), server)
        yield ports
    finally:
        server.terminate()
        server.wait(timeout=30)


def environment(pythonpath: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(pythonpath)}


def with_ports(code: str, ports: dict[str, str]) -> str:
    for page_port, port in ports.items():
        code = re.sub(rf"\b(localhost|127\.0\.0\.1):{page_port}\b", rf"\g<1>:{port}", code)
    return code


def prepare(work: Path) -> None:
    """What the pages assume: the quick start's first command has run, a policy of Dict
    observations is at runs/beacon/policy.onnx, a recurrent one (a GRU solving
    tests/memory_env.py's Cue-v0) at runs/cue/policy.onnx, and one of action masks
    (tests/masked_env.py's Corridor-v0) at runs/corridor/policy.onnx."""
    for run, policy in (("cartpole", QUICK_START_POLICY), ("beacon", DICT_POLICY),
                        ("cue", RECURRENT_POLICY), ("corridor", MASKED_POLICY)):
        (work / "runs" / run).mkdir(parents=True)
        shutil.copy(policy, work / "runs" / run / "policy.onnx")


def run_python_page(page: Path, work: Path) -> PageRun:
    prepare(work)
    python = [b for b in blocks(page) if b.lang == "python"]
    servers = {m.group(1) for b in python if (m := SERVER.match(b.code))}
    assert len(servers) <= 1, f"{name(page)}: one service per page, got {servers}"
    expected = [line for b in python if b.output for line in b.output.splitlines()]
    with service(next(iter(servers), None), work) as ports:
        code = with_ports("\n".join(b.code for b in python), ports)
        proc = subprocess.run([sys.executable, "-c", code], cwd=work, env=environment(ROOT),
                              capture_output=True, text=True, timeout=SECONDS)
    return PageRun(code, proc, expected)


@pytest.fixture(scope="module")
def page_runs(request, tmp_path_factory) -> dict[str, concurrent.futures.Future]:
    """The selected pages' runs, started together on a pool of processes (one per core, at
    most 4): each page waits for its own."""
    selected = {item.callspec.params["page"] for item in request.session.items
                if getattr(item, "originalname", None) == "test_the_python_examples_run"
                and "page" in item.callspec.params}
    # Pages that train first: they take longest.
    order = sorted(selected, key=lambda page: not any(
        "import keras_pg" in b.code for b in blocks(page) if b.lang == "python"))
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=min(os.cpu_count() or 1, 4))
    futures = {name(page): pool.submit(run_python_page, page, tmp_path_factory.mktemp(
        page.stem.replace(".", "_"))) for page in order}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def assert_in_order(expected: list[str], printed: list[str]) -> None:
    """Each expected line is printed, in this order (other lines may come between)."""
    position = 0
    for line in expected:
        rest = [p.rstrip() for p in printed[position:]]
        assert line.rstrip() in rest, f"expected {line!r} after line {position} of:\n" + \
            "\n".join(printed)
        position += rest.index(line.rstrip()) + 1


def test_the_examples_print_what_the_pages_say_they_print():
    """The checks above can fail: output that differs from a page's is caught."""
    assert_in_order(["solved -4.0", "0"], ["noise", "solved -4.0", "more", "0"])
    with pytest.raises(AssertionError):
        assert_in_order(["0", "solved -4.0"], ["solved -4.0", "0"])
    with pytest.raises(AssertionError):
        assert_in_order(["solved -4.0"], ["max_steps -7.0"])


@pytest.mark.parametrize("page", pages_with("js"), ids=name)
def test_the_javascript_examples_run_in_node(page, tmp_path, page_runs):
    node, package = shutil.which("node"), ROOT / "serve" / "js"
    if node is None or not (package / "node_modules").is_dir():
        pytest.skip("needs Node and `npm ci` in serve/js")
    prepare(tmp_path)
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "keras-pg-policy").symlink_to(package)  # npm install serve/js
    js = [b for b in blocks(page) if b.lang == "js"]
    (tmp_path / "example.mjs").write_text("\n".join(b.code for b in js))
    proc = subprocess.run([node, "example.mjs"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_in_order([line for b in js if b.output for line in b.output.splitlines()],
                    proc.stdout.splitlines())


# -- shell commands ------------------------------------------------------------------------------
class Parsed(Exception):
    """Raised instead of running a command once its arguments parsed."""


def parse_only(main: Callable[[list[str]], int], argv: list[str]) -> argparse.Namespace | None:
    """`main(argv)` up to its argument parsing: the namespace, or None for `--help`."""
    parse_args = argparse.ArgumentParser.parse_args

    def parse(self, args=None, namespace=None):
        raise Parsed(parse_args(self, args, namespace))

    with mock.patch.object(argparse.ArgumentParser, "parse_args", parse):
        try:
            main(argv)
        except Parsed as parsed:
            return parsed.args[0]
        except SystemExit as exit_:
            assert exit_.code == 0 and "--help" in argv, f"argparse refused {argv}"
            return None
    raise AssertionError(f"{main.__module__}.main({argv}) returned without parsing arguments")


def command_lines() -> dict[str, Callable[[list[str]], int]]:
    from export.cli import main as export_main
    from keras_pg.cli import main as keras_pg_main
    from serve.cli import main as serve_main
    from serve.contract_render import main as contract_render_main

    return {"keras_pg": keras_pg_main, "export": export_main, "serve": serve_main,
            "serve.contract_render": contract_render_main, "keras-pg": keras_pg_main,
            "keras-pg-export": export_main, "keras-pg-serve": serve_main}


def shell_commands(script: str) -> list[list[str]]:
    """The simple commands of a bash block: continuations joined, comments dropped, split at
    `&&`, `||`, `;` and `|`."""
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        command: list[str] = []
        for token in lexer:
            if token and set(token) <= set(";&|"):
                commands.append(command)
                command = []
            else:
                command.append(token)
        commands.append(command)
    return [c for c in commands if c]


def program(command: list[str]) -> tuple[str, list[str]] | None:
    """(the command line's name, its arguments) for the commands this test parses."""
    if command[:2] == ["python", "-m"] and len(command) > 2:
        return command[2], command[3:]
    if command[0].startswith("keras-pg"):
        return command[0], command[1:]
    return None


@pytest.mark.parametrize("page", pages_with("bash"), ids=name)
def test_the_shell_commands_parse(page, page_runs):
    # page_runs: the pages' examples start running in the background before this test
    mains = command_lines()
    checked = 0
    for block in blocks(page):
        if block.lang != "bash":
            continue
        for command in shell_commands(block.code):
            for token in command:
                if REPO_PATH.match(token):
                    assert glob.glob(str(ROOT / token)), f"{name(page)}: {token} does not exist"
            found = program(command)
            if found is None or found[0] not in mains:
                continue
            parse_only(mains[found[0]], found[1])
            checked += 1
    if page.name == "README.md":
        assert checked >= 3  # train, export and serve of the first command


def test_a_flag_that_does_not_exist_fails_the_check():
    mains = command_lines()
    for command in ("python -m keras_pg train --no-export", "python -m export r --opset-x 3",
                    "python -m serve p.onnx --htp", "python -m keras_pg train --preset nope"):
        module, argv = program(shlex.split(command))
        with pytest.raises(AssertionError, match="argparse refused"):
            parse_only(mains[module], argv)
    assert parse_only(mains["keras_pg"], ["train", "--lr", "0.1"]).lr == 0.1


def test_shell_blocks_are_split_into_commands():
    assert shell_commands("pip install -r requirements.txt && python -m serve p.onnx   # a b\n"
                          "python -m keras_pg tune --trials 2 \\\n    --study x") == [
        ["pip", "install", "-r", "requirements.txt"], ["python", "-m", "serve", "p.onnx"],
        ["python", "-m", "keras_pg", "tune", "--trials", "2", "--study", "x"]]


# -- the README and the pages as files -----------------------------------------------------------
def test_the_readme_is_short_and_its_links_resolve():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) < 200
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    assert links
    for link in links:
        if "://" not in link:
            assert (ROOT / link).exists(), link


def test_the_contract_page_holds_the_current_tables():
    from serve.contract_render import with_tables

    text = (ROOT / "docs" / "contract.md").read_text()
    assert with_tables(text) == text, "run python -m serve.contract_render --write"


def test_pip_installs_the_package_and_the_readme_quick_start_runs_outside_the_repository(
        tmp_path):
    # Built from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".ci-venv", "runs", "tests", "bench", "__pycache__", "build",
        "node_modules", "site", "*.egg-info", ".ruff_cache", ".pytest_cache"))
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                           "--no-build-isolation", "--target", str(site), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert {"keras_pg", "export", "serve"} <= {p.name for p in site.iterdir()}
    assert (site / "serve" / "contract.json").exists()
    packages = {p.parent.relative_to(ROOT) for p in (ROOT / "keras_pg").rglob("__init__.py")}
    assert packages <= {p.parent.relative_to(site) for p in site.rglob("__init__.py")}
    user_dir = tmp_path / "user"
    user_dir.mkdir()
    where = subprocess.run([sys.executable, "-c", "import keras_pg, export, serve; print("
                            "keras_pg.__file__, export.__file__, serve.__file__)"],
                           cwd=user_dir, env=environment(site), capture_output=True, text=True,
                           timeout=SECONDS)
    assert where.returncode == 0 and where.stdout.count(str(site)) == 3, where.stdout
    quick_start = next(b for b in blocks(ROOT / "README.md") if b.lang == "python")
    proc = subprocess.run([sys.executable, "-c", quick_start.code], cwd=user_dir,
                          env=environment(site), capture_output=True, text=True, timeout=SECONDS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_in_order(quick_start.output.splitlines(), proc.stdout.splitlines())
    assert (user_dir / "runs" / "goleft" / "policy.onnx").exists()
    for command in ("keras-pg", "keras-pg-export", "keras-pg-serve"):
        help_text = subprocess.run([str(site / "bin" / command), "--help"], capture_output=True,
                                   text=True, env=environment(site), timeout=120)
        assert help_text.returncode == 0 and help_text.stdout.startswith("usage:"), command


# -- last: the pages have been running in the background meanwhile ------------------------------
@pytest.mark.parametrize("page", pages_with("python"), ids=name)
def test_the_python_examples_run(page, page_runs):
    run = page_runs[name(page)].result()
    assert run.proc.returncode == 0, f"{run.proc.stderr[-3000:]}\n--- the page's code:\n{run.code}"
    assert "Traceback" not in run.proc.stderr, run.proc.stderr[-3000:]
    assert_in_order(run.expected, run.proc.stdout.splitlines())
