"""The Results page, generated when the site is built (an mkdocs hook, see mkdocs.yml).

docs/results.md holds the prose; each `<!-- results: NAME -->` line in it becomes the tables
of bench/results/NAME.json, and bench/results/**/*.png are published under results/ so the
page (and any other) can show them. A JSON file or a plot that no page shows, a marker
without a JSON file, or a JSON file without a renderer below fails the strict build: the
page cannot silently fall behind bench/results/.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
PAGE = "results.md"
IMAGES = "results/"  # where bench/results/**/*.png are published, relative to docs/
MARKER = re.compile(r"^<!-- results: (\w+) -->$", re.M)
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
SHOWN: set[str] = set()  # the images the pages link to, relative to docs/
COMMON_KEYS = ("benchmark", "machine", "date")  # every bench/results/*.json has them
log = logging.getLogger("mkdocs.hooks.results")


# -- formatting --------------------------------------------------------------------------------
def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def num(value: float | None, digits: int = 3) -> str:
    """A figure as the page writes it: thousands separated, `digits` significant digits."""
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def steps(value: float | None) -> str:
    """An env-step count, short: 71k, 1.03 M."""
    if value is None:
        return "never"
    if value >= 1e6:
        return f"{value / 1e6:.2f} M"
    return f"{value / 1e3:.0f}k"


def each(values: list[float | None], fmt: Callable[[Any], str] = num) -> str:
    return ", ".join(fmt(v) for v in values)


def ratio(value: float) -> str:
    return num(value) + "x"


def source(name: str, data: dict[str, Any]) -> str:
    """The line under a table: which file, when, on what."""
    machine = data.get("machine", {})
    where = ", ".join(str(part) for part in (
        f"{machine['cpu_count']} cores" if "cpu_count" in machine else None,
        machine.get("processor"), f"Python {machine['python']}" if "python" in machine else None,
        f"Node {machine['node']}" if "node" in machine else None) if part)
    return f"*`bench/results/{name}.json`, {data.get('date', 'undated')}; {where}.*"


# -- one renderer per benchmark ----------------------------------------------------------------
def _trainer_column(k: dict[str, Any]) -> list[str]:
    """A keras_pg configuration's cells in the training-speed table."""
    runs = k["runs"]
    solved = [r for r in runs if r["solved"]]
    evals = [r["eval_mean_return"] for r in runs]
    solve_steps = [r["env_steps"] for r in solved]
    return [
        f"{len(solved)}/{len(runs)} (greedy eval {num(min(evals))}-{num(max(evals))})",
        f"{num(statistics.median(solve_steps))} ({num(min(solve_steps))}-"
        f"{num(max(solve_steps))})" if solve_steps else "—",
        f"{k['time_to_solve_median_s']} s / {k['time_to_solve_max_s']} s",
        num(k["steps_per_s_median"]),
        f"{num(k['peak_rss_mb_max'])} MB",
    ]


