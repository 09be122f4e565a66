"""The repository's promises about itself: CI runs exactly the README's test command."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    block = lines[lines.index("```bash") + 1: lines.index("```")]
    return [line.split("#")[0].strip() for line in block]


def test_readme_opens_with_the_main_job_and_the_test_command():
    main_job, tests = readme_commands()
    assert main_job.startswith("pip install -r requirements.txt && python -m keras_pg train")
    assert tests.startswith("pip install -r requirements.txt && ")


def test_ci_runs_exactly_the_readme_test_command():
    test_command = readme_commands()[1].split("&& ", 1)[1]
    ci_lines = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()]
    assert test_command in ci_lines
    assert "python -m pip install --quiet -r requirements.txt" in ci_lines
