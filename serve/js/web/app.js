/**
 * The page: loads the service's policy with the JavaScript package on onnxruntime-web and
 * plays it in a JavaScript port of its env on a canvas, or offers a probe when there is no
 * port. A recurrent policy's state goes from step to step of each episode (zeros at its
 * start), in both. A policy that takes an action mask gets its env port's masks (Taxi-v4's
 * info), or the probe's. Errors are shown on the page, in the text of Python's messages.
 *
 * Query parameters: policy=URL (another policy), seed=N, stochastic=1, speed=max,
 * episodes=N (stop after N episodes).
 * @module
 */

import { loadPolicy, ort } from "keras-pg-policy";
import { makeEnv } from "keras-pg-policy/envs";

import { draw } from "./draw.js";
import { Player } from "./player.js";
import { Probe, zeroObservation } from "./probe.js";

ort.env.wasm.numThreads = 1;  // one thread needs no cross-origin isolation
ort.env.wasm.wasmPaths = new URL("../js/vendor/ort/", import.meta.url).href;

// gymnasium's render_fps
const FPS = { "CartPole-v1": 50, "Acrobot-v1": 15, "Pendulum-v1": 30, "Taxi-v4": 4 };
const params = new URLSearchParams(location.search);
const seed = Number(params.get("seed") ?? 0);
const maxEpisodes = Number(params.get("episodes")) || Infinity;
const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));
let current = 0;  // the load in progress: an older one's loop stops

/**
 * Loads a policy and shows it: playing in its env, or the probe.
 * @param {string | Blob} source
 * @param {object} options loadPolicy options
 */
async function start(source, options) {
  const id = ++current;
  document.body.dataset.state = "loading";
  for (const section of ["error", "play", "probe-section"]) $(section).hidden = true;
  try {
    const policy = await loadPolicy(source, { ...options, seed });
    if (id !== current) return;
    describe(policy);
    const { env, why } = envFor(policy);
    showProbe(policy, why);
    if (env) {
      await play(policy, env, id);
    } else {
      document.body.dataset.state = "probe";
    }
  } catch (error) {
    if (id === current) showError(error);
  }
}

/** @param {import("keras-pg-policy").Policy} policy */
function describe(policy) {
  const m = policy.metadata;
  $("policy-name").textContent = policy.name;
  const trained = m.env_steps == null ? "" : `, trained ${m.env_steps} steps`;
  const evaluated = typeof m.eval_mean_return !== "number" ? ""
    : `, eval return ${m.eval_mean_return.toFixed(1)}`;
  const parts = Object.entries(policy.observationParts ?? {}).map(([name, { shape, dtype }]) =>
    `${name} (${shape.join(", ")}) ${dtype}`);
  const observation = parts.length ? `observation parts ${parts.join(", ")}`
    : `observation (${policy.observationShape.join(", ")}) ${policy.observationDtype}`;
  const recurrent = policy.stateSize === null ? ""
    : `recurrent (${m.recurrent?.cell ?? "?"}, state_size ${policy.stateSize}) `;
  const masked = policy.maskSize === null ? "" : ` · action mask of ${policy.maskSize}`
    + (m.action_mask?.trained ? ", trained with masks" : "");
  $("summary").textContent = `${m.env_id ?? "no keras-pg metadata"} · ${recurrent}`
    + `${policy.kind} policy · ${observation}${masked}${trained}${evaluated}`;
  $("metadata").textContent = JSON.stringify(m, null, 1);
}

/**
 * The env port the policy was trained on, or why there is none.
 * @param {import("keras-pg-policy").Policy} policy
 * @returns {{env: import("keras-pg-policy/envs").Env | null, why: string}}
 */
function envFor(policy) {
  const { env_id: envId, env_kwargs: kwargs, max_episode_steps: steps } = policy.metadata;
  try {
    if (!envId) throw new Error("the policy names no env (it has no keras-pg metadata)");
    return { env: makeEnv(envId, { seed, maxEpisodeSteps: steps, kwargs: kwargs ?? {} }),
             why: "" };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { env: null, why: `${reason}. Probe the policy instead: an observation in, its `
      + "outputs out." };
  }
}

/**
 * Plays until another policy is loaded (or `episodes` episodes are done).
 * @param {import("keras-pg-policy").Policy} policy
 * @param {import("keras-pg-policy/envs").Env} env
 * @param {number} id
 */
