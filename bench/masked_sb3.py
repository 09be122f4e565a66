"""The MaskablePPO peer (issue #27): sb3-contrib's MaskablePPO on Taxi-v4 with its default
settings and Taxi's action masks, stopped by greedy evaluations as keras_pg's runs are.

    bench/.venv-peers/bin/python bench/masked_sb3.py --seed S [--max-steps 1000000]
        [--threshold 7.0] [--eval-every 10000] [--eval-every-episodes 10]
        [--eval-confirm-episodes 100] [--eval-episodes 100] [--eval-seed 10000]
        [--threads 1] [--returns] [--out FILE]

Runs in the peer venv (bench/requirements-peers.txt: stable-baselines3, sb3-contrib, torch's
CPU build) and prints ONE JSON line on stdout, nothing else (or writes it to --out):
    {"peer": "sb3-contrib-maskable-ppo", "env", "seed", "solved", "steps_to_solve",
     "env_steps", "train_wall_s", "total_wall_s", "eval_mean_return", "evaluations",
     "settings", "versions", ...}

The env is gymnasium's Taxi-v4 as registered (200-step TimeLimit). Its observation is
Discrete(500), which SB3 one-hot encodes. The masks: MaskablePPO asks each env for
`action_masks()`, which sb3-contrib's ActionMasker wrapper provides from a function of the env;
that function (`taxi_mask`) is Taxi's own `action_mask(state)` on the unwrapped env at its
current state, the method by which Taxi computes the `info["action_mask"]` it returns after
reset and after each step (int8 [6]: 1 for the actions that change the state). It reads the
state after DummyVecEnv's automatic reset too, so no copy of the last info is kept. Before
training, `check_masks` steps a Taxi env at random (2,000 steps from a reset seeded S) and
asserts that `taxi_mask` equals `info["action_mask"]` after every reset and step.

Settings: sb3-contrib MaskablePPO's defaults, "MlpPolicy", one env. rl-zoo3 has none to
copy: rl-zoo3 2.9.2 (read in the released wheel) has no ppo_mask algorithm (rl_zoo3/utils.py
ALGOS) and no hyperparams/ppo_mask.yml, and none of its hyperparams files has a Taxi entry.
So, as the issue asks ("MaskablePPO (defaults, same budget)"): learning_rate 3e-4, n_steps
2048, batch_size 64, n_epochs 10, gamma 0.99, gae_lambda 0.95, clip_range 0.2, ent_coef 0.0,
vf_coef 0.5, max_grad_norm 0.5, advantage normalization, net_arch pi [64, 64], vf [64, 64]
(tanh); the env built as passing the env id to MaskablePPO would build it (one env,
DummyVecEnv, a Monitor over `gym.make`), here with `make_vec_env(env_id, n_envs=1, seed=S,
wrapper_class=ActionMasker)` so that the masks are there.

Threads (--threads, default 1; 0 keeps torch's default): torch.set_num_threads(1), as in
bench/sb3_ppo.py and bench/recurrent_sb3.py.

Evaluations during training (keras_pg's `--eval-every 10000 --eval-every-episodes 10
--eval-confirm-episodes 100 --target-return 7`, the same rule as bench/recurrent_sb3.py:
bench/sb3_common.py's `evaluating_stop`, given this script's `evaluate`): when num_timesteps
reaches a multiple of --eval-every, a screen of --eval-every-episodes greedy episodes; when its
mean return reaches --threshold, a confirmation on --eval-confirm-episodes fresh greedy
episodes decides (0: the screen decides). The run is solved at the first deciding evaluation
with a mean >= --threshold (steps_to_solve: num_timesteps then; null if none), and learn()
stops there (mid-rollout, before that rollout's update), or at --max-steps unsolved. Greedy
episodes (`evaluate`): deterministic=True with each episode's current mask (its env's latest
`info["action_mask"]`), as keras_pg evaluates its masked policies; each episode its own env,
all stepped together. Evaluation episodes are seeded one after another from --eval-seed +
--eval-episodes up (each evaluation's episodes fresh, none of the final ones); training's env
is seeded S once.

Wall time: total_wall_s is time.perf_counter() around model.learn() (building the model and
the env, the mask check and the imports are outside it); eval_wall_s the evaluations' part of
it; train_wall_s = total_wall_s - eval_wall_s.

Final evaluation: the policy at the stop, greedy with masks, on --eval-episodes episodes,
episode i reset with seed eval_seed + i; mean and population std of the undiscounted returns.
"""