def train_speed(d: dict[str, Any]) -> str:
    k, today, jax, base = (d["keras_pg"], d["todays_configuration"], d["jax_gymnax"],
                           d["seed_baseline"])
    jax_runs = jax["runs"]
    jax_times = [r["time_to_solve_s"] for r in jax_runs if r["solved"]]
    jax_steps = [r["env_steps"] for r in jax_runs if r["solved"]]
    columns = {
        "keras_pg (its CartPole-v1 preset)": _trainer_column(k),
        "the configuration of 2026-12-06 (`" + " ".join(today["flags"]) + "`)":
            _trainer_column(today),
        "JAX + gymnax, 256 envs in one jit (`bench/jax_reinforce.py`)": [
            f"{jax['solved']}/{len(jax_runs)} (training mean)",
            f"{num(statistics.median(jax_steps))} ({num(min(jax_steps))}-"
            f"{num(max(jax_steps))})" if jax_steps else "—",
            f"{jax['time_to_solve_median_s']} s / {num(max(jax_times))} s" if jax_times
            else "—",
            num(statistics.median(r["steps_per_s"] for r in jax_runs)), "—"],
        "the article's loop in Keras (`bench/seed_baseline.py`)": [
            f"last-100 mean return {num(base['last_100_mean_return'])}",
            f"{num(base['env_steps'])} steps run", f"not solved in {base['wall_s']} s",
            num(base["steps_per_s"]), "—"],
    }
    labels = ["solved", "env steps to solve, median (range)",
              "training time to solve, median / max", "env steps per second, median",
              "peak RSS of the training process"]
    main = table(["CartPole-v1, seeds " + each(k["seeds"]), *columns],
                 [[label, *(cells[i] for cells in columns.values())]
                  for i, label in enumerate(labels)])
    r, fast = d["ratios"], d["jax_gymnax_fast_compile"]
    main += (
        f"\n\nRatios in this run: time to solve {ratio(r['time_to_solve_over_jax'])} "
        f"JAX+gymnax's (the graph backend {ratio(r['graph_time_to_solve_over_jax'])}); "
        f"{ratio(r['time_to_solve_over_jax_fast_compile'])} JAX's with `--fast-compile` "
        f"(median {fast['time_to_solve_median_s']} s, {fast['solved']}/{len(fast['runs'])} "
        f"solved); {ratio(r['time_to_solve_over_today'])} the configuration of 2026-12-06's. "
        f"Env steps per second {ratio(r['steps_per_s_over_today'])} its, "
        f"{ratio(r['throughput_over_seed_baseline'])} the article's loop's.")
    roll = d["rollout"]
    main += ("\n\n**The rollout alone**, " + str(roll["num_envs"]) + " CartPole envs:\n\n"
             + table(["", "numpy actor", "TensorFlow actor", "the env's own step"], [
                 ["env steps per second", num(roll["numpy_steps_per_s"]),
                  num(roll["tensorflow_steps_per_s"]), "—"],
                 ["µs per vector step", num(roll["act_numpy_us"]),
                  num(roll["act_tensorflow_us"]), num(roll["env_step_us"])],
                 ["acting / the env's step", ratio(roll["acting_share_numpy"]),
                  ratio(roll["acting_share_tensorflow"]), "1x"]]))
    graph = d.get("graph_backend", {})
    if not graph:
        return main
    envs = list(graph)
    cell = {env: graph[env] for env in envs}
    rows = [
        ["preset"] + [f"`{' '.join(cell[e]['flags'])}`" for e in envs],
        ["solved in training / greedy eval at the threshold"]
        + [f"{cell[e]['solved']}/{len(cell[e]['seeds'])} / "
           f"{cell[e]['eval_at_env_threshold']}/{len(cell[e]['seeds'])} (eval "
           f"{num(min(cell[e]['eval_mean_return']))} to {num(max(cell[e]['eval_mean_return']))})"
           for e in envs],
        ["training time to solve, median / max"]
        + [f"{cell[e]['time_to_solve_median_s']} s / {cell[e]['time_to_solve_max_s']} s"
           for e in envs],
        ["of which the first iteration (tracing, compiling), median"]
        + [f"{cell[e]['first_iteration_median_s']} s" for e in envs],
        ["env steps to solve, median"]
        + [steps(statistics.median(cell[e]["env_steps"])) for e in envs],
        ["env steps per second after the first iteration, median"]
        + [num(cell[e]["steps_per_s_after_first_median"]) for e in envs],
    ]
    return (main + "\n\n**`--backend graph`**, seeds " + each(cell[envs[0]]["seeds"]) + ":\n\n"
            + table(["", *envs], rows))


def api_speed(d: dict[str, Any]) -> str:
    pairs = d["pairs"]
    same = all(p["api"]["env_steps"] == p["cli"]["env_steps"] for p in pairs)
    m, r = d["median"], d["api_over_cli"]
    return table(["CartPole-v1, " + str(len(pairs)) + " pairs", "Python API", "command line",
                  "API / CLI per pair, median (range)"], [
        ["training time to solve, median", f"{m['api']['train_wall_s']} s",
         f"{m['cli']['train_wall_s']} s",
         f"{r['train_wall_s']['median']} ({r['train_wall_s']['min']}-{r['train_wall_s']['max']})"],
        ["whole process, median", f"{m['api']['process_wall_s']} s",
         f"{m['cli']['process_wall_s']} s",
         f"{r['process_wall_s']['median']} ({r['process_wall_s']['min']}-"
         f"{r['process_wall_s']['max']})"],
        ["env steps per second, median", num(m["api"]["steps_per_s"]),
         num(m["cli"]["steps_per_s"]), ""],
        ["equal env steps in every pair", "yes" if same else "no", "", ""],
    ])


