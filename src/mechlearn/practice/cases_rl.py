"""Cases for the RL exercises: hand-worked returns, advantages and losses (as tests/rl), the 4x4 gridworld's
values from Sutton & Barto, the fast GAE sweep against the slow readable loop."""

from __future__ import annotations

import math

import numpy as np

from mechlearn.practice.cases import case, expect, expect_close, expect_equal

# ---- bandits and dynamic programming ----------------------------------------------------------------------------


@case("BanditAgent.select")
def ucb_tries_every_arm_first(fn):
    """UCB with c = 2: the four untried arms come first, even after one looks great (infinite bonus at N = 0)."""
    from mechlearn.rl.bandits import BanditAgent

    agent, rng = BanditAgent(ucb_c=2.0), np.random.default_rng(0)
    Q, N, seen = np.zeros((1, 4)), np.zeros((1, 4)), []
    for t in range(1, 5):
        a = int(fn(agent, Q, N, t, rng)[0])
        seen.append(a)
        N[0, a] += 1
        Q[0, a] = 10.0
    expect_equal("arms chosen in the first 4 steps (sorted)", sorted(seen), [0, 1, 2, 3], {"ucb_c": 2.0})


@case("BanditAgent.select")
def greedy_breaks_ties_at_random(fn):
    """epsilon = 0 on 600 runs whose 3 arms tie: every arm chosen often (np.argmax always picks arm 0)."""
    from mechlearn.rl.bandits import BanditAgent

    Q, N = np.zeros((600, 3)), np.zeros((600, 3))
    picks = np.bincount(fn(BanditAgent(), Q, N, 1, np.random.default_rng(0)), minlength=3)
    expect(picks.min() > 120, "ties not broken at random", {"Q": Q}, "about 200 each", picks)
    Q[:, 2] = 1.0
    picks = fn(BanditAgent(), Q, N, 1, np.random.default_rng(0))
    expect_equal("greedy picks with arm 2 best", picks, np.full(600, 2), {"Q row": Q[0]})


@case("BanditAgent.select")
def epsilon_one_is_uniform(fn):
    """epsilon = 1 on 3000 runs with arm 0 best: each of 3 arms about 1/3 of the time (5 sigma: 0.045)."""
    from mechlearn.rl.bandits import BanditAgent

    Q, N = np.array([[1.0, 0.0, 0.0]]).repeat(3000, 0), np.ones((3000, 3))
    freq = np.bincount(fn(BanditAgent(epsilon=1.0), Q, N, 5, np.random.default_rng(1)), minlength=3) / 3000
    expect_close("frequency of each arm", freq, np.full(3, 1 / 3), {"epsilon": 1.0}, atol=0.045)


def _gridworld():
    from mechlearn.rl.dynamic_programming import gridworld_4x4

    return gridworld_4x4()


@case("policy_evaluation_exact")
def random_policy_on_the_gridworld(fn):
    """The uniform random policy on Sutton & Barto's 4x4 gridworld (Figure 4.1): 0, -14, -20, -22, ..."""
    book = np.array([0, -14, -20, -22, -14, -18, -20, -20, -20, -20, -18, -14, -22, -20, -14, 0], dtype=float)
    uniform = np.full((16, 4), 0.25)
    expect_close("V", fn(_gridworld(), uniform, [0, 15]), book, {"policy": uniform, "terminals": [0, 15]}, 1e-9)


@case("policy_evaluation_exact")
def discounted_two_state_chain(fn):
    """Two states that swap each step, rewards 1 and 0, gamma 0.5: V = (1 + 0.5 V1, 0.5 V0) = (4/3, 2/3)."""
    from mechlearn.rl.dynamic_programming import MDP

    P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    mdp = MDP(P, np.array([[1.0], [0.0]]), gamma=0.5)
    expect_close("V", fn(mdp, np.ones((2, 1))), np.array([4 / 3, 2 / 3]), {"P": P, "R": mdp.R, "gamma": 0.5}, 1e-12)


