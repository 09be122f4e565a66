"""The JAX peer: the same REINFORCE in JAX + gymnax, 256 envs and the whole update in one jit.

    bench/.venv-peers/bin/python bench/jax_reinforce.py --seeds 0,1,2,3,4 [--lr X]
        [--num-envs 256] [--gamma 0.99] [--entropy-coef 0] [--loss-chunk 4096] [--fast-compile]

Runs in its own venv (bench/requirements-peers.txt) and prints one JSON object on stdout.
Each seed runs in a fresh subprocess of this script, so every seed pays its own jit
compilation, as every keras_pg seed pays its tracing in its own subprocess.

What it mirrors: keras_pg's REINFORCE as its CartPole-v1 preset runs it (keras_pg/presets.py:
gamma 0.99, entropy bonus 0, no observation normalization; `--gamma` and `--entropy-coef`
change them) and as its graph backend lays it out (one compiled function per update):
- policy obs(4) -> Dense(128, relu) -> Dense(2) logits; glorot_uniform kernels and zero
  biases (Keras' defaults); Adam (optax; Keras' eps 1e-7), one step per batch;
- gymnax's CartPole-v1 (500-step time limit), `num_envs` envs vmapped, each playing exactly
  one complete episode per update from a fresh reset: lax.scan over 500 steps with the steps
  after an env's episode ended masked out, so no episode spans two updates;
- discounted reward-to-go G_t, normalized over every transition of the batch,
  (G - mean) / (std + 1e-8) (population std), then
  loss = -mean(log pi(a|s) * G_norm) - entropy_coef * mean(entropy);
- solved when the mean undiscounted return of the last 100 training episodes (the batch's
  episodes in env order, as keras_pg's graph backend logs them) is >= 475, CartPole-v1's
  reward_threshold, checked after every update.
Time to solve: wall seconds from after the library imports (jax, optax, gymnax; keras_pg
likewise excludes the TensorFlow import) to the end of the update that solved, jit
compilation included (also reported on its own as compile_s). Each seed is capped at 2M env
steps and 120 s; an unsolved seed is reported as such, and counts as never solving in the
median.

The rollout calls gymnax's pure `step_env` and takes truncation from `is_truncated`: its
`step` wrapper also computes an auto-reset (a PRNG split and a reset per env per step) that
the masked steps after an episode's end would throw away.

The gradient is summed over blocks of 16 time steps (--loss-chunk 4096 transitions), only
up to the longest episode: the same gradient as one pass over the masked [500, 256] batch
(checked to 1e-7), in ~50 ms instead of ~300 ms per update, for ~0.5-1 s more compilation
(lr 0.05, seeds 0-2, alternating: median time to solve 6.05 s, 6.54 s with --loss-chunk 0,
the one pass). Actions are sampled with jax.random.categorical inside the scan, with
threefry keys (JAX's default; `unsafe_rbg` keys compiled ~0.7 s faster, not taken).

Learning rate, --lr (2026-12-07, this machine: 2 cores, another engineer's benchmarks loading
it, 1-min load average 3.5-5.2; seeds 0-2; 256 envs, gamma 0.99, no entropy bonus; time to
solve in s, seeds 0/1/2, then the median; compile_s was 3.4-5.6 s of each, for every lr):
    0.003  unsolved x3 at the 2M-step cap (55-57 updates)
    0.01   9.16 / 9.30 / 7.59   median 9.16   24-29 updates, 1.06M-1.68M steps
    0.02   7.17 / 8.30 / 8.11   median 8.11   13-16 updates, 553k-875k steps
    0.03   7.12 / 5.74 / 7.21   median 7.12   10-11 updates, 466k-492k steps
    0.05   6.13 / 6.58 / 6.65   median 6.58    7-8 updates,  334k-392k steps
    0.07   6.83 / 7.12 / 6.61   median 6.83    7-9 updates,  331k-525k steps
    0.1    7.65 / 6.46 / 6.36   median 6.46    7-9 updates,  316k-429k steps
0.05, 0.07 and 0.1 tie within the load's noise (0.1's median is 0.13 s lower, its seed 0
1.5 s higher); compilation is the same program whatever the lr, and without it 0.05 has the
lowest median (2.16 s, against 2.18 and 2.30) and the fewest updates: the default is 0.05.
With the generic Config defaults instead of the preset's (--gamma 0.95 --entropy-coef 0.01;
seeds 0-2, same day and load): lr 0.01 unsolved x3 at 2M steps; 0.03 6.07 / 5.86 / 9.25 s
(median 6.07, but seed 2 took 1.98M steps, 29 updates); 0.05 6.47 / 7.73 / 7.25 (7.25);
0.1 16.4 (a 12 s compile under load) / 6.80 / 8.01 (8.01): less robust than gamma 0.99.

Compilation is most of the time to solve (~4-5 s of ~7 s here, under the load above).
--fast-compile runs the seeds with XLA_FLAGS=--xla_backend_optimization_level=0, which
about halves it for an update about as fast (seeds 0-4, alternating with the default:
compile 2.1-3.3 s against 4.5-5.4 s, time to solve median 5.77 s against 7.04 s). It is
not the default: the peer runs JAX as it comes, as keras_pg runs TensorFlow as it comes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from typing import Any, NamedTuple

try:
    import jax
    import jax.numpy as jnp
    import optax
    from gymnax.environments.classic_control.cartpole import CartPole
except ImportError as exc:  # run under the main venv, or the peer venv is incomplete
    sys.exit(f"jax_reinforce: {exc.name} is missing; create the peer venv: python3.11 -m venv "
             "bench/.venv-peers && bench/.venv-peers/bin/pip install -r "
             "bench/requirements-peers.txt")

CLOCK_START = time.perf_counter()  # after the library imports, as keras_pg's clock

TARGET_RETURN = 475.0  # CartPole-v1's reward_threshold
SOLVE_WINDOW = 100  # episodes in the moving mean that decides solving
RETURN_EPS = 1e-8
ADAM_EPS = 1e-7  # keras.optimizers.Adam's default (optax's is 1e-8)
DEFAULT_LR = 0.05  # the sweep in the docstring
HIDDEN = 128
FAST_COMPILE = "--xla_backend_optimization_level=0"  # --fast-compile


class Settings(NamedTuple):
    """One seed's run."""

    seed: int
    lr: float
    num_envs: int
    gamma: float
    entropy_coef: float
    max_steps: int
    """Cap in env steps (checked after each update)."""
    max_seconds: float
    """Cap in wall seconds since CLOCK_START (checked after each update)."""
    loss_chunk: int
    """Transitions per gradient chunk (0: one pass over the masked [500, N] batch)."""


