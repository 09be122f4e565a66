"""Benchmark: the JavaScript policy (serve/js) beside Python's, on one CartPole policy.

    python bench/js_latency.py [--policy PATH] [--calls 20000] [--rounds 3] [--act-only]

In one run: single-observation act() latency, p50 and p99 over `calls` calls after a
warm-up, of Python's `serve.OnnxPolicy.act` and of the JavaScript `policy.act` in Node on
onnxruntime-node (and, for comparison, on onnxruntime-web's WebAssembly build in Node), each
Node runtime in a process kept running; every round alternates blocks of 250 calls between
the runtimes; each figure is the median over rounds, and the ratios the median of the
rounds' ratios. Target: JavaScript act p50 at most 1.3x Python's. Then (without
--act-only) the web page in headless Chromium (Debian's chromium, driven by Playwright): the
policy decides every step of 20 CartPole episodes as fast as the page goes; steps per second
and the mean return. Writes bench/results/js_latency.json, js_page.json and
web_screenshot.png (the picture of the page in docs/javascript.md).
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


class PythonAct:
    """OnnxPolicy.act in this process, on the observations the Node script uses."""

    def __init__(self, policy_path: Path) -> None:
        import serve

        self.policy = serve.OnnxPolicy(policy_path)
        size = self.policy.observation_shape[0] if self.policy.observation_shape else 1
        self.observations = [(np.sin(np.arange(size) + i) * 0.05).astype(np.float32)
                             .reshape(self.policy.observation_shape) for i in range(64)]
        self.next = 0
        self.timed(2000)  # warm-up

    def timed(self, calls: int) -> np.ndarray:
        """Microseconds of `calls` calls."""
        times = np.empty(calls)
        act, observations = self.policy.act, self.observations
        for i in range(calls):
            obs = observations[(self.next + i) % 64]
            start = time.perf_counter_ns()
            act(obs)
            times[i] = time.perf_counter_ns() - start
        self.next += calls
        return times / 1000


class NodeAct:
    """act_latency.mjs --blocks: the JavaScript policy in a Node process kept running."""

    def __init__(self, policy_path: Path, runtime: str) -> None:
        self.process = subprocess.Popen(
            ["node", str(NODE_SCRIPT), str(policy_path), "--blocks", runtime], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert json.loads(self._line()) == {"ready": True}

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{NODE_SCRIPT.name} exited with {self.process.wait()}")
        return line

    def timed(self, calls: int) -> np.ndarray:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{calls}\n")
        self.process.stdin.flush()
        return np.array(json.loads(self._line())["times_us"])

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def stats(times: np.ndarray) -> dict:
    return {"p50_us": round(float(np.percentile(times, 50)), 3),
            "p99_us": round(float(np.percentile(times, 99)), 3)}


def act_latency(policy_path: Path, calls: int, rounds: int, block: int = 250) -> dict:
    """p50/p99 of each runtime's act: `rounds` rounds of `calls` calls each, every round
    alternating blocks of `block` calls between the runtimes, so that a slow moment of the
    (shared) machine hits each of them; each figure is the median over rounds."""
    runtimes = {"python": PythonAct(policy_path), "node": NodeAct(policy_path, "node"),
                "web": NodeAct(policy_path, "web")}
    runs: dict[str, list[dict]] = {name: [] for name in runtimes}
    try:
        for _ in range(5):  # more warm-up, alternating: the first round ran slower without
            for runtime in runtimes.values():
                runtime.timed(block)
        for _ in range(rounds):
            times: dict[str, list[np.ndarray]] = {name: [] for name in runtimes}
            for i in range(calls // block):
                order = list(runtimes)[i % 3:] + list(runtimes)[:i % 3]  # who goes first
                for name in order:
                    times[name].append(runtimes[name].timed(block))
            for name in runtimes:
                runs[name].append(stats(np.concatenate(times[name])))
    finally:
        for runtime in runtimes.values():
            if isinstance(runtime, NodeAct):
                runtime.close()
    median = {name: {key: round(float(np.median([r[key] for r in results])), 2)
                     for key in ("p50_us", "p99_us")} for name, results in runs.items()}
    # Each round's ratio, then their median: runtimes measured in the same round saw the same
    # machine, rounds may not have.
    by_round = [{key: n[key] / p[key] for key in n}
                for n, p in zip(runs["node"], runs["python"], strict=True)]
    ratio = {key: round(float(np.median([r[key] for r in by_round])), 2)
             for key in ("p50_us", "p99_us")}
    return {
        "python_onnxruntime": median["python"], "js_onnxruntime_node": median["node"],
        "js_onnxruntime_web_in_node": median["web"],
        "js_over_python": ratio,
        "js_over_python_p50_by_round": [round(r["p50_us"], 2) for r in by_round],
        "target": "JavaScript act at most 1.3x Python's (p50)",
        "target_met": ratio["p50_us"] <= 1.3,
        "calls": calls, "rounds": rounds, "block": block, "rounds_raw": runs,
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
    parser.add_argument("--act-only", action="store_true",
                        help="only act's latency (js_latency.json), not the web page")
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
    if args.act_only:
        return
    result = {"benchmark": "js_page", **common, **page(args.policy)}
    (RESULTS / "js_page.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
