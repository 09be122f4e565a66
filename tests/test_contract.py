"""serve/contract.json is the contract's one source: the generated copies are current, and a
constant changed there alone changes what export writes and what every runtime (Python's
serve, the Triton config, the JavaScript package) reads."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import serve
from serve import contract
from serve.contract_render import CONTRACT_PAGE, main, render_js, stale, with_tables

ROOT = Path(__file__).resolve().parents[1]


def test_the_generated_copies_are_current():
    assert stale() == [], "run python -m serve.contract_render --write"
    assert main(["--check"]) == 0


def test_a_stale_copy_is_named(tmp_path, monkeypatch, capsys):
    js, page = tmp_path / "contract.spec.js", tmp_path / "contract.md"
    js.write_text(render_js().replace('"probs"', '"p"'))
    page.write_text(CONTRACT_PAGE.read_text())
    monkeypatch.setattr("serve.contract_render.JS_SPEC", js)
    monkeypatch.setattr("serve.contract_render.CONTRACT_PAGE", page)
    assert stale() == [js]
    assert main(["--check"]) == 1
    assert capsys.readouterr().err.startswith(f"stale: {js} differs from")
    page.write_text(with_tables(CONTRACT_PAGE.read_text()).replace("| `env_id` |", "| `env` |"))
    assert stale() == [js, page]


def test_the_python_constants_are_the_json_values():
    spec = json.loads((ROOT / "serve" / "contract.json").read_text())
    names = spec["names"]
    assert spec["version"] == contract.CONTRACT_VERSION
    assert (names["INPUT"], names["PROBS"], names["ACTION"]) == (
        contract.INPUT, contract.PROBS, contract.ACTION)
    assert tuple(entry["key"] for entry in spec["metadata"]) == contract.METADATA_KEYS
    assert contract.required_keys(1) == ["policy_kind", "env_id", "observation_space",
                                         "action_space"]
    assert contract.required_keys(2)[4:] == ["env_kwargs", "max_episode_steps"]
    assert contract.output_specs("categorical", {"type": "Discrete", "n": 3}) == {
        "probs": ("float32", [3]), "action": ("int64", [])}
    assert contract.output_specs("gaussian", {"type": "Box", "shape": [2]}) == {
        "mean": ("float32", [2]), "std": ("float32", [2]), "action": ("float32", [2])}
    assert contract.wire_shape((-1,)) == (-1, 1) and contract.wire_shape((-1, 4)) == (-1, 4)


MUTATIONS = {"INPUT": "observation", "PROBS": "p", "ACTION": "act"}

EXPORT_AND_SERVE = textwrap.dedent("""
    import json, sys
    import gymnasium as gym, numpy as np, onnx
    import export, serve
    from tests.policies import mlp_policy
    from export.triton import package
    from serve import contract
    assert contract.__file__.startswith(sys.argv[1]), contract.__file__
    env = gym.make("CartPole-v1")
    model = mlp_policy(env.observation_space, env.action_space, (8,))
    export.to_onnx(model, "p.onnx", env_id="CartPole-v1")
    proto = onnx.load("p.onnx")
    meta = {p.key: json.loads(p.value) for p in proto.metadata_props}
    policy = serve.OnnxPolicy("p.onnx")
    _, config = package("p.onnx", "repo", "cartpole")
    print(json.dumps({
        "inputs": [i.name for i in proto.graph.input],
        "outputs": [o.name for o in proto.graph.output],
        "version": meta["contract_version"], "env": meta.get("environment"),
        "distribution": sorted(policy.distribution(np.zeros((2, 4), np.float32))),
        "config": open(config).read()}))
""")

JS_LOAD = textwrap.dedent("""
    import { loadPolicy } from "./serve/js/src/node.js";
    const policy = await loadPolicy(process.argv.at(-1));
    const { distribution } = await policy.decide([[0, 0, 0, 0]]);
    console.log(JSON.stringify({outputs: policy.outputs, kind: policy.kind,
                                distribution: Object.keys(distribution)}));
