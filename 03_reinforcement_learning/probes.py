"""Probe environments (Andy Jones, "Debugging RL, Without the Agonizing Pain"; ARENA 2.2/2.3).

Each probe isolates one thing an agent must get right, and has a value we know in closed form, so a failure
points at one part of the code:

| probe | observation | actions | reward | known answer | a failure means |
|---|---|---|---|---|---|
| 1 | 0 | 1 | +1, one step | V = 1 | the value loss or optimiser is broken |
| 2 | +-1 at random | 1 | = observation, one step | V(o) = o | the critic ignores its input |
| 3 | 0 then 1 | 1 | +1 at the end of step 2 | V(0) = gamma, V(1) = 1 | discounting or bootstrapping is wrong |
| 4 | 0 | 2 | -1 for action 0, +1 for action 1 | pi(1) -> 1, V -> 1 | the policy gradient's sign or scale |
| 5 | +-1 at random | 2 | +1 if the action matches (o > 0), else -1 | pi(match) -> 1, V -> 1 | policy ignores input |

Importing this module registers them as `mechlearn/Probe1-v0` ... `mechlearn/Probe5-v0`.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class Probe(gym.Env):
    """A one- or two-step episode with a scalar observation; subclasses set the dynamics."""

    n_actions = 1

    def __init__(self):
        self.observation_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Discrete(self.n_actions)

    def _obs(self, x: float) -> np.ndarray:
        return np.array([x], dtype=np.float32)


class Probe1(Probe):
    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return self._obs(0.0), {}

    def step(self, action):
        return self._obs(0.0), 1.0, True, False, {}


class Probe2(Probe):
    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.o = float(self.np_random.choice([-1.0, 1.0]))
        return self._obs(self.o), {}

    def step(self, action):
        return self._obs(0.0), self.o, True, False, {}


class Probe3(Probe):
    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(0.0), {}

    def step(self, action):
        self.t += 1
        if self.t == 1:
            return self._obs(1.0), 0.0, False, False, {}
        return self._obs(0.0), 1.0, True, False, {}


class Probe4(Probe):
    n_actions = 2

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return self._obs(0.0), {}

    def step(self, action):
        return self._obs(0.0), 1.0 if action == 1 else -1.0, True, False, {}


class Probe5(Probe2):
    n_actions = 2

    def step(self, action):
        return self._obs(0.0), 1.0 if action == int(self.o > 0) else -1.0, True, False, {}


PROBES = {f"mechlearn/Probe{i}-v0": cls for i, cls in enumerate([Probe1, Probe2, Probe3, Probe4, Probe5], 1)}
for _env_id, _cls in PROBES.items():
    if _env_id not in gym.registry:
        gym.register(_env_id, entry_point=_cls)


def expected_values(env_id: str, gamma: float) -> dict[float, float]:
    """The value an optimal agent's critic must learn, per observation (the table in the module docstring)."""
    return {
        "mechlearn/Probe1-v0": {0.0: 1.0},
        "mechlearn/Probe2-v0": {-1.0: -1.0, 1.0: 1.0},
        "mechlearn/Probe3-v0": {0.0: gamma, 1.0: 1.0},
        "mechlearn/Probe4-v0": {0.0: 1.0},
        "mechlearn/Probe5-v0": {-1.0: 1.0, 1.0: 1.0},
    }[env_id]
