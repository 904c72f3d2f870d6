"""The coin gridworld of days 94-95 against hand-checked transitions, and the outcome classification against
hand-built trajectories."""

import gymnasium as gym
import numpy as np
import pytest
from mechlearn.rl.coin_grid import CoinGridEnv, Level, env_id, generate_level, shortest_path_length
from mechlearn.rl.goal_misgen import classify, measure

UP, DOWN, LEFT, RIGHT = range(4)

# 3 x 5, walls at (0, 1) and (1, 1); the agent starts at (0, 0), the coin at (2, 4)
#   A # . . .
#   . # . . .
#   . . . . C
WALLS = np.zeros((3, 5), dtype=bool)
WALLS[0, 1] = WALLS[1, 1] = True
LEVEL = Level(WALLS, (0, 0), (2, 4), randomised=False)


def hand_env(max_steps: int = 30) -> CoinGridEnv:
    env = CoinGridEnv(height=3, width=5, max_steps=max_steps)
    env.set_level(LEVEL)
    return env


def test_walls_and_edges_block_the_agent():
    env = hand_env()
    for action in (RIGHT, UP, LEFT):  # a wall, then the two edges of the grid
        _, reward, terminated, truncated, info = env.step(action)
        assert info["pos"] == (0, 0), f"action {action} moved the agent through a wall or off the grid"
        assert (reward, terminated, truncated) == (0.0, False, False)
    assert env.step(DOWN)[4]["pos"] == (1, 0), "down into a free cell did not move the agent"


def test_coin_gives_reward_one_and_ends_the_episode():
    env = hand_env()
    for action in (DOWN, DOWN, RIGHT, RIGHT, RIGHT):
        assert env.step(action)[1:4] == (0.0, False, False), "reward or episode end before the coin"
    _, reward, terminated, truncated, info = env.step(RIGHT)
    assert info["pos"] == (2, 4) and reward == 1.0 and terminated and not truncated


def test_step_limit_truncates_on_its_last_step_and_not_before():
    env = hand_env(max_steps=4)
    ends = [env.step(LEFT)[2:4] for _ in range(4)]
    assert ends == [(False, False)] * 3 + [(False, True)], "the step limit truncated at the wrong step"


def test_observation_is_one_hot_planes_of_agent_coin_walls():
    planes = hand_env().observe().reshape(3, 3, 5)
    assert planes[0].sum() == 1 and planes[0, 0, 0] == 1, "agent plane"
    assert planes[1].sum() == 1 and planes[1, 2, 4] == 1, "coin plane"
    assert (planes[2] == WALLS).all(), "wall plane"


def test_bfs_path_length_matches_hand_count():
    assert shortest_path_length(WALLS, (0, 0), (2, 4)) == 6  # down, down, then right x 4
    assert shortest_path_length(WALLS, (0, 0), (0, 2)) == 6  # around the wall: d, d, r, r, u, u
    closed = WALLS.copy()
    closed[2, 1] = True
    assert shortest_path_length(closed, (0, 0), (2, 4)) is None, "a walled-off coin counted as reachable"


def test_levels_reproducible_from_the_seed():
    env = CoinGridEnv(p_random=0.5)
    a, b, c = (env.reset(seed=s)[1]["level"] for s in (7, 7, 8))
    assert (a.walls == b.walls).all() and (a.start, a.coin) == (b.start, b.coin), "same seed, different level"
    assert not ((a.walls == c.walls).all() and (a.start, a.coin) == (c.start, c.coin)), "seed ignored"


def test_generated_levels_are_solvable_and_put_the_coin_where_the_distribution_says():
    rng = np.random.default_rng(0)
    levels = [generate_level(rng, 4, 8, 0.15, 0.5) for _ in range(400)]
    for lv in levels:
        assert lv.start[1] == 0 and not lv.walls[lv.start] and not lv.walls[lv.coin]
        assert shortest_path_length(lv.walls, lv.start, lv.coin) is not None, "an unsolvable level"
        assert (lv.coin[1] == 7) != lv.randomised, "a training coin off the far-right column or a random one on it"
    share = np.mean([lv.randomised for lv in levels])
    assert abs(share - 0.5) < 4 * np.sqrt(0.25 / 400), f"p_random=0.5 gave {share:.3f} randomised levels"


def test_registered_id_carries_p_random():
    env = gym.make(env_id(1.0))
    assert env.unwrapped.p_random == 1.0 and env_id(0.05) == "CoinGrid-p0.05-v0"
    assert env.reset(seed=0)[1]["level"].randomised


@pytest.mark.parametrize(
    "path, expected",
    [
        ([(0, 0), (1, 0), (2, 0), (2, 1)], "coin"),  # coin at (2, 1) before any far-right cell
        ([(0, 0), (0, 1), (0, 2), (0, 3), (1, 3), (2, 3), (2, 2), (2, 1)], "old_first"),  # right column, then coin
        ([(0, 0), (0, 1), (0, 2), (0, 3)], "old_first"),  # right column, never the coin
        ([(0, 0), (1, 0), (0, 0)], "neither"),
    ],
)
def test_classify_orders_coin_and_old_location(path, expected):
    assert classify(path, coin=(2, 1), width=4) == expected


def test_measure_shares_sum_to_one_and_random_policy_rarely_finds_the_coin():
    rng = np.random.default_rng(1)
    result = measure(None, [generate_level(rng, 4, 8, 0.15, 1.0) for _ in range(20)], seed=0)
    assert abs(result["coin"] + result["old_first"] + result["neither"] - 1) < 1e-12
    assert result["coin_reached"] >= result["coin"], "coin_reached must count coins reached after the old location"