def image_speed(d: dict[str, Any]) -> str:
    out = []
    for env, runs in d.items():
        if env in COMMON_KEYS:
            continue
        if env == "cnn_against_baseline":
            m = runs["steps_per_s_median"]
            out.append(table(["float32 CNN, SquareSide 84x84x1, 3 runs each in turn",
                              "this commit", f"commit {runs['baseline_tree_commit']}"], [
                ["env steps/s, median", num(m["this"]), num(m["baseline"])],
                ["ratio", ratio(runs["ratio"]), "1x"]]))
            continue
        names = [n for n in runs if n != "env_only"]
        first = runs[names[0]]["settings"]
        rows = [["env steps/s (after the first round)"]
                + [f"{num(runs[n]['steps_per_s'])} ({num(runs[n]['steps_per_s_after_first'])})"
                   for n in names],
                ["final training mean return"]
                + [num(runs[n]["final_mean_return"]) for n in names],
                ["first round (tracing, compiling)"]
                + [f"{runs[n]['first_iteration_s']} s" for n in names],
                ["weights"] + [num(runs[n]["parameters"]) for n in names]]
        if "env_only" in runs:
            rows.append(["the env alone, random actions: env steps/s",
                         num(runs["env_only"]["steps_per_s"])] + [""] * (len(names) - 1))
        title = (f"`{env}`: {first['num_envs']} envs, {num(runs[names[0]]['env_steps'])} "
                 f"env steps")
        out.append(table([title] + [f"`{n}`" for n in names], rows))
    return "\n\n".join(out)


def tensorboard_cost(d: dict[str, Any]) -> str:
    pairs = d["pairs"]
    same = all(p["with"]["env_steps"] == p["without"]["env_steps"] for p in pairs)
    r = d["with_over_without"]
    return table(["CartPole-v1, " + str(len(pairs)) + " pairs", "with TensorBoard",
                  "`--no-tensorboard`"], [
        ["training time to solve, median", f"{d['median_train_wall_s']['with']} s",
         f"{d['median_train_wall_s']['without']} s"],
        ["with / without per pair, median (range)",
         f"{r['median']} ({r['min']}-{r['max']})", ""],
        ["event files per run, median", f"{num(d['event_bytes_median'] / 1000)} KB", "0"],
        ["equal env steps in every pair", "yes" if same else "no", ""],
    ])


def envs(d: dict[str, Any]) -> str:
    rows, figures = [], []
    for r in d["results"]:
        met = (f"{'yes' if r['target_met'] else 'no'}: "
               f"{r['seeds_reaching_target']}/{len(r['seeds'])} seeds")
        if "steps_target" in r:
            met += f"; median {steps(r['steps_median'])} steps <= {steps(r['steps_target'])}"
        rows.append([r["env"], f"`--preset {r['preset']} {' '.join(r['extra_flags'])}`".replace(
            " `", "`"), each(r["eval_mean"]), f"{num(r['target'])}, {r['target_rule']}",
            met, each(r["env_steps"], steps),
            each(r["steps_to_threshold_in_training"], steps)])
        if r.get("figure"):
            figures.append(f"![{r['env']}]({image(r['figure'])})")
    seeds = each(d["results"][0]["seeds"])
    return (table(["environment", "settings", f"greedy eval per seed ({seeds})",
                   "target (greedy eval)", "met", "env steps trained",
                   "training mean reached the target at"], rows)
            + "\n\n" + "\n".join(figures))


def defaults(d: dict[str, Any]) -> str:
    settings = list(d["settings"])
    by_env: dict[str, dict[str, dict[str, Any]]] = {}
    for r in d["results"]:
        by_env.setdefault(r["env"], {})[r["setting"]] = r
    rows = []
    for env, results in by_env.items():
        spec = d["envs"][env]
        label = (f"{env} (random: {num(d['random_policy_return'][env])}; "
                 f"{steps(spec['max_steps'])} steps; good >= {num(spec['eval_level'])})")
        rows.append([label] + [each(results[s]["eval_mean_return"]) if s in results else "—"
                               for s in settings])
    header = ["env"] + [f"`{s}`" for s in settings]
    described = table(["setting", "differs from the generic defaults"], [
        [f"`{s}`", ", ".join(f"{k} {v}" for k, v in d["settings"][s].items()) or
         "nothing: the generic defaults"] for s in settings])
    plot = RESULTS / "defaults.png"
    figure = f"\n\n![the defaults, per env and seed]({image('bench/results/defaults.png')})" \
        if plot.exists() else ""
    return described + "\n\nGreedy evaluation per seed:\n\n" + table(header, rows) + figure