from __future__ import annotations

import argparse
from typing import Any

import sb3_common  # bench/ is this script's directory (see there)

ENV_ID = "Taxi-v4"


def taxi_mask(env: Any) -> Any:
    """The mask of the env's current state: Taxi's own action_mask(state), what it returns as
    info["action_mask"] (ActionMasker's function)."""
    taxi = env.unwrapped
    return taxi.action_mask(taxi.s)


def check_masks(seed: int, steps: int = 2_000) -> None:
    """Asserts that taxi_mask equals info["action_mask"] after every reset and step of
    `steps` random steps."""
    import gymnasium as gym
    import numpy as np

    env = gym.make(ENV_ID)
    env.action_space.seed(seed)
    _, info = env.reset(seed=seed)
    for _ in range(steps):
        assert np.array_equal(taxi_mask(env), info["action_mask"])
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        if terminated or truncated:
            assert np.array_equal(taxi_mask(env), info["action_mask"])
            _, info = env.reset()
    env.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sb3_common.add_peer_arguments(parser, max_steps=1_000_000, threshold=7.0,
                                  threshold_help="greedy mean return that solves",
                                  evaluating=True)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.wrappers import ActionMasker
    from stable_baselines3.common.env_util import make_vec_env

    sb3_common.set_threads(args.threads)
    check_masks(args.seed)
    env = make_vec_env(ENV_ID, n_envs=1, seed=args.seed, wrapper_class=ActionMasker,
                       wrapper_kwargs={"action_mask_fn": taxi_mask})
    model = MaskablePPO("MlpPolicy", env, seed=args.seed, device="cpu", verbose=0)
    stop = sb3_common.evaluating_stop(args, evaluate)
    total_wall_s = sb3_common.learn_timed(model, args.max_steps, stop)

    returns = evaluate(model, args.eval_episodes, args.eval_seed)
    env.close()
    p = model.policy
    settings = {
        "source": "sb3-contrib MaskablePPO defaults, one env (rl-zoo3 2.9.2 has no ppo_mask "
                  "settings and no Taxi entry); masks: Taxi's action_mask(state) via ActionMasker",
        "policy": "MlpPolicy", "n_envs": env.num_envs,
        "learning_rate": model.learning_rate, "n_steps": model.n_steps,
        "batch_size": model.batch_size, "n_epochs": model.n_epochs, "gamma": model.gamma,
        "gae_lambda": model.gae_lambda, "clip_range": model.clip_range(1.0),
        "clip_range_vf": model.clip_range_vf, "ent_coef": model.ent_coef,
        "vf_coef": model.vf_coef, "max_grad_norm": model.max_grad_norm,
        "normalize_advantage": model.normalize_advantage, "target_kl": model.target_kl,
        "net_arch": str(p.net_arch), "activation_fn": p.activation_fn.__name__,
        "ortho_init": p.ortho_init, "vec_env": type(env).__name__,
        **sb3_common.evaluation_settings(args),
    }
    result = {
        "peer": "sb3-contrib-maskable-ppo", "env": ENV_ID, "seed": args.seed,
        **sb3_common.evaluated_run_fields(model, stop, total_wall_s),
        **sb3_common.final_evaluation_fields(returns, args.eval_seed),
        "settings": settings, "versions": sb3_common.versions(contrib=True),
    }
    sb3_common.write_result(result, returns, with_returns=args.returns, out=args.out)


def evaluate(model: Any, episodes: int, first_seed: int) -> list[float]:
    """Greedy returns of `episodes` episodes, episode i reset with seed first_seed + i: one env
    each, stepped together; each step's actions masked by its env's latest
    info["action_mask"] (a sb3_common.Evaluate)."""
    import numpy as np

    def act(idx: Any, observations: list[Any], infos: list[dict]) -> list[int]:
        masks = np.stack([info["action_mask"] for info in infos]).astype(bool)
        actions, _ = model.predict(np.array(observations, dtype=np.int64), deterministic=True,
                                   action_masks=masks)
        return [int(action) for action in actions]

    return sb3_common.play_greedy(ENV_ID, episodes, first_seed, act)


if __name__ == "__main__":
    main()