class UpdateOut(NamedTuple):
    """What one jitted update hands back to Python."""

    episode_returns: jax.Array
    """float32 [N], the undiscounted return of each env's episode."""
    episode_lengths: jax.Array
    """int32 [N]."""
    loss: jax.Array
    entropy: jax.Array
    """Mean policy entropy over the batch's transitions, nats."""


def init_policy(key: jax.Array) -> dict[str, jax.Array]:
    """obs(4) -> Dense(HIDDEN, relu) -> Dense(2): glorot_uniform kernels, zero biases."""
    k1, k2 = jax.random.split(key)
    glorot = jax.nn.initializers.glorot_uniform()
    return {"w1": glorot(k1, (4, HIDDEN)), "b1": jnp.zeros(HIDDEN),
            "w2": glorot(k2, (HIDDEN, 2)), "b2": jnp.zeros(2)}


def logits_fn(params: dict[str, jax.Array], obs: jax.Array) -> jax.Array:
    """[..., 4] -> [..., 2]."""
    hidden = jax.nn.relu(obs @ params["w1"] + params["b1"])
    return hidden @ params["w2"] + params["b2"]


def make_update(settings: Settings) -> tuple[Any, optax.GradientTransformation]:
    """The jitted `update(params, opt_state, key) -> (params, opt_state, UpdateOut)`."""
    env = CartPole()
    env_params = env.default_params
    horizon = env_params.max_steps_in_episode  # 500
    num_envs, gamma, chunk = settings.num_envs, settings.gamma, settings.loss_chunk
    optimizer = optax.adam(settings.lr, eps=ADAM_EPS)
    step_env = jax.vmap(env.step_env, in_axes=(None, 0, 0, None))

    def rollout(params: dict[str, jax.Array], key: jax.Array) -> tuple[jax.Array, ...]:
        """[T, N] observations, actions, rewards and alive masks over the 500 steps."""
        reset_key, key = jax.random.split(key)
        obs, state = jax.vmap(env.reset_env, in_axes=(0, None))(
            jax.random.split(reset_key, num_envs), env_params)

        def step(carry: tuple, step_key: jax.Array) -> tuple[tuple, tuple]:
            obs, state, alive = carry
            action = jax.random.categorical(step_key, logits_fn(params, obs))
            # CartPole's step uses no randomness: the key is unused.
            next_obs, state, _, terminated, _ = step_env(step_key, state, action, env_params)
            done = terminated | env.is_truncated(state, env_params)
            out = (obs, action, alive.astype(jnp.float32), alive)
            return (next_obs, state, alive & ~done), out

        alive = jnp.ones(num_envs, dtype=bool)
        _, (obs, actions, rewards, alive) = jax.lax.scan(
            step, (obs, state, alive), jax.random.split(key, horizon))
        return obs, actions, rewards, alive  # reward 1 for every step the episode lasts

    def chunk_terms(params: dict[str, jax.Array], obs: jax.Array, actions: jax.Array,
                    weights: jax.Array, valid: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Sums over a chunk of transitions of the loss terms: (-log pi(a|s) * weight
        - entropy_coef * entropy, entropy), invalid transitions weighted 0."""
        log_probs = jax.nn.log_softmax(logits_fn(params, obs))
        taken = jnp.take_along_axis(log_probs, actions[..., None], axis=-1)[..., 0]
        entropy = jnp.sum(-jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1) * valid)
        return -jnp.sum(taken * weights * valid) - settings.entropy_coef * entropy, entropy

    def policy_gradient(params: dict[str, jax.Array], obs: jax.Array, actions: jax.Array,
                        weights: jax.Array, alive: jax.Array
                        ) -> tuple[dict[str, jax.Array], jax.Array, jax.Array]:
        """Gradient, loss and mean entropy over the batch's transitions, inputs [T, N, ...].

        With loss_chunk > 0 the gradient is summed over blocks of loss_chunk // N time steps,
        only as many blocks as the longest episode fills: the same gradient (the loss is a
        sum over transitions) with activations that stay in cache and no work past the last
        step any env took (measured here: ~50 ms against ~300 ms for one pass over the
        masked [500, 256] batch, for ~0.3 s more compilation).
        """
        count = alive.sum()
        value_and_grad = jax.value_and_grad(chunk_terms, has_aux=True)
        valid = alive.astype(jnp.float32)
        if not chunk:  # one pass over every slot, masked
            (loss, entropy), grads = value_and_grad(params, obs, actions, weights, valid)
        else:
            block = max(1, chunk // num_envs)  # time steps per chunk
            blocks = -(-horizon // block)

            def split(x: jax.Array) -> jax.Array:  # [T, N, ...] -> [blocks, block * N, ...]
                x = jnp.pad(x, [(0, blocks * block - horizon)] + [(0, 0)] * (x.ndim - 1))
                return x.reshape(blocks, block * num_envs, *x.shape[2:])

            xs = [split(x) for x in (obs, actions, weights, valid)]

            def add_block(i: jax.Array, sums: tuple) -> tuple:
                return jax.tree.map(jnp.add, sums,
                                    value_and_grad(params, *(x[i] for x in xs)))

            zeros = ((jnp.zeros(()), jnp.zeros(())), jax.tree.map(jnp.zeros_like, params))
            steps = alive.any(axis=1).sum()  # the longest episode's length
            (loss, entropy), grads = jax.lax.fori_loop(0, (steps + block - 1) // block,
                                                       add_block, zeros)
        return jax.tree.map(lambda g: g / count, grads), loss / count, entropy / count

    @jax.jit
    def update(params: dict[str, jax.Array], opt_state: optax.OptState,
               key: jax.Array) -> tuple[dict[str, jax.Array], optax.OptState, UpdateOut]:
        obs, actions, rewards, alive = rollout(params, key)
        # G_t = r_t + gamma G_{t+1}; rewards are 0 after an episode's end.
        _, returns = jax.lax.scan(lambda following, r: (r + gamma * following,) * 2,
                                  jnp.zeros(num_envs), rewards, reverse=True)
        mask = alive.astype(jnp.float32)
        count = mask.sum()  # the batch's transitions
        mean = jnp.sum(returns * mask) / count
        std = jnp.sqrt(jnp.sum(jnp.square(returns - mean) * mask) / count)
        weights = (returns - mean) / (std + RETURN_EPS)
        grads, loss, entropy = policy_gradient(params, obs, actions, weights, alive)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        lengths = alive.sum(axis=0, dtype=jnp.int32)
        return params, opt_state, UpdateOut(rewards.sum(axis=0), lengths, loss, entropy)

    return update, optimizer


def run_seed(settings: Settings) -> dict[str, Any]:
    """Train one seed to the solve criterion or a cap; times from CLOCK_START."""
    key = jax.random.PRNGKey(settings.seed)
    init_key, key = jax.random.split(key)
    params = init_policy(init_key)
    update, optimizer = make_update(settings)
    opt_state = optimizer.init(params)
    compile_start, compile_cpu = time.perf_counter(), time.process_time()
    compiled = update.lower(params, opt_state, key).compile()
    compile_s = time.perf_counter() - compile_start
    compile_cpu_s = time.process_time() - compile_cpu  # below compile_s: other load waited

    recent: list[float] = []
    env_steps = updates = 0
    solved = False
    while True:
        key, update_key = jax.random.split(key)
        params, opt_state, out = compiled(params, opt_state, update_key)
        returns = jax.device_get(out.episode_returns)  # waits for the update
        env_steps += int(jax.device_get(out.episode_lengths).sum())
        updates += 1
        recent = [*recent, *returns.tolist()][-SOLVE_WINDOW:]
        wall = time.perf_counter() - CLOCK_START
        solved = len(recent) >= SOLVE_WINDOW and sum(recent) / len(recent) >= TARGET_RETURN
        if solved or env_steps >= settings.max_steps or wall >= settings.max_seconds:
            break
    return {"seed": settings.seed, "solved": solved,
            "time_to_solve_s": round(wall, 3) if solved else None, "wall_s": round(wall, 3),
            "env_steps": env_steps, "updates": updates,
            "steps_per_s": round(env_steps / wall, 1), "compile_s": round(compile_s, 3),
            "compile_cpu_s": round(compile_cpu_s, 3),
            "final_mean_return": round(sum(recent) / len(recent), 2),
            "final_entropy": round(float(out.entropy), 4),
            "load_avg_1min": round(os.getloadavg()[0], 2)}  # this run ~1 of it; 2 cores


def versions() -> dict[str, str]:
    return {"python": platform.python_version(),
            **{name: metadata.version(name) for name in ("jax", "jaxlib", "gymnax", "optax")}}


def run_in_subprocess(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """One seed in a fresh interpreter: its own jit cache and compilation."""
    command = [sys.executable, __file__, "--one-seed", str(seed), "--lr", str(args.lr),
               "--num-envs", str(args.num_envs), "--gamma", str(args.gamma),
               "--entropy-coef", str(args.entropy_coef), "--max-steps", str(args.max_steps),
               "--max-seconds", str(args.max_seconds), "--loss-chunk", str(args.loss_chunk)]
    proc = subprocess.run(command, capture_output=True, text=True, check=False,
                          env={**os.environ, "XLA_FLAGS": xla_flags(args)})
    if proc.returncode != 0:
        raise RuntimeError(f"seed {seed} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def xla_flags(args: argparse.Namespace) -> str:
    """The children's XLA_FLAGS: the caller's, plus --fast-compile's."""
    flags = os.environ.get("XLA_FLAGS", "")
    return f"{flags} {FAST_COMPILE}".strip() if args.fast_compile else flags


def median_time(runs: list[dict[str, Any]]) -> float | None:
    """Median time to solve, an unsolved run counting as never; None if that is the median."""
    times = [r["time_to_solve_s"] if r["solved"] else float("inf") for r in runs]
    median = statistics.median(times)
    return round(median, 3) if median != float("inf") else None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--lr", type=float, default=DEFAULT_LR, help="Adam learning rate")
    parser.add_argument("--num-envs", type=int, default=256,
                        help="envs, each playing one episode per update")
    parser.add_argument("--gamma", type=float, default=0.99,
                        help="discount (keras_pg's CartPole-v1 preset: 0.99)")
    parser.add_argument("--entropy-coef", type=float, default=0.0,
                        help="entropy bonus weight (keras_pg's CartPole-v1 preset: 0)")
    parser.add_argument("--max-steps", type=int, default=2_000_000, help="env-step cap per seed")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="wall cap per seed, s")
    parser.add_argument("--loss-chunk", type=int, default=4096,
                        help="transitions per gradient chunk (0: one masked pass over all)")
    parser.add_argument("--fast-compile", action="store_true",
                        help=f"compile with XLA_FLAGS={FAST_COMPILE} (see the docstring)")
    parser.add_argument("--one-seed", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.one_seed is not None:  # the child: one seed, one JSON run on stdout
        print(json.dumps(run_seed(Settings(
            args.one_seed, args.lr, args.num_envs, args.gamma, args.entropy_coef,
            args.max_steps, args.max_seconds, args.loss_chunk))))
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = []
    for seed in seeds:
        runs.append(run_in_subprocess(args, seed))
        r = runs[-1]
        print(f"seed {seed}: solved={r['solved']} in {r['wall_s']} s, {r['env_steps']:,} steps, "
              f"{r['updates']} updates, compile {r['compile_s']} s", file=sys.stderr, flush=True)
    print(json.dumps({
        "peer": "jax+gymnax REINFORCE", "versions": versions(),
        "settings": {"env_id": "CartPole-v1 (gymnax)", "num_envs": args.num_envs,
                     "episodes_per_update": args.num_envs, "lr": args.lr, "gamma": args.gamma,
                     "entropy_coef": args.entropy_coef, "hidden": [HIDDEN],
                     "adam_eps": ADAM_EPS, "return_eps": RETURN_EPS,
                     "rollout": "lax.scan over 500 steps, masked after done",
                     "loss_chunk": args.loss_chunk,
                     "target_return": TARGET_RETURN, "solve_window": SOLVE_WINDOW,
                     "max_steps": args.max_steps, "max_seconds": args.max_seconds,
                     "xla_flags": xla_flags(args), "seeds": seeds,
                     "device": str(jax.devices()[0])},
        "runs": runs,
        "time_to_solve_median_s": median_time(runs),
        "solved": sum(r["solved"] for r in runs),
    }))


if __name__ == "__main__":
    main()