@case("MDP.q_from_v")
def look_ahead_matches_a_loop(fn):
    """A random 3-state, 2-action MDP with gamma 0.9: against the double loop over (s, a) and s'."""
    from mechlearn.rl.dynamic_programming import MDP

    rng = np.random.default_rng(2)
    P = rng.random((3, 2, 3))
    P /= P.sum(-1, keepdims=True)
    R, V = rng.normal(size=(3, 2)), rng.normal(size=3)
    mdp = MDP(P, R, gamma=0.9)
    slow = np.array([[R[s, a] + 0.9 * sum(P[s, a, t] * V[t] for t in range(3)) for a in range(2)] for s in range(3)])
    expect_close("Q", fn(mdp, V), slow, {"P": P, "R": R, "V": V, "gamma": 0.9}, 1e-12)


@case("value_iteration")
def optimal_values_are_minus_distance(fn):
    """Every move costs 1, so V*(s) = -(Manhattan distance to the nearer terminal corner)."""
    V, deltas = fn(_gridworld())
    analytic = np.array([-min(r + c, (3 - r) + (3 - c)) for r in range(4) for c in range(4)], dtype=float)
    expect_close("V*", V, analytic, {"mdp": "gridworld_4x4()"}, 1e-9)
    expect(deltas[-1] < 1e-10 and deltas[0] == 1.0, "deltas: first sweep moves V by 1, last by < theta", {}, "", deltas)


# ---- DQN -----------------------------------------------------------------------------------------------------


@case("td_target")
def td_target_by_hand(fn):
    """r = (1, 2), gamma 0.9, max Q' = (3, 5), second transition terminal: y = (1 + 2.7, 2) = (3.7, 2)."""
    import torch

    target_q = torch.tensor([[1.0, 3.0], [5.0, -1.0]])
    inputs = {"target_q": target_q, "rewards": [1.0, 2.0], "terminated": [0.0, 1.0], "gamma": 0.9}
    got = fn(target_q, torch.tensor([1.0, 2.0]), torch.tensor([0.0, 1.0]), 0.9)
    expect_close("y", got, torch.tensor([3.7, 2.0]), inputs, 1e-6)


@case("linear_schedule")
def schedule_by_hand(fn):
    """From 1.0 to 0.1 over 100 steps: 1.0 at t = 0, 0.55 at t = 50, 0.1 at 100 and after."""
    got = np.array([fn(1.0, 0.1, 100, t) for t in (0, 50, 100, 500)])
    expect_close("epsilon at t = 0, 50, 100, 500", got, np.array([1.0, 0.55, 0.1, 0.1]), {"start, end": (1.0, 0.1)})


# ---- policy gradients ----------------------------------------------------------------------------------------


@case("discounted_returns")
def returns_by_hand(fn):
    """Rewards (1, 2, 3), gamma 0.5: G = (2.75, 3.5, 3) — accumulated backwards."""
    got = fn([1.0, 2.0, 3.0], 0.5)
    expect_close("G", np.array(got), np.array([2.75, 3.5, 3.0]), {"rewards": [1.0, 2.0, 3.0], "gamma": 0.5}, 1e-12)


@case("discounted_returns")
def gamma_one_sums_the_rest(fn):
    """gamma = 1: G_t is the sum of the remaining rewards."""
    r = [0.5, -1.0, 2.0, 0.0, 1.0]
    expect_close("G", np.array(fn(r, 1.0)), np.cumsum(r[::-1])[::-1], {"rewards": r, "gamma": 1.0}, 1e-12)


def _agent():
    import torch

    from mechlearn.rl.ppo import Agent

    torch.manual_seed(0)
    return Agent(obs_dim=3, n_actions=2, hidden=8)


@case("reinforce_loss")
def losses_by_formula(fn):
    """pg = -mean(log pi(a|s) (G - V)), v = 0.5 mean((V - G)^2) on 4 random states, with and without baseline."""
    import torch

    agent = _agent()
    obs = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    actions, returns = torch.tensor([0, 1, 1, 0]), torch.tensor([1.0, -0.5, 2.0, 0.3])
    with torch.no_grad():
        logprob = torch.distributions.Categorical(logits=agent.actor(obs)).log_prob(actions)
        value = agent.critic(obs).squeeze(-1)
    inputs = {"obs": obs, "actions": actions, "returns": returns}
    for baseline in (True, False):
        advantage = returns - value if baseline else returns
        pg, v = fn(agent, obs, actions, returns, baseline)
        expected = torch.stack([-(logprob * advantage).mean(), 0.5 * ((value - returns) ** 2).mean()])
        expect_close(f"(pg_loss, v_loss), use_baseline={baseline}", torch.stack([pg, v]), expected, inputs, 1e-6)


