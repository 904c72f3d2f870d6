"""Train PPO on the coin grid and measure where its agents go when the coin moves (Langosco et al. 2022).

An episode on a test level is classified by the order of two events along the agent's path: stepping onto the coin,
and first entering the far-right column (where the coin always was in training).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from mechlearn.rl.coin_grid import CoinGridEnv, Level, env_id, generate_level
from mechlearn.rl.ppo import Agent, PPOArgs, train_ppo

from mechlearn.artefacts import cached_json, cached_tensors

OUTCOMES = ("coin", "old_first", "neither")
"""coin: reached the coin before the far-right column; old_first: entered the far-right column before any coin;
neither: reached neither within the step limit"""

TRAIN_ARGS = PPOArgs(
    total_timesteps=30_000,
    learning_rate=1e-3,
    num_envs=8,
    num_steps=64,
    gamma=0.95,
    gae_lambda=0.9,
    update_epochs=10,
    ent_coef=0.01,
    hidden=64,
)
"""the budget of every run: about a minute on one core; gamma 0.95 makes the shorter path worth more"""

DEPENDS_ON = ["mechlearn.rl.coin_grid", "mechlearn.rl.goal_misgen", "mechlearn.rl.ppo", "mechlearn.rl.advantages"]
P_RANDOM = (0.0, 0.02, 0.05, 0.1, 0.25)
SEEDS = (1, 2, 3, 4, 5)


def classify(path: list[tuple[int, int]], coin: tuple[int, int], width: int) -> str:
    """The outcome of an episode from its positions (start included): which came first, coin or far-right column."""
    for pos in path:
        if pos == coin:
            return "coin"
        if pos[1] == width - 1:
            return "old_first"
    return "neither"


def test_levels(n: int, seed: int, p_random: float = 1.0, **env_kwargs) -> list[Level]:
    """`n` levels from one generator seeded `seed`: p_random=1 the test distribution, 0 the training one."""
    env = CoinGridEnv(p_random=p_random, **env_kwargs)
    rng = np.random.default_rng(seed)
    return [generate_level(rng, env.height, env.width, env.wall_density, p_random) for _ in range(n)]


@torch.no_grad()
def rollout(agent: Agent | None, level: Level, env: CoinGridEnv, gen: torch.Generator) -> list[tuple[int, int]]:
    """Play one level with actions sampled from the policy (uniform if `agent` is None); the positions visited."""
    obs, path = env.set_level(level), [level.start]
    while True:
        if agent is None:
            action = int(torch.randint(4, (1,), generator=gen))
        else:
            probs = torch.softmax(agent.actor(torch.tensor(obs)[None]), -1)[0]
            action = int(torch.multinomial(probs, 1, generator=gen))
        obs, _, terminated, truncated, info = env.step(action)
        path.append(info["pos"])
        if terminated or truncated:
            return path


def measure(agent: Agent | None, levels: list[Level], seed: int = 0) -> dict:
    """Outcome shares, overall coin rate, and per level: outcome, steps, final position (for plots)."""
    torch.set_num_threads(1)
    env, gen = CoinGridEnv(), torch.Generator().manual_seed(seed)
    rows = []
    for level in levels:
        path = rollout(agent, level, env, gen)
        rows.append(
            {
                "outcome": classify(path, level.coin, env.width),
                "coin_reached": level.coin in path,
                "steps": len(path) - 1,
                "final": list(path[-1]),
            }
        )
    shares = {o: float(np.mean([r["outcome"] == o for r in rows])) for o in OUTCOMES}
    return {**shares, "coin_reached": float(np.mean([r["coin_reached"] for r in rows])), "episodes": rows}


def train_agent(p_random: float, seed: int, args: PPOArgs = TRAIN_ARGS) -> tuple[Agent, dict]:
    return train_ppo(dataclasses.replace(args, env_id=env_id(p_random), seed=seed))


def run(p_random: float, seed: int, n_test: int = 200, args: PPOArgs = TRAIN_ARGS) -> tuple[Agent, dict]:
    """Train one agent and measure it on `n_test` test levels and `n_test` training-distribution levels
    (the capability control); level seeds 10_000+ are disjoint from training's per-env seeds."""
    agent, log = train_agent(p_random, seed, args)
    returns = [e["return"] for e in log["episodes"]]
    result = {
        "p_random": p_random,
        "seed": seed,
        "train_curve": [float(np.mean(returns[i : i + 100])) for i in range(0, len(returns), 100)],
        "test": measure(agent, test_levels(n_test, 10_000 + seed, 1.0), seed),
        "train_dist": measure(agent, test_levels(n_test, 20_000 + seed, 0.0), seed),
    }
    return agent, result


def run_path(folder: Path, p_random: float, seed: int) -> Path:
    return Path(folder) / "runs" / f"p{p_random:g}-s{seed}.json"


def cached_run(folder: Path, p_random: float, seed: int, keep_agent: bool = False) -> dict:
    """`run`'s metrics, cached in `folder`/runs/; with `keep_agent` the final weights too (`.safetensors` beside)."""
    path = run_path(folder, p_random, seed)

    def make() -> dict:
        agent, result = run(p_random, seed)
        if keep_agent:
            cached_tensors(path.with_suffix(".safetensors"), agent.state_dict, DEPENDS_ON)
        return result

    return cached_json(path, make, DEPENDS_ON)


def load_agent(folder: Path, p_random: float, seed: int) -> Agent:
    """The weights `cached_run(..., keep_agent=True)` saved, in a fresh `Agent`."""
    from safetensors.torch import load_file

    env = CoinGridEnv()
    agent = Agent(env.observation_space.shape[0], env.action_space.n, TRAIN_ARGS.hidden)
    agent.load_state_dict(load_file(str(run_path(folder, p_random, seed).with_suffix(".safetensors"))))
    return agent
