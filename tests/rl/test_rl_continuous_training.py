"""PPO for continuous actions: the probe (learned with the right log-prob, failed with a planted bug), a smoke run,
reproducibility of a short retrain, and the claims day 90 makes from its committed runs."""

import json

import numpy as np
import pytest
import torch
from mechlearn.rl.continuous_checkpoint import load_run, run_name, runs_dir, train_or_load
from mechlearn.rl.evaluation_continuous import quiet_mujoco
from mechlearn.rl.ppo_continuous import ContinuousPPOArgs, train_ppo_continuous
from mechlearn.rl.probes_continuous import PROBE_ARGS, PROBE_ID, log_prob_first_dim_only, train_probe

from mechlearn.artefacts import is_current

quiet_mujoco()  # no MUJOCO_LOG.TXT from the HalfCheetah retrain

MAIN_RUNS = [ContinuousPPOArgs(seed=s, total_timesteps=204_800) for s in (1, 2)]
ABLATION = ContinuousPPOArgs(seed=1, total_timesteps=204_800, norm_obs=False)


def _probe_errors(run):
    err = np.abs(np.array(run["mean_action"]) - np.array(run["target"])).max(0)
    return err, np.array(run["action_std"])


@pytest.mark.slow
def test_probe_is_learned_in_both_action_dims():
    """Both mean coordinates within 0.1 of the optimum o/2 on a grid, and both sigmas below 0.3 (from 1): catches a
    log-prob that is not summed over action dims, a wrong sign in the policy loss, or a sampler/scorer mismatch."""
    err, std = _probe_errors(train_probe(seed=0))
    assert err.max() < 0.1, f"mean action off the optimum by {err}"
    assert std.max() < 0.3, f"sigma did not shrink: {std}"


@pytest.mark.slow
def test_probe_fails_with_the_planted_first_dim_only_log_prob():
    """The negative control: with the log-density of coordinate 0 only, coordinate 1 gets no policy gradient, so its
    mean stays off the optimum and its sigma stays at 1. If this passes the probe above, the probe is too easy."""
    err, std = _probe_errors(train_probe(seed=0, log_prob=log_prob_first_dim_only))
    assert err[1] > 0.3 and std[1] == pytest.approx(1.0)


def test_trainer_smoke_run_logs_every_iteration_and_every_episode():
    """Two tiny iterations on the probe (8 envs x 4 steps, one epoch of one minibatch): one log row per iteration, one
    episode per env step (one-step episodes), no observation statistics when the normaliser is off."""
    tiny = {"total_timesteps": 2 * 8 * 4, "num_envs": 8, "update_epochs": 1, "num_minibatches": 1}
    agent, log, stats = train_ppo_continuous(ContinuousPPOArgs(**(PROBE_ARGS | tiny)))
    assert [row["global_step"] for row in log["iterations"]] == [32, 64]
    assert len(log["episodes"]) == 64 and stats == {}
    assert agent.actor_logstd.shape == (1, 2)


@pytest.mark.slow
def test_short_halfcheetah_retrain_is_reproducible(tmp_path):
    """The same seed gives the same curve and weights twice (4,096 steps): catches an unseeded env, sampler or
    minibatch shuffle. The second call must load the first one's artefact instead of retraining."""
    args = ContinuousPPOArgs(seed=3, total_timesteps=4096)
    w1, log1 = train_or_load(args, tmp_path / "a")
    w2, log2 = train_or_load(args, tmp_path / "b")
    assert [e["return"] for e in log1["episodes"]] == [e["return"] for e in log2["episodes"]]
    for k in w1:
        assert torch.equal(w1[k], w2[k]), k
    w3, _ = train_or_load(args, tmp_path / "a")
    assert torch.equal(w3["actor_logstd"], w1["actor_logstd"])


@pytest.mark.parametrize("args", [*MAIN_RUNS, ABLATION], ids=run_name)
def test_committed_run_is_current_and_spans_its_budget(args):
    """Each committed run was made by the current trainer and covers its whole budget: 100 iterations of 2,048 steps,
    and one 1,000-step HalfCheetah episode per 1,000 steps."""
    stem = runs_dir() / run_name(args)
    for suffix in (".safetensors", ".json"):
        assert is_current(stem.with_suffix(suffix), ["mechlearn.rl.ppo_continuous"]), f"{stem.name}{suffix} is stale"
    _, stats, log = load_run(args)
    assert log["iterations"][-1]["global_step"] == args.total_timesteps
    assert len(log["iterations"]) == args.num_iterations
    assert len(log["episodes"]) == args.total_timesteps // 1000
    assert all(e["length"] == 1000 for e in log["episodes"])
    assert bool(stats) == args.norm_obs


def test_recorded_numbers_match_the_committed_runs():
    """Day 90's recorded final training return (mean of the last 10 episodes, mean over seeds) recomputed from the
    committed logs."""
    results = json.loads((runs_dir() / "results.json").read_text())
    finals = [np.mean([e["return"] for e in load_run(a)[2]["episodes"][-10:]]) for a in MAIN_RUNS]
    assert results["final_train_return_mean"]["value"] == pytest.approx(float(np.mean(finals)), rel=1e-9)


def test_probe_env_id_is_registered():
    import gymnasium as gym

    assert PROBE_ID in gym.registry


def test_day89_probe_claims_match_the_committed_probe_runs():
    """Day 89's recorded probe errors recomputed from its committed probe runs: the correct run within 0.1 of the
    optimum in both dims, the planted-bug run off by more than 0.3 in dim 1 with its sigma still 1."""
    folder = runs_dir().parent / "day-089-gaussian-policies-and-normalisation-wrappers"
    runs = json.loads((folder / "probe_runs.json").read_text())
    results = json.loads((folder / "results.json").read_text())
    err_ok, _ = _probe_errors(runs["correct"])
    err_bug, std_bug = _probe_errors(runs["first dim only"])
    assert results["probe_max_error"]["value"] == pytest.approx(err_ok.max(), rel=1e-12) and err_ok.max() < 0.1
    assert results["probe_bug_error_dim1"]["value"] == pytest.approx(err_bug[1], rel=1e-12) and err_bug[1] > 0.3
    assert std_bug[1] == pytest.approx(1.0)