def lunar_sb3(d: dict[str, Any]) -> str:
    ours, peer = d["keras_pg"], d["sb3_ppo"]
    rows = []
    for name, side, whole in (("keras_pg `--preset LunarLander-v3`", ours, "train_wall_s"),
                              ("SB3 PPO, rl-zoo3 settings", peer, "train_wall_s")):
        runs = side["runs"]
        rows.append([name, each([r["eval_mean_return"] for r in runs]),
                     each([r["steps_to_200"] for r in runs], steps),
                     each([r["time_to_200_s"] for r in runs]),
                     each([r["env_steps"] for r in runs], steps),
                     each([r[whole] for r in runs])])
    seeds = each([r["seed"] for r in ours["runs"]])
    against = d["ratio_train_wall_to_sb3_time_to_200"]
    verdict = (f"keras_pg landed {ours['landed']}/{len(ours['runs'])} (greedy >= 200 within "
               f"{steps(d['max_steps'])} steps); its median whole run "
               f"{num(ours['train_wall_median_s'])} s against SB3 PPO's median time to 200 "
               f"{num(peer['time_to_200_median_s'])} s: {ratio(against) if against else '—'} "
               f"(target: every seed landed and below 0.333x: "
               f"{'met' if d['target_met'] else 'not met'}).")
    return (table(["", f"greedy eval per seed ({seeds})", "training mean reached 200 at",
                   "seconds to 200", "steps in the run", "seconds in the run"], rows)
            + "\n\n" + verdict + f"\n\n![LunarLander-v3 against SB3]({image(d['figure'])})")


def minigrid_sb3(d: dict[str, Any]) -> str:
    ours, peer = d["keras_pg"], d["sb3_ppo"]
    rows = []
    for name, side in (("keras_pg, its defaults", ours),
                       ("SB3 PPO `MultiInputPolicy`, rl-zoo3's MiniGrid settings", peer)):
        runs, median = side["runs"], side["median"]
        rows.append([name, each([r["greedy_success"] for r in runs]),
                     each([r["env_steps"] for r in runs], steps),
                     each([r["train_wall_s"] for r in runs]),
                     f"{steps(median['env_steps'])}, {num(median['train_wall_s'])} s"])
    seeds = each([r["seed"] for r in ours["runs"]])
    export_s = each([r["export_s"] for r in ours["runs"]])
    verdict = (f"keras_pg: greedy success >= 0.9 on {ours['median']['landed']}/{len(ours['runs'])} "
               f"seeds within {steps(d['max_steps'])} steps (target: every seed: "
               f"{'met' if d['target_met'] else 'not met'}); each run's Dict policy exported "
               f"(two ONNX inputs, `direction` and `image`) in {export_s} s and played by "
               f"`serve.run_episodes`.")
    return (table(["", f"greedy success per seed ({seeds})", "steps to the stop",
                   "seconds to the stop", "median"], rows) + "\n\n" + verdict)


def structured_speed(d: dict[str, Any]) -> str:
    export_s, act = d["export_median_s"], d["act_us"]
    met = d["targets_met"]
    return table([f"{num(d['parameters'])} trainable parameters each", "Box (20 floats)",
                  "Dict (12 + 8 floats)", "Dict / Box", "target"], [
        ["`export.to_onnx`, verification included, median (s)", export_s["box"],
         export_s["dict"], ratio(d["export_ratio_dict_to_box"]),
         f"within ±20%: {'met' if met['export'] else 'not met'}"],
        ["`OnnxPolicy.act`, one observation, p50 (µs)", act["box"]["p50_us"],
         act["dict"]["p50_us"], ratio(d["act_p50_ratio_dict_to_box"]),
         f"at most 1.5x: {'met' if met['act'] else 'not met'}"],
        ["`OnnxPolicy.act`, p99 (µs)", act["box"]["p99_us"], act["dict"]["p99_us"],
         ratio(act["dict"]["p99_us"] / act["box"]["p99_us"]), ""],
    ])