""")


NEXT = contract.CONTRACT_VERSION + 1


@pytest.fixture
def mutated(tmp_path_factory) -> Path:
    """A copy of serve/ whose contract.json renames the input, two outputs and the key env_id,
    and moves to the next version (NEXT), with its copies regenerated: nothing else edited."""
    root = tmp_path_factory.mktemp("mutated")
    shutil.copytree(ROOT / "serve", root / "serve", ignore=shutil.ignore_patterns(
        "node_modules", "__pycache__"))
    os.symlink(ROOT / "serve" / "js" / "node_modules", root / "serve" / "js" / "node_modules")
    (root / "docs").mkdir()
    shutil.copy(CONTRACT_PAGE, root / "docs" / "contract.md")
    source = root / "serve" / "contract.json"
    spec = json.loads(source.read_text())
    spec["names"] |= MUTATIONS
    spec["version"], spec["supported_versions"] = NEXT, [*spec["supported_versions"], NEXT]
    for entry in spec["metadata"]:
        if entry["key"] == "env_id":
            entry["key"] = "environment"
    source.write_text(json.dumps(spec, indent=2))
    subprocess.run([sys.executable, "-m", "serve.contract_render", "--write"], cwd=root,
                   check=True, timeout=60)
    return root


def test_a_constant_changed_in_the_json_alone_changes_every_runtime(mutated, tmp_path):
    env = {**os.environ, "PYTHONPATH": f"{mutated}{os.pathsep}{ROOT}"}
    proc = subprocess.run([sys.executable, "-c", EXPORT_AND_SERVE, str(mutated)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    answer = json.loads(proc.stdout.splitlines()[-1])
    assert answer["inputs"] == ["observation", "action_mask"]
    assert sorted(answer["outputs"]) == ["act", "p"]
    assert answer["version"] == NEXT and answer["env"] == "CartPole-v1"
    assert answer["distribution"] == ["act", "p"]
    assert 'name: "observation"' in answer["config"] and 'name: "act"' in answer["config"]
    # The JavaScript package of the copy reads the file; today's refuses its version.
    exported = tmp_path / "p.onnx"
    script = mutated / "load.mjs"
    script.write_text(JS_LOAD)
    proc = subprocess.run(["node", str(script), str(exported)], cwd=mutated,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    answer = json.loads(proc.stdout)
    assert answer == {"outputs": answer["outputs"], "kind": "categorical",
                      "distribution": ["p"]}
    assert sorted(answer["outputs"]) == ["act", "p"]
    unchanged = subprocess.run(["node", "--input-type=module", "-e", JS_LOAD, str(exported)],
                               cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert unchanged.returncode == 1  # today's package refuses the next version's file
    assert f"uses export contract {NEXT}" in unchanged.stderr


OLDER_LOAD = textwrap.dedent("""
    import { loadPolicy } from "./serve/js/src/node.js";
    const answers = [];
    for (const file of process.argv.slice(-2)) {
      const policy = await loadPolicy(file);
      answers.push([policy.metadata.contract_version, await policy.act([0, 0, 0, 0])]);
    }
    console.log(JSON.stringify(answers));
""")


@pytest.mark.parametrize("version", [1, 2])
def test_files_of_older_versions_keep_loading_in_python_and_javascript(tmp_path, version):
    from tests.test_serve_envs import box, discrete, keras_pg_metadata, left_policy

    older = keras_pg_metadata("CartPole-v1", box(4), discrete(2), version=version)
    assert contract.QUANTIZATION_KEY not in older
    path = left_policy(tmp_path / "older.onnx", 4, older)
    policy = serve.OnnxPolicy(path)
    assert policy.act([0.0, 0.0, 0.0, 0.0]) == 0 and policy.kind == "categorical"
    current = left_policy(tmp_path / "current.onnx", 4,
                          keras_pg_metadata("CartPole-v1", box(4), discrete(2)))
    proc = subprocess.run(["node", "--input-type=module", "-e", OLDER_LOAD, str(path),
                           str(current)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == [[version, 0], [contract.CONTRACT_VERSION, 0]]