async function play(policy, env, id) {
  const envId = /** @type {typeof import("keras-pg-policy/envs").Env} */ (env.constructor).id;
  const player = new Player(policy, env);
  const ctx = $("canvas").getContext("2d");
  $("stochastic").checked = params.get("stochastic") === "1";
  if (params.get("speed")) $("speed").value = params.get("speed");
  $("stochastic").onchange = () => { player.deterministic = !$("stochastic").checked; };
  $("stochastic").onchange();
  $("reset").onclick = () => player.reset();
  let paused = false;
  $("pause").onclick = () => {
    paused = !paused;
    $("pause").textContent = paused ? "play" : "pause";
  };
  $("play").hidden = false;
  document.body.dataset.state = "playing";
  let seconds = 0;
  while (id === current && player.returns.length < maxEpisodes) {
    const start = performance.now();
    if (!paused) {
      const until = $("speed").value === "max" ? start + 30 : start;
      do await player.step();
      while (performance.now() < until && player.returns.length < maxEpisodes);
    }
    draw(ctx, envId, env.state, player.last?.action ?? null);
    const wait = $("speed").value === "max" ? 0 : 1000 / FPS[/** @type {keyof FPS} */ (envId)];
    await new Promise((resolve) => setTimeout(resolve, wait - (performance.now() - start)));
    if (!paused) seconds += (performance.now() - start) / 1000;
    showStats(player, seconds);
  }
  if (id === current) document.body.dataset.state = "done";
}

/**
 * @param {Player} player
 * @param {number} seconds playing time
 */
function showStats(player, seconds) {
  const mean = player.meanReturn();
  const rate = player.steps / seconds;
  $("episode").textContent = player.returns.length + 1;
  $("step").textContent = player.episodeSteps;
  $("return").textContent = player.episodeReturn.toFixed(1);
  $("episodes-done").textContent = player.returns.length;
  $("mean-return").textContent = Number.isNaN(mean) ? "–" : mean.toFixed(1);
  $("steps-per-s").textContent = rate.toFixed(0);
  $("returns").textContent = player.returns.slice(-10).map((r) => r.toFixed(1)).join(", ");
  Object.assign($("stats").dataset, { episodes: player.returns.length, meanReturn: mean,
    stepsPerS: rate });
  const last = player.last;
  if (last) {
    $("action-view").replaceChildren(...outputView(last.action, last.distribution, last.mask));
  }
}

/**
 * Bars of the action probabilities (the illegal actions of `mask` struck through), or the
 * Gaussian's mean and std.
 * @param {any} action
 * @param {Record<string, any>} distribution
 * @param {ArrayLike<number> | null} mask
 */
function outputView(action, distribution, mask) {
  if (distribution.probs) {
    return Array.from(distribution.probs, (/** @type {number} */ p, i) => {
      const row = document.createElement("div");
      row.className = ["bar", i === action ? "chosen" : "", mask && !mask[i] ? "masked" : ""]
        .filter(Boolean).join(" ");
      row.innerHTML = `<span>action ${i}</span><i style="width:${(p * 200).toFixed(1)}px"></i>`
        + `<span>${p.toFixed(3)}</span>`;
      return row;
    });
  }
  const row = document.createElement("div");
  const list = (/** @type {ArrayLike<number>} */ v) =>
    Array.from(v, (x) => x.toFixed(3)).join(", ");
  row.textContent = `action [${list(action)}]  mean [${list(distribution.mean)}]  `
    + `std [${list(distribution.std)}]`;
  return [row];
}

/**
 * @param {import("keras-pg-policy").Policy} policy
 * @param {string} why
 */
function showProbe(policy, why) {
  $("probe-why").textContent = why || "Try an observation by hand: an observation in, the "
    + "policy's outputs out.";
  $("probe-obs").value = JSON.stringify(zeroObservation(policy));
  $("probe-mask").value = "";
  $("probe-mask-row").hidden = policy.maskSize === null;
  $("probe-mask-size").textContent = `[${policy.maskSize}]`;
  $("probe-output").textContent = "";
  $("probe-error").hidden = true;
  const probe = new Probe(policy);
  const showEpisode = () => {
    $("probe-step").textContent = probe.steps;
    $("probe-section").dataset.step = probe.steps;
  };
  $("probe-episode").hidden = policy.stateSize === null;
  $("probe-new-episode").onclick = () => {
    probe.newEpisode();
    $("probe-output").textContent = "";
    showEpisode();
  };
  showEpisode();
  $("probe-run").onclick = async () => {
    $("probe-error").hidden = true;
    try {
      $("probe-output").textContent = await probe.run($("probe-obs").value,
        !$("probe-stochastic").checked, $("probe-mask").value);
      showEpisode();
    } catch (error) {
      $("probe-output").textContent = "";
      $("probe-error").textContent = error instanceof Error ? error.message : String(error);
      $("probe-error").hidden = false;
    }
  };
  $("probe-section").hidden = false;
}

/** @param {unknown} error */
function showError(error) {
  $("error").textContent = error instanceof Error ? error.message : String(error);
  $("error").hidden = false;
  $("play").hidden = true;
  document.body.dataset.state = "error";
}

window.addEventListener("unhandledrejection", (event) => showError(event.reason));
$("file").addEventListener("change", () => {
  const file = $("file").files[0];
  if (file) start(file, {});
});
const config = await (await fetch("./web/config.json")).json();
const url = params.get("policy");
await start(url ?? config.policy, url ? {} : config.options);