def solve_runs(d: dict[str, Any], names: dict[str, str], target: str) -> str:
    """A bench/solve_runs.py benchmark: per leg, steps to solve and seconds per seed."""
    rows = []
    for leg, side in d["legs"].items():
        runs, median = side["runs"], side["median"]
        rows.append([names[leg], each([r["steps_to_solve"] for r in runs], steps),
                     each([r["train_wall_s"] for r in runs]),
                     each([r["eval_mean_return"] for r in runs], lambda v: num(v, 1)),
                     f"{median['solved']}/{median['runs']}, {steps(median['steps_to_solve'])}, "
                     f"{num(median['train_wall_s'])} s"])
    seeds = each(d["seeds"])
    verdict = (f"Target: {target} within {steps(d['max_steps'])} steps: "
               f"{'met' if d['target_met'] else 'not met'}. Stop rule: {d['stop_rule']}; "
               f"\"greedy mean\" is the policy at the stop on 100 fresh greedy episodes.")
    return (table(["", f"steps to solve per seed ({seeds})", "training seconds",
                   "greedy mean (100 episodes)", "solved, median steps, median seconds"], rows)
            + "\n\n" + verdict)


def recurrent(d: dict[str, Any]) -> str:
    return solve_runs(d, {"gru": "keras_pg `--network gru`, its defaults",
                          "mlp": "keras_pg `--network mlp`, its defaults",
                          "recurrent_ppo": "sb3-contrib RecurrentPPO, rl-zoo3's CartPoleNoVel "
                                           "settings"},
                      "the GRU policy solves every seed")


def masked_taxi(d: dict[str, Any]) -> str:
    return solve_runs(d, {"masked": "keras_pg, Taxi's preset, with its masks",
                          "unmasked": "keras_pg, the same with `--no-action-masks`",
                          "maskable_ppo": "sb3-contrib MaskablePPO, its defaults, with the "
                                          "masks"},
                      "keras_pg with the masks solves every seed")


def masked_speed(d: dict[str, Any]) -> str:
    training, act, met = d["training"], d["act"], d["targets_met"]
    pairs = training["pairs"]
    return table(["", "with masks", "without", "with / without", "target"], [
        [f"training, {steps(training['steps'])} steps of Taxi-v4 (s, median of "
         f"{len(pairs)} pairs)",
         num(statistics.median([p["masked"]["train_wall_s"] for p in pairs])),
         num(statistics.median([p["unmasked"]["train_wall_s"] for p in pairs])),
         ratio(training["median_ratio"]),
         f"at most 1.10: {'met' if met['training'] else 'not met'}"],
        ["`OnnxPolicy.act`, one observation, p50 (µs)", act["with_mask"]["p50_us"],
         act["without_mask"]["p50_us"], ratio(act["ratio_p50"]),
         f"at most 1.2x: {'met' if met['act'] else 'not met'}"],
        ["`OnnxPolicy.act`, p90 (µs)", act["with_mask"]["p90_us"],
         act["without_mask"]["p90_us"],
         ratio(act["with_mask"]["p90_us"] / act["without_mask"]["p90_us"]), ""],
    ]) + ("\n\nThe masked runs read every step's mask (all legal) through "
          f"`{training['masked_flags']}`, check it, carry it in the batch and apply it in the "
          "actor and the update; they made exactly the episodes of the unmasked runs.")


def recurrent_speed(d: dict[str, Any]) -> str:
    export_s, act, met = d["export_median_s"], d["act_us"], d["targets_met"]
    params = d["parameters"]
    verified = d["recurrent_verification"]
    return (table(["", f"feed-forward, MLP (64, 64): {num(params['feed_forward'])} parameters",
                   f"recurrent, (64,) then GRU 64: {num(params['recurrent'])} parameters",
                   "recurrent / feed-forward", "target"], [
        ["`export.to_onnx`, verification included, median (s)", export_s["feed_forward"],
         export_s["recurrent"], ratio(export_s["recurrent"] / export_s["feed_forward"]),
         f"recurrent < 2 s: {'met' if met['export'] else 'not met'}"],
        ["`OnnxPolicy.act`, one observation, p50 (µs)", act["feed_forward"]["p50_us"],
         act["recurrent"]["p50_us"], ratio(d["act_p50_ratio_recurrent_to_feed_forward"]),
         f"at most 2x: {'met' if met['act'] else 'not met'}"],
        ["`OnnxPolicy.act`, p99 (µs)", act["feed_forward"]["p99_us"],
         act["recurrent"]["p99_us"],
         ratio(act["recurrent"]["p99_us"] / act["feed_forward"]["p99_us"]), ""],
    ]) + (f"\n\nThe recurrent policy was trained until solved "
          f"({steps(d['recurrent_training']['env_steps'])} steps), so its export verifies it "
          f"over {verified['episodes'].get('rollout', 0)} whole episodes it plays "
          f"({num(verified['observations'].get('rollout', 0))} steps) and "
          f"{verified['episodes']['sampled']} sampled ones."))