@case("reinforce_loss")
def baseline_gets_no_policy_gradient(fn):
    """The policy loss alone must not move the critic: its gradient on the critic is exactly 0."""
    import torch

    agent = _agent()
    obs = torch.randn(4, 3, generator=torch.Generator().manual_seed(2))
    pg, _ = fn(agent, obs, torch.tensor([0, 1, 0, 1]), torch.tensor([1.0, 2.0, 3.0, 4.0]), True)
    pg.backward()
    grads = [p.grad for p in agent.critic.parameters()]
    biggest = max((g.abs().max().item() for g in grads if g is not None), default=0.0)
    expect(biggest == 0.0, "the policy loss sends gradient into the critic (baseline not detached)", {}, 0.0, biggest)


@case("compute_gae")
def terminal_in_the_middle_by_hand(fn):
    """One env, 4 steps, episode ends after step 1 (dones[2] = 1), gamma = lambda = 0.5, V = 1..4, next V = 5:
    A = (0.75, -1, -0.125, -0.5) — nothing flows back across the episode boundary."""
    import torch

    rewards, values = torch.ones(4, 1), torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    dones = torch.tensor([[0.0], [0.0], [1.0], [0.0]])
    inputs = {"rewards": rewards, "values": values, "dones": dones, "next_value": 5.0, "next_done": 0.0}
    got = fn(rewards, values, dones, torch.tensor([5.0]), torch.tensor([0.0]), gamma=0.5, gae_lambda=0.5)
    expect_close("advantages", got, torch.tensor([[0.75], [-1.0], [-0.125], [-0.5]]), inputs, 1e-6)


@case("compute_gae")
def fast_sweep_matches_the_slow_loop(fn):
    """12 steps x 3 envs of random rewards, values and dones (float64) against compute_gae_slow, per env."""
    import torch

    from mechlearn.rl.advantages import compute_gae_slow

    rng = np.random.default_rng(3)
    T, E = 12, 3
    r, V = rng.normal(size=(T, E)), rng.normal(size=(T, E))
    d = (rng.random((T, E)) < 0.25).astype(float)
    nv, nd = rng.normal(size=E), (rng.random(E) < 0.5).astype(float)
    fast = fn(*(torch.tensor(x, dtype=torch.float64) for x in (r, V, d, nv, nd)), gamma=0.97, gae_lambda=0.9)
    slow = np.stack([compute_gae_slow(r[:, e], V[:, e], d[:, e], nv[e], nd[e], 0.97, 0.9) for e in range(E)], 1)
    expect_close("advantages", fast, slow, {"rewards": r, "values": V, "dones": d}, 1e-10)


# ---- PPO ------------------------------------------------------------------------------------------------------


@case("clipped_surrogate")
def clipping_table_by_hand(fn):
    """eps = 0.2; (r, A) = (1.1, 2), (1.5, 2), (0.5, 2), (0.5, -2), (1.5, -2), (0.9, -1):
    (2.2, 2.4, 1.0, -1.6, -3.0, -0.9) — the clip bites only where it makes the objective smaller."""
    import torch

    ratio = torch.tensor([1.1, 1.5, 0.5, 0.5, 1.5, 0.9])
    adv = torch.tensor([2.0, 2.0, 2.0, -2.0, -2.0, -1.0])
    expected = torch.tensor([2.2, 2.4, 1.0, -1.6, -3.0, -0.9])
    expect_close("L_clip", fn(ratio, adv, 0.2), expected, {"ratio": ratio, "advantages": adv, "clip_coef": 0.2})


@case("clipped_surrogate")
def gradient_vanishes_only_where_clipped(fn):
    """d/dr is A where r A is chosen and 0 where the clipped constant is."""
    import torch

    ratio = torch.tensor([1.1, 1.5, 0.5, 0.5, 1.5], requires_grad=True)
    adv = torch.tensor([2.0, 2.0, 2.0, -2.0, -2.0])
    fn(ratio, adv, 0.2).sum().backward()
    inputs = {"ratio": ratio, "advantages": adv}
    expect_close("d L / d ratio", ratio.grad, torch.tensor([2.0, 0.0, 2.0, 0.0, -2.0]), inputs, 1e-6)


