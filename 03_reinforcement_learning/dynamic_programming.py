"""Finite MDPs as arrays, and the dynamic-programming solutions of their Bellman equations (Sutton & Barto, ch. 4).

An MDP is `P[s, a, s']` (transition probabilities) and `R[s, a]` (expected reward), with discount $\\gamma$.
Terminal states are absorbing with zero reward, so the same formulas cover episodic tasks with $\\gamma = 1$.

- Bellman expectation: $V^\\pi = r^\\pi + \\gamma P^\\pi V^\\pi$, solved exactly as $(I - \\gamma P^\\pi)^{-1} r^\\pi$
  or iteratively by policy evaluation.
- Bellman optimality: $V^*(s) = \\max_a \\bigl[R(s,a) + \\gamma \\sum_{s'} P(s' \\mid s,a) V^*(s')\\bigr]$,
  solved by value iteration (apply the max-backup until it stops moving) or policy iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float


@dataclass
class MDP:
    P: Float[np.ndarray, "state action next_state"]
    R: Float[np.ndarray, "state action"]
    gamma: float

    @property
    def n_states(self) -> int:
        return self.P.shape[0]

    def q_from_v(self, V: Float[np.ndarray, " state"]) -> Float[np.ndarray, "state action"]:
        """One-step look-ahead $Q(s, a) = R(s, a) + \\gamma \\sum_{s'} P(s' \\mid s, a) V(s')$."""
        return self.R + self.gamma * np.einsum("sat,t->sa", self.P, V)


def gridworld_4x4() -> MDP:
    """Sutton & Barto's Example 4.1: a 4x4 grid, terminal corners 0 and 15, reward -1 per move, gamma = 1;
    moves off the grid leave the state unchanged. Actions: up, right, down, left."""
    n, terminals = 4, {0, 15}
    P = np.zeros((n * n, 4, n * n))
    R = np.zeros((n * n, 4))
    for s in range(n * n):
        row, col = divmod(s, n)
        for a, (dr, dc) in enumerate([(-1, 0), (0, 1), (1, 0), (0, -1)]):
            if s in terminals:
                P[s, a, s] = 1.0
                continue
            r2, c2 = row + dr, col + dc
            s2 = r2 * n + c2 if 0 <= r2 < n and 0 <= c2 < n else s
            P[s, a, s2], R[s, a] = 1.0, -1.0
    return MDP(P, R, gamma=1.0)


def mdp_from_gymnasium(env) -> MDP:
    """Arrays from a toy-text env's `P[s][a] = [(prob, s', r, terminated), ...]`; terminal successors absorb."""
    env = env.unwrapped
    nS, nA = env.observation_space.n, env.action_space.n
    P, R = np.zeros((nS, nA, nS)), np.zeros((nS, nA))
    terminal = {s2 for s in range(nS) for a in range(nA) for (_, s2, _, done) in env.P[s][a] if done}
    for s in range(nS):
        for a in range(nA):
            if s in terminal:
                P[s, a, s] = 1.0
                continue
            for prob, s2, r, _ in env.P[s][a]:
                P[s, a, s2] += prob
                R[s, a] += prob * r
    return MDP(P, R, gamma=1.0)


def policy_matrices(mdp: MDP, policy: Float[np.ndarray, "state action"]):
    """$P^\\pi[s, s'] = \\sum_a \\pi(a|s) P(s'|s,a)$ and $r^\\pi[s] = \\sum_a \\pi(a|s) R(s,a)$."""
    return np.einsum("sa,sat->st", policy, mdp.P), np.einsum("sa,sa->s", policy, mdp.R)


def policy_evaluation_exact(mdp: MDP, policy, terminals: list[int] = ()) -> np.ndarray:
    """Solve the linear Bellman system. With gamma = 1 the absorbing terminals make $I - P^\\pi$ singular, so
    their value is pinned to 0 and the system is solved on the other states."""
    P_pi, r_pi = policy_matrices(mdp, policy)
    keep = np.array([s not in set(terminals) for s in range(mdp.n_states)])
    V = np.zeros(mdp.n_states)
    A = np.eye(keep.sum()) - mdp.gamma * P_pi[np.ix_(keep, keep)]
    V[keep] = np.linalg.solve(A, r_pi[keep])
    return V


def policy_evaluation(mdp: MDP, policy, theta: float = 1e-10, max_sweeps: int = 100_000) -> np.ndarray:
    """Iterative policy evaluation: $V \\leftarrow r^\\pi + \\gamma P^\\pi V$ until the largest change < theta."""
    P_pi, r_pi = policy_matrices(mdp, policy)
    V = np.zeros(mdp.n_states)
    for _ in range(max_sweeps):
        V_new = r_pi + mdp.gamma * P_pi @ V
        if np.max(np.abs(V_new - V)) < theta:
            return V_new
        V = V_new
    raise RuntimeError("policy evaluation did not converge")


def greedy_policy(mdp: MDP, V: np.ndarray) -> np.ndarray:
    """Deterministic policy (one-hot rows) that is greedy with respect to the look-ahead of V."""
    Q = mdp.q_from_v(V)
    return np.eye(Q.shape[1])[Q.argmax(axis=1)]


def value_iteration(mdp: MDP, theta: float = 1e-10, max_sweeps: int = 100_000) -> tuple[np.ndarray, list[float]]:
    """Apply the Bellman optimality backup until it moves V by less than theta; returns V and the change per sweep."""
    V, deltas = np.zeros(mdp.n_states), []
    for _ in range(max_sweeps):
        V_new = mdp.q_from_v(V).max(axis=1)
        deltas.append(float(np.max(np.abs(V_new - V))))
        V = V_new
        if deltas[-1] < theta:
            return V, deltas
    raise RuntimeError("value iteration did not converge")


def policy_iteration(mdp: MDP, terminals: list[int] = ()) -> tuple[np.ndarray, np.ndarray, int]:
    """Evaluate exactly, improve greedily, repeat until the policy is stable; returns V, policy, #iterations.
    Starts from the uniform random policy (proper on the gridworld, so every evaluation is finite)."""
    nA = mdp.P.shape[1]
    policy = np.full((mdp.n_states, nA), 1.0 / nA)
    for iteration in range(1, 1000):
        V = policy_evaluation_exact(mdp, policy, terminals)
        new_policy = greedy_policy(mdp, V)
        if np.array_equal(new_policy, policy):
            return V, policy, iteration
        policy = new_policy
    raise RuntimeError("policy iteration did not converge")