def scale(d: dict[str, Any]) -> str:
    rows = [[name, num(r["steps_per_s_after_first"]), num(r["steps_per_s"]),
             f"{num(r['peak_rss_mb'])} MB"] for name, r in d["slow_env"].items()]
    cheap = d["cheap_cartpole"]
    cheap_rows = [[name, f"{r['train_wall_s']} s", num(r["env_steps"]),
                   num(r["steps_per_s_after_first"]), "yes" if r["solved"] else "no"]
                  for name, r in cheap.items()]
    return (table(["`bench.slow_env:SlowCartPole-v1` (" + f"{d['step_cost_s'] * 1000:g} ms a step)",
                   "env steps/s after the first round", "env steps/s overall",
                   "peak memory of the process tree"], rows)
            + f"\n\nScaling efficiency at 4 workers against 1: "
              f"{d['scaling_efficiency_4_workers']}.\n\n"
            + table(["CartPole-v1, its preset", "time to solve", "env steps",
                     "env steps/s after the first round", "solved"], cheap_rows)
            + f"\n\nRay over gymnasium, time to solve: {ratio(d['ray_over_gym_time_to_solve'])}.")


def export(d: dict[str, Any]) -> str:
    return table([f"{d['env_id']}, {d['repeats']} repeats", "measured"], [
        ["`export.to_onnx`, verification included, median (max)",
         f"{d['to_onnx_s_median']} s ({d['to_onnx_s_max']} s)"],
        ["bare tf2onnx conversion of the same model, median", f"{d['bare_tf2onnx_s_median']} s"],
        ["`python -m export RUN_DIR`, end to end, median", f"{d['cli_wall_s_median']} s"],
        ["file size", f"{num(d['file_bytes'])} bytes"],
        ["max \\|Δprobs\\| against Keras", f"{d['max_abs_diff_probs']:.1e}"],
        ["greedy agreement (lowest)", f"{d['action_agreement_min']:.0%}"],
        ["observations checked", num(d["observations_checked"])],
    ])


def serve_latency(d: dict[str, Any]) -> str:
    h = d["http"]
    return table([f"one CartPole policy ({num(d['policy_bytes'])} bytes)", "p50", "p99"], [
        ["`OnnxPolicy.act`, one observation", f"{d['act_single']['p50_us']} µs",
         f"{d['act_single']['p99_us']} µs"],
        ["raw `InferenceSession.run`, one observation",
         f"{d['raw_session_run_single']['p50_us']} µs",
         f"{d['raw_session_run_single']['p99_us']} µs"],
        ["`act` / raw, p50", ratio(d["act_over_raw_p50"]), ""],
        ["Keras `model(obs)`", f"{num(d['keras_call_single']['p50_us'])} µs",
         f"{num(d['keras_call_single']['p99_us'])} µs"],
        ["Keras `model.predict(obs)`", f"{num(d['keras_predict_single']['p50_us'])} µs",
         f"{num(d['keras_predict_single']['p99_us'])} µs"],
        ["`act` faster than `model(obs)`, p50", ratio(d["speedup_vs_keras_call_p50"]), ""],
        ["batched `act`, 1,024 observations", f"{d['batched_1024']['p50_us']} µs "
         f"({num(d['batched_1024']['obs_per_s'] / 1e6)} M obs/s)",
         f"{d['batched_1024']['p99_us']} µs"],
        ["`import serve` (peak RSS)", f"{d['import_serve']['median_s']} s "
         f"({num(d['import_serve']['peak_rss_mb'])} MB)", ""],
        ["`import tensorflow` (peak RSS)", f"{d['import_tensorflow']['median_s']} s "
         f"({num(d['import_tensorflow']['peak_rss_mb'])} MB)", ""],
        ["loading the policy: `serve` (peak RSS)", f"{d['load_policy_serve']['median_s']} s "
         f"({num(d['load_policy_serve']['peak_rss_mb'])} MB)", ""],
        ["loading the policy: Keras (peak RSS)", f"{d['load_policy_keras']['median_s']} s "
         f"({num(d['load_policy_keras']['peak_rss_mb'])} MB)", ""],
        [f"HTTP `/v1/act`, {h['clients']} clients for {h['seconds']:g} s: "
         f"{num(h['requests_per_s'])} requests/s, {h['errors']} errors",
         f"{h['latency_p50_ms']} ms", f"{h['latency_p99_ms']} ms"],
    ])


