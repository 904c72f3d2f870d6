"""PPO's environment steps per second on this machine, and where the time goes.

Runs `train_ppo` with day 29's configuration for a fixed number of steps (one torch thread, as in training), and
times the two halves of an iteration separately: the rollout alone (environment steps plus the policy's forward
pass) and the whole loop. Usage:

    .venv/bin/python benchmarks/rl_ppo_sps.py [--steps 25600] [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import time

import gymnasium as gym
import numpy as np
import torch
from mechlearn.rl.ppo import Agent, PPOArgs, make_envs, train_ppo


def rollout_sps(args: PPOArgs, steps: int) -> float:
    """Steps per second of collecting experience only: vectorised env steps + the agent's action sampling."""
    torch.set_num_threads(1)
    envs = make_envs(args.env_id, args.num_envs)
    agent = Agent(envs.single_observation_space.shape[0], envs.single_action_space.n, args.hidden)
    obs = torch.tensor(envs.reset(seed=0)[0], dtype=torch.float32)
    start = time.perf_counter()
    for _ in range(steps // args.num_envs):
        with torch.no_grad():
            action, _, _, _ = agent.get_action_and_value(obs)
        obs = torch.tensor(envs.step(action.numpy())[0], dtype=torch.float32)
    envs.close()
    return steps / (time.perf_counter() - start)


def env_only_sps(env_id: str, steps: int) -> float:
    """Steps per second of one bare environment with random actions: the ceiling for any agent."""
    env = gym.make(env_id)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(int(rng.integers(2)))
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=25_600, help="environment steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the median is reported")
    cli = parser.parse_args()
    args = PPOArgs(total_timesteps=cli.steps)
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, gymnasium {gym.__version__}, "
        f"{platform.processor() or platform.machine()}; torch threads = 1"
    )
    print(
        f"config: {args.num_envs} envs x {args.num_steps} steps, {args.update_epochs} epochs x "
        f"{args.num_minibatches} minibatches, hidden {args.hidden}; {cli.steps} steps per run"
    )
    results = {"bare env (random actions)": [], "rollout only": [], "train_ppo (rollout + update)": []}
    for _ in range(cli.repeats):
        results["bare env (random actions)"].append(env_only_sps(args.env_id, cli.steps))
        results["rollout only"].append(rollout_sps(args, cli.steps))
        start = time.perf_counter()
        train_ppo(args)
        results["train_ppo (rollout + update)"].append(cli.steps / (time.perf_counter() - start))
    for name, sps in results.items():
        print(f"{name:30} median {np.median(sps):8.0f} steps/s   (runs: {', '.join(f'{s:.0f}' for s in sps)})")
    full = np.median(results["train_ppo (rollout + update)"])
    print(f"100k steps (day 29's budget) at this speed: {100_000 / full:.0f} s")


if __name__ == "__main__":
    main()
