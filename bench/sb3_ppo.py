"""The SB3 PPO peer (issues #23, #24): Stable-Baselines3 PPO with rl-zoo3's tuned settings.

    bench/.venv-peers/bin/python bench/sb3_ppo.py --env LunarLander-v3 --seed S
        [--max-steps 2000000] [--threshold 200] [--eval-episodes 100] [--eval-seed 10000]
        [--threads 1] [--returns]

Runs in the peer venv (bench/requirements-peers.txt: stable-baselines3, torch's CPU build,
Box2D and pygame for gymnasium's box2d envs) and prints ONE JSON line on stdout, nothing else:
    {"peer": "sb3-ppo", "env", "seed", "solved", "env_steps", "train_wall_s",
     "eval_mean_return", "eval_std_return", "eval_episodes", "settings", "versions", ...}

Settings: rl-zoo3's tuned hyperparameters, copied from rl_zoo3/hyperparams/ppo.yml (rl-zoo3
2.9.2, checked in the released wheel), entry `LunarLander-v3`:
    n_envs: 16, n_timesteps: 1e6, policy: 'MlpPolicy', n_steps: 1024, batch_size: 64,
    gae_lambda: 0.98, gamma: 0.999, n_epochs: 4, ent_coef: 0.01
Everything else is SB3's PPO default (lr 3e-4, clip_range 0.2, vf_coef 0.5, max_grad_norm 0.5,
advantage normalization, separate 64-64 tanh actor and critic MLPs): the entry has no
`normalize`, `env_wrapper`, `frame_stack` or `policy_kwargs`, so there is no VecNormalize and
no other wrapper. The vec env is built as rl-zoo3's ExperimentManager.create_envs builds it:
`make_vec_env(env_id, n_envs=16, seed=S)` with its default DummyVecEnv (the zoo's `--vec-env
dummy`), which wraps each env in a Monitor directly over `gym.make(env_id)` (whose TimeLimit
is inside it), so the Monitor's episode returns are the env's raw, undiscounted returns.
`n_timesteps` is the zoo's training budget; here the budget is --max-steps instead. Not
taken from the zoo: its periodic EvalCallback (`--eval-freq`, evaluation during training is
not part of the algorithm, and would count in the wall time) and model saving.

Threads (--threads, default 1; 0 keeps torch's default): torch.set_num_threads(1), as
keras_pg's numpy actor runs BLAS on one thread during its rollouts. Every torch call here is
small (a 16 x 8 observation batch per env step, 64-sample minibatches through 64-64 MLPs),
where intra-op threads cost more in hand-offs than they save; on this 2-core machine a second
thread also competes with whatever else runs. rl-zoo3's own default (`--num-threads -1`) leaves
torch at its default (one thread per core).

Stop rule: after every vec-env step (16 env steps), the Monitor episodes that finished in that
step are appended, in env order, to a window of the last 100 completed training episodes (the
same episodes, in the same order, as SB3's `model.ep_info_buffer`, whose maxlen is 100; read
from the step's `infos` because SB3 calls the callback before it updates that buffer); the run
is solved as soon as the window holds 100 episodes and their mean return is >= --threshold
(200 = LunarLander-v3's reward_threshold), or stops unsolved once `num_timesteps` reaches
--max-steps. env_steps is `model.num_timesteps` at that moment (a multiple of 16); the step
that solves ends learn() mid-rollout, before that rollout is used for an update.
train_wall_s is time.perf_counter() around model.learn() (building the model and the envs,
and the imports, are outside it).

MiniGridDict-Empty-5x5-v0 (bench/minigrid_envs.py: MiniGrid-Empty-5x5-v0 observing
{"direction", "image"}, the mission text dropped): rl-zoo3's `minigrid-defaults` entry
(MiniGrid-Empty-Random-5x5-v0 and the other MiniGrid ids) -- n_envs 8, n_steps 128,
batch_size 64, gae_lambda 0.95, gamma 0.99, n_epochs 10, ent_coef 0.0, learning_rate 2.5e-4,
clip_range 0.2 -- with policy 'MultiInputPolicy' on the Dict observation instead of the zoo's
FlatObsWrapper and MlpPolicy, and no VecNormalize (the zoo's `normalize: true` is for the flat
vector). SB3's CombinedExtractor gives an image part its NatureCNN, whose 8x8/4 convolution
cannot take MiniGrid's 7x7 view; `SmallImageExtractor` is CombinedExtractor with the CNN
keras_pg's built-in network uses at that size (32 3x3/1, 64 3x3/2, 64 3x3/2, "same", ReLU)
for image parts, the other parts flattened (SB3 one-hot encodes the Discrete direction), so
both libraries see the same observation through the same kind of network.

Evaluation: the policy at the stop, greedy (deterministic=True: the most likely action),
on --eval-episodes fresh envs, episode i reset with seed eval_seed + i (unseen in training,
whose envs are seeded S .. S+15 once), all stepped together in one batch until each ends
(terminated or truncated at LunarLander's 1000-step limit); mean and population std of the
undiscounted returns.
"""