ROUTES = {"v1_act": "`/v1/act`", "v2_infer_json": "v2 infer, JSON tensors",
          "v2_infer_binary": "v2 infer, binary tensors"}


def http_load(d: dict[str, Any]) -> str:
    rows = []
    for workers in ("workers_1", "workers_2"):
        for route, r in d[workers].items():
            rows.append([workers.split("_")[1], ROUTES.get(route, route), num(r["requests_per_s"]),
                         f"{r['latency_p50_ms']:.2f} ms", f"{r['latency_p99_ms']:.2f} ms",
                         r["errors"], f"{r['ratio_to_v1']:.2f}" if "ratio_to_v1" in r else ""])
    reload_ = d["hot_reload"]
    swap_rows = [[name.replace("_", " "), num(r["requests_per_s"]),
                  f"{r['latency_p50_ms']:.2f} ms", f"{r['latency_p99_ms']:.2f} ms", r["errors"]]
                 for name, r in reload_.items() if isinstance(r, dict)]
    health = [[p["decode_processes"], num(p["body_bytes"]), p["statuses"],
               f"{p['healthz_p50_ms']} ms", f"{p['healthz_max_ms']} ms"]
              for p in d.get("healthz_under_20_large_requests", [])]
    return (table(["workers", "route", "requests/s", "p50", "p99", "errors", "/ v1"], rows)
            + f"\n\n{d['clients']} clients, {d['rounds']} alternating rounds of "
              f"{d['seconds_per_round']:g} s.\n\n**Hot reload**: the file replaced "
              f"{reload_['files_replaced']} times during the run, version "
              f"{reload_['version_served_at_end']} served at the end, "
              f"{reload_['failed_requests']} failed requests.\n\n"
            + table(["", "requests/s", "p50", "p99", "errors"], swap_rows)
            + ("\n\n**`/healthz` while 20 requests of ~1 MiB run:**\n\n"
               + table(["`--decode-processes`", "body bytes", "statuses", "`/healthz` p50",
                        "`/healthz` worst"], health) if health else ""))


def js_latency(d: dict[str, Any]) -> str:
    return table([f"`act`, one observation ({num(d['calls'])} calls x {d['rounds']} rounds)",
                  "p50", "p99"], [
        [f"Python, onnxruntime {d['machine'].get('onnxruntime_python', '')}",
         f"{d['python_onnxruntime']['p50_us']} µs", f"{d['python_onnxruntime']['p99_us']} µs"],
        [f"Node, onnxruntime-node {d['machine'].get('onnxruntime_js', '')}",
         f"{d['js_onnxruntime_node']['p50_us']} µs", f"{d['js_onnxruntime_node']['p99_us']} µs"],
        ["Node, onnxruntime-web", f"{d['js_onnxruntime_web_in_node']['p50_us']} µs",
         f"{d['js_onnxruntime_web_in_node']['p99_us']} µs"],
        ["onnxruntime-node / Python", ratio(d["js_over_python"]["p50_us"]),
         ratio(d["js_over_python"]["p99_us"])],
    ]) + f"\n\nTarget: {d['target']}."


def js_page(d: dict[str, Any]) -> str:
    return table(["the web page, headless Chromium " + d.get("chromium", ""), "measured"], [
        ["runtime", d["runtime"]],
        ["CartPole steps per second, the policy deciding every step", num(d["steps_per_s"])],
        [f"greedy mean return over {d['episodes']} episodes", num(d["mean_return"])],
        ["page load to playing", f"{d['page_load_to_playing_s']} s"],
        ["console errors", len(d["console_errors"])],
    ])