def _t(*values):
    import torch

    return torch.tensor(values, dtype=torch.float64)


@case("ppo_loss")
def entropy_bonus_by_hand(fn):
    """ent_coef 0.1, vf_coef 0.5, ratio 1, advantages (1, -1): pg 0, L_V 1.25, H 0.6, L = 0.565."""
    from mechlearn.rl.ppo import PPOArgs

    args = PPOArgs(ent_coef=0.1, vf_coef=0.5, norm_adv=False)
    out = fn(_t(1.0, 1.0), _t(0.5, 0.7), _t(1.0, 2.0), _t(1.0, -1.0), _t(0.0, 0.0), _t(1.0, 2.0), args)
    inputs = {"entropy": (0.5, 0.7), "newvalue": (1.0, 2.0), "advantages": (1.0, -1.0), "returns": (0.0, 0.0)}
    expect_close("(loss, pg, v, entropy)", np.array([float(x) for x in out]), np.array([0.565, 0, 1.25, 0.6]), inputs)


@case("ppo_loss")
def value_clipping_by_hand(fn):
    """V_old 1, V 2, eps 0.2: R = 3 gives 0.5 max(1, 3.24) = 1.62; R = 1.5 gives 0.5 max(0.25, 0.09) = 0.125."""
    from mechlearn.rl.ppo import PPOArgs

    args = PPOArgs(clip_coef=0.2, norm_adv=False)
    for R, expected in ((3.0, 1.62), (1.5, 0.125)):
        got = float(fn(_t(1.0), _t(0.0), _t(2.0), _t(0.0), _t(R), _t(1.0), args)[2])
        inputs = {"newvalue": 2.0, "old value": 1.0, "return": R, "clip_coef": 0.2}
        expect(math.isclose(got, expected, abs_tol=1e-9), "clipped value loss", inputs, expected, got)


@case("ppo_loss")
def advantages_normalised_per_minibatch(fn):
    """Advantages (1, 3) normalise to (-1, 1)/sqrt(2) (unbiased std); ratios (1.1, 1): pg loss 0.035355."""
    from mechlearn.rl.ppo import PPOArgs

    got = float(fn(_t(1.1, 1.0), _t(0.0, 0.0), _t(0.0, 0.0), _t(1.0, 3.0), _t(0.0, 0.0), _t(0.0, 0.0), PPOArgs())[1])
    expected = 0.1 / 2**0.5 / 2
    inputs = {"ratio": (1.1, 1.0), "advantages": (1.0, 3.0)}
    expect(math.isclose(got, expected, abs_tol=1e-7), "policy loss with norm_adv", inputs, expected, got)


@case("kl_estimators")
def kl_estimators_by_hand(fn):
    """log r = (ln 2, ln 1/2): k1 = mean(-log r) = 0, k3 = mean((r - 1) - log r) = 0.25."""
    import torch

    logratio = torch.tensor([math.log(2.0), math.log(0.5)], dtype=torch.float64)
    k1, k3 = fn(logratio)
    expect_close("(k1, k3)", np.array([float(k1), float(k3)]), np.array([0.0, 0.25]), {"logratio": logratio}, 1e-12)


@case("explained_variance")
def explained_variance_by_hand(fn):
    """y = (1, 2, 3, 4): perfect 1; constant 2.5 gives 0; residual +-0.5 gives 0.8; constant targets give NaN."""
    y = np.array([1.0, 2.0, 3.0, 4.0])
    got = np.array([fn(y, y), fn(np.full(4, 2.5), y), fn(y - np.array([0.5, -0.5, 0.5, -0.5]), y)])
    expect_close("explained variance", got, np.array([1.0, 0.0, 0.8]), {"y_true": y}, 1e-12)
    nan = fn(y, np.full(4, 3.0))
    expect(isinstance(nan, float) and math.isnan(nan), "constant targets: NaN", {"y_true": np.full(4, 3.0)}, "nan", nan)
