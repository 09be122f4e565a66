"""Benchmark: the JavaScript policy (serve/js) beside Python's, on one CartPole policy.

    python bench/js_latency.py [--policy PATH] [--calls 20000] [--rounds 3]

In one run: single-observation act() latency, p50 and p99 over `calls` calls after a
warm-up, of Python's `serve.OnnxPolicy.act` and of the JavaScript `policy.act` in Node on
onnxruntime-node (and, for comparison, on onnxruntime-web's WebAssembly build in Node); the
rounds alternate the runtimes and each figure is the median over rounds. Then the web page
in headless Chromium (Debian's chromium, driven by Playwright): the policy decides every
step of 20 CartPole episodes as fast as the page goes; steps per second and the mean
return. Writes bench/results/js_latency.json, js_page.json and web_screenshot.png (the
picture of the page in docs/javascript.md).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
POLICY = ROOT / "serve" / "js" / "test" / "fixtures" / "cartpole.onnx"
NODE_SCRIPT = ROOT / "serve" / "js" / "bench" / "act_latency.mjs"


def python_act(policy_path: Path, calls: int) -> dict:
    """p50/p99 (µs) of OnnxPolicy.act on the observations the Node script uses."""
    import serve

    policy = serve.OnnxPolicy(policy_path)
    size = policy.observation_shape[0]
    observations = [(np.sin(np.arange(size) + i) * 0.05).astype(np.float32) for i in range(64)]
    for i in range(2000):
        policy.act(observations[i % 64])
    times = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter_ns()
        policy.act(observations[i % 64])
        times[i] = time.perf_counter_ns() - start
    return {"p50_us": float(np.percentile(times, 50)) / 1000,
            "p99_us": float(np.percentile(times, 99)) / 1000}


def node_act(policy_path: Path, calls: int, runtime: str) -> dict:
    out = subprocess.run(["node", str(NODE_SCRIPT), str(policy_path), str(calls), runtime],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    result = json.loads(out)
    return {"p50_us": result["p50_us"], "p99_us": result["p99_us"]}


def act_latency(policy_path: Path, calls: int, rounds: int) -> dict:
    runs = {"python": [], "node": [], "web": []}
    for _ in range(rounds):  # interleaved: a slow moment of the machine hits every runtime
        runs["python"].append(python_act(policy_path, calls))
        runs["node"].append(node_act(policy_path, calls, "node"))
        runs["web"].append(node_act(policy_path, calls, "web"))
    median = {name: {key: round(float(np.median([r[key] for r in results])), 2)
                     for key in ("p50_us", "p99_us")} for name, results in runs.items()}
    python, node = median["python"], median["node"]
    return {
        "python_onnxruntime": python, "js_onnxruntime_node": node,
        "js_onnxruntime_web_in_node": median["web"],
        "js_over_python": {key: round(node[key] / python[key], 2) for key in node},
        "target": "JavaScript act at most 2x Python's (p50 and p99)",
        "calls": calls, "rounds": rounds, "rounds_raw": runs,
    }


def page(policy_path: Path, episodes: int = 20) -> dict:
    """The page in headless Chromium playing `episodes` greedy episodes at full speed."""
    from playwright.sync_api import sync_playwright

    from tests.servers import running_server
    from tests.web_page import CHROMIUM, CHROMIUM_ARGS, open_page, wait_for_state

    with (running_server(policy_path) as port, sync_playwright() as playwright):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=CHROMIUM_ARGS)
        start = time.perf_counter()
        with open_page(browser, f"http://127.0.0.1:{port}/?speed=max&episodes={episodes}") as p:
            wait_for_state(p, "playing", "error")
            loaded_s = time.perf_counter() - start
            assert wait_for_state(p, "done", "error", timeout_s=120) == "done"
            stats = p.evaluate("({...document.getElementById('stats').dataset})")
            p.screenshot(path=str(RESULTS / "web_screenshot.png"))
            errors = list(p.errors)
        version = browser.version
        browser.close()
    return {"episodes": int(stats["episodes"]), "mean_return": float(stats["meanReturn"]),
            "steps_per_s": round(float(stats["stepsPerS"])),
            "page_load_to_playing_s": round(loaded_s, 2), "console_errors": errors,
            "chromium": version, "runtime": "onnxruntime-web (WebAssembly, 1 thread)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", type=Path, default=POLICY)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import onnxruntime

    machine = {"cpu_count": 2, "platform": platform.platform(), "python": platform.python_version(),
               "node": subprocess.run(["node", "--version"], capture_output=True,
                                      text=True).stdout.strip(),
               "onnxruntime_python": onnxruntime.__version__,
               "onnxruntime_js": json.loads((ROOT / "serve/js/package.json").read_text())[
                   "dependencies"]["onnxruntime-node"]}
    common = {"machine": machine, "date": time.strftime("%Y-%m-%d"),
              "policy": str(args.policy.relative_to(ROOT) if args.policy.is_relative_to(ROOT)
                            else args.policy)}
    latency = {"benchmark": "js_latency", **common,
               **act_latency(args.policy, args.calls, args.rounds)}
    (RESULTS / "js_latency.json").write_text(json.dumps(latency, indent=2) + "\n")
    print(json.dumps({k: latency[k] for k in ("python_onnxruntime", "js_onnxruntime_node",
                                              "js_onnxruntime_web_in_node", "js_over_python")}))
    result = {"benchmark": "js_page", **common, **page(args.policy)}
    (RESULTS / "js_page.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