def grpc_rest(d: dict[str, Any]) -> str:
    rows = []
    for case, r in d.items():
        if not case.startswith("inference_threads"):
            continue
        batch = case.rsplit("_", 1)[1]
        for proto in ("grpc", "rest"):
            p = r[proto]
            rows.append([batch, proto, num(p["requests_per_s"]), f"{p['latency_p50_ms']} ms",
                         f"{p['latency_p99_ms']} ms", p["errors"],
                         ratio(r["grpc_over_rest_requests_per_s"]) if proto == "grpc" else ""])
    return (table(["batch", "protocol", "requests/s", "p50", "p99", "errors", "gRPC / REST"], rows)
            + f"\n\n{d['clients']} clients, {d['rounds']} alternating rounds of "
              f"{d['seconds_per_round']:g} s, binary tensors; policy: {d['policy']}.")


def quantize(d: dict[str, Any]) -> str:
    rows = []
    for name, p in d["policies"].items():
        f, q = p["float32"], p["int8"]
        rows.append([f"{name} ({num(p['env_steps'])} steps, mean return "
                     f"{num(p['final_mean_return'])})", p["method"],
                     f"{p['greedy_agreement']:.2%}".replace(".00%", "%"),
                     f"{p['max_abs_diff']['probs']:.1e}",
                     f"{num(f['file_bytes'])} → {num(q['file_bytes'])}",
                     f"{f['act_one_observation']['p50_us']} / {f['act_one_observation']['p99_us']}"
                     f" → {q['act_one_observation']['p50_us']} / "
                     f"{q['act_one_observation']['p99_us']}",
                     f"{num(f['batch_256_obs_per_s'])} → {num(q['batch_256_obs_per_s'])}"])
    return (table(["policy", "method", "greedy agreement", "max \\|Δprobs\\|", "file bytes",
                   "`act` p50 / p99 (µs)", "batch of 256 (obs/s)"], rows)
            + f"\n\nfloat32 → int8; onnxruntime threads: {d['onnxruntime_threads']}.")


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    f.__name__: f for f in (train_speed, api_speed, image_speed, tensorboard_cost, envs,
                            defaults, scale, export, serve_latency, http_load, js_latency,
                            js_page, grpc_rest, quantize, lunar_sb3, minigrid_sb3,
                            structured_speed, recurrent, recurrent_speed, masked_taxi,
                            masked_speed)}


# -- plots ---------------------------------------------------------------------------------------
def image(path: str) -> str:
    """The page's link to a plot of bench/results/ (`bench/results/x.png` -> `results/x.png`)."""
    return IMAGES + str(Path(path).relative_to("bench/results"))


def plots() -> list[Path]:
    return sorted(RESULTS.rglob("*.png"))


# -- mkdocs events -------------------------------------------------------------------------------
def on_files(files, config, **kwargs):
    for plot in plots():
        files.append(File.generated(config, IMAGES + str(plot.relative_to(RESULTS)),
                                    abs_src_path=str(plot)))
    return files


def on_pre_build(**kwargs) -> None:
    SHOWN.clear()


def on_page_markdown(markdown: str, page, **kwargs) -> str:
    if page.file.src_uri == PAGE:
        names = MARKER.findall(markdown)
        found = sorted(p.stem for p in RESULTS.glob("*.json"))
        for name in sorted(set(found) - set(names)):
            log.warning(f"{PAGE} shows no results for bench/results/{name}.json: add a line "
                        f"<!-- results: {name} --> (and a renderer in docs/hooks/results.py)")
        markdown = MARKER.sub(lambda m: render(m.group(1)), markdown)
    folder = posixpath.dirname(page.file.src_uri)
    SHOWN.update(posixpath.normpath(posixpath.join(folder, target))
                 for target in IMAGE_LINK.findall(markdown))
    return markdown


def render(name: str) -> str:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        raise PluginError(f"{PAGE}: <!-- results: {name} --> but there is no {path}")
    if name not in RENDERERS:
        raise PluginError(f"bench/results/{name}.json has no renderer in docs/hooks/results.py")
    data = json.loads(path.read_text())
    return RENDERERS[name](data) + "\n\n" + source(name, data)


def on_post_build(**kwargs) -> None:
    """Every plot of bench/results/ is shown on some page."""
    for plot in plots():
        if IMAGES + str(plot.relative_to(RESULTS)) not in SHOWN:
            log.warning(f"no page shows bench/results/{plot.relative_to(RESULTS)}")


def on_serve(server, config, builder, **kwargs):
    server.watch(str(RESULTS))
    return server