from __future__ import annotations

import argparse
import collections

import sb3_common  # bench/ is this script's directory, as for minigrid_envs below

ZOO_VERSION = "2.9.2"
# rl-zoo3 hyperparams/ppo.yml (rl-zoo3 2.9.2), entries LunarLander-v3 verbatim, and
# minigrid-defaults with the policy and wrappers changed as the module docstring says.
ZOO_HYPERPARAMS = {
    "MiniGridDict-Empty-5x5-v0": {
        "n_envs": 8,
        "n_timesteps": 1e5,
        "policy": "MultiInputPolicy",
        "n_steps": 128,
        "batch_size": 64,
        "gae_lambda": 0.95,
        "gamma": 0.99,
        "n_epochs": 10,
        "ent_coef": 0.0,
        "learning_rate": 2.5e-4,
        "clip_range": 0.2,
    },
    "LunarLander-v3": {
        "n_envs": 16,
        "n_timesteps": 1e6,
        "policy": "MlpPolicy",
        "n_steps": 1024,
        "batch_size": 64,
        "gae_lambda": 0.98,
        "gamma": 0.999,
        "n_epochs": 4,
        "ent_coef": 0.01,
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="LunarLander-v3", choices=sorted(ZOO_HYPERPARAMS))
    sb3_common.add_peer_arguments(
        parser, max_steps=2_000_000, threshold=200.0, evaluating=False,
        threshold_help="mean return of the last 100 training episodes that solves")
    args = parser.parse_args()

    import numpy as np
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    sb3_common.set_threads(args.threads)
    if args.env.startswith("MiniGridDict"):
        import minigrid_envs  # noqa: F401 (bench/ is this script's directory: registers it)

    hyper = dict(ZOO_HYPERPARAMS[args.env])
    n_envs, policy = hyper.pop("n_envs"), hyper.pop("policy")
    zoo_timesteps = hyper.pop("n_timesteps")

    class StopOnSolve(BaseCallback):
        """Stops learn() when the last 100 training episodes' mean return reaches threshold."""

        def __init__(self) -> None:
            super().__init__(verbose=0)
            self.window: collections.deque[float] = collections.deque(maxlen=100)
            self.episodes = 0
            self.solved = False
            self.steps_at_stop = 0

        def _on_step(self) -> bool:
            ended = sb3_common.ended_returns(self.locals["infos"])
            if ended:
                self.window.extend(ended)
                self.episodes += len(ended)
                if len(self.window) == 100 and np.mean(self.window) >= args.threshold:
                    self.solved = True
            if self.solved or self.num_timesteps >= args.max_steps:
                self.steps_at_stop = self.num_timesteps
                return False
            return True

    env = make_vec_env(args.env, n_envs=n_envs, seed=args.seed)
    if policy == "MultiInputPolicy":
        hyper["policy_kwargs"] = {"features_extractor_class": small_image_extractor()}
    model = PPO(policy, env, seed=args.seed, device="cpu", verbose=0, **hyper)
    stop = StopOnSolve()
    train_wall_s = sb3_common.learn_timed(model, args.max_steps, stop)
    env.close()

    returns = evaluate(model, args.env, args.eval_episodes, args.eval_seed)
    settings = {
        "source": f"rl-zoo3 {ZOO_VERSION} hyperparams/ppo.yml, {args.env}; the rest SB3 defaults",
        "n_envs": n_envs, "policy": policy,
        **{key: value for key, value in hyper.items() if key != "policy_kwargs"},
        "zoo_n_timesteps": zoo_timesteps,
        "learning_rate": model.learning_rate, "clip_range": model.clip_range(1.0),
        "vf_coef": model.vf_coef, "max_grad_norm": model.max_grad_norm,
        "normalize_advantage": model.normalize_advantage,
        "net_arch": str(model.policy.net_arch),
        "activation_fn": model.policy.activation_fn.__name__,
        "features_extractor": type(model.policy.features_extractor).__name__,
        "vec_env": type(env).__name__, "normalize": False,
        "threshold": args.threshold, "max_steps": args.max_steps,
        "torch_threads": torch.get_num_threads(),
    }
    result = {
        "peer": "sb3-ppo", "env": args.env, "seed": args.seed,
        "solved": stop.solved, "env_steps": int(stop.steps_at_stop or model.num_timesteps),
        "train_wall_s": round(train_wall_s, 3),
        **sb3_common.training_fields(model, stop, train_wall_s),
        **sb3_common.final_evaluation_fields(returns, args.eval_seed),
        "settings": settings, "versions": sb3_common.versions(contrib=False),
    }
    sb3_common.write_result(result, returns, with_returns=args.returns)


def evaluate(model, env_id: str, episodes: int, eval_seed: int) -> list[float]:
    """Greedy returns of `episodes` episodes, episode i reset with seed eval_seed + i."""

    def act(idx, observations: list, infos: list[dict]):
        return model.predict(batched(observations), deterministic=True)[0]

    return sb3_common.play_greedy(env_id, episodes, eval_seed, act)


def batched(observations: list):
    """Observations stacked into a batch: one array, or {key: array} of Dict observations."""
    import numpy as np

    if isinstance(observations[0], dict):
        return {key: np.stack([o[key] for o in observations]) for key in observations[0]}
    return np.stack(observations)


def small_image_extractor() -> type:
    """SB3's CombinedExtractor with keras_pg's small-image CNN for image parts (see the
    module docstring), as a class for policy_kwargs' features_extractor_class."""
    import gymnasium as gym
    import torch
    from stable_baselines3.common.preprocessing import get_flattened_obs_dim, is_image_space
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    class SmallImageExtractor(BaseFeaturesExtractor):
        def __init__(self, observation_space: gym.spaces.Dict) -> None:
            super().__init__(observation_space, features_dim=1)
            extractors, size = {}, 0
            for key, space in observation_space.spaces.items():
                if is_image_space(space):  # channels first: SB3 transposes images
                    channels, height, width = space.shape
                    extractors[key] = torch.nn.Sequential(
                        torch.nn.Conv2d(channels, 32, 3, 1, padding=1), torch.nn.ReLU(),
                        torch.nn.Conv2d(32, 64, 3, 2, padding=1), torch.nn.ReLU(),
                        torch.nn.Conv2d(64, 64, 3, 2, padding=1), torch.nn.ReLU(),
                        torch.nn.Flatten())
                    with torch.no_grad():
                        probe = torch.zeros(1, channels, height, width)
                        size += extractors[key](probe).shape[1]
                else:
                    extractors[key] = torch.nn.Flatten()
                    size += get_flattened_obs_dim(space)
            self.extractors = torch.nn.ModuleDict(extractors)
            self._features_dim = size

        def forward(self, observations: dict) -> torch.Tensor:
            return torch.cat([extractor(observations[key])
                              for key, extractor in self.extractors.items()], dim=1)

    return SmallImageExtractor


if __name__ == "__main__":
    main()
