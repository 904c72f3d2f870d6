"""Day 90's committed HalfCheetah runs: trained once (in the background or by the notebook), loaded by the day and
its tests.

`train_or_load` caches a run as two artefacts in the day's folder, keyed on the trainer's code (`DEPENDS_ON`):
the weights and observation statistics as safetensors, and the log (learning curve, diagnostics) as JSON.
Editing this module retrains nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from mechlearn.rl.continuous import GaussianAgent, agent_from_state_dict
from mechlearn.rl.ppo_continuous import ContinuousPPOArgs, train_ppo_continuous
from safetensors.torch import load_file

from mechlearn.artefacts import cached_json, cached_tensors

RUNS_DAY = "day-090-ppo-on-halfcheetah-at-one-million-steps"
DEPENDS_ON = ["mechlearn.rl.ppo_continuous"]


def runs_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "daily_logs" / RUNS_DAY


def run_name(args: ContinuousPPOArgs) -> str:
    """File stem of a run: env, seed, budget, and the normalisers left out (if any)."""
    off = "".join(f"_no-{k}" for k in ("norm_obs", "norm_reward") if not asdict(args)[k])
    return f"ppo_{args.env_id}_seed{args.seed}_{args.total_timesteps // 1000}k{off}"


def train_or_load(args: ContinuousPPOArgs, folder: Path | None = None, progress: bool = False) -> tuple[dict, dict]:
    """(weights and observation statistics, log) of the run `args`, from `folder` if current, else trained now."""
    folder = runs_dir() if folder is None else Path(folder)
    stem = folder / run_name(args)
    made: dict = {}

    def make_weights() -> dict:
        agent, made["log"], stats = train_ppo_continuous(args, progress=progress)
        tensors = {k: v.detach().clone() for k, v in agent.state_dict().items()}
        tensors |= {k: torch.tensor(np.asarray(v), dtype=torch.float64) for k, v in stats.items()}
        return tensors

    weights = cached_tensors(stem.with_suffix(".safetensors"), make_weights, DEPENDS_ON)
    if made:  # just trained: an older log belongs to older weights
        stem.with_suffix(".json").unlink(missing_ok=True)
    log = cached_json(stem.with_suffix(".json"), lambda: made["log"], DEPENDS_ON)
    return weights, log


def load_run(args: ContinuousPPOArgs, folder: Path | None = None) -> tuple[GaussianAgent, dict, dict]:
    """The committed run: (agent, observation statistics, log), without checking provenance."""
    folder = runs_dir() if folder is None else Path(folder)
    stem = folder / run_name(args)
    tensors = load_file(str(stem.with_suffix(".safetensors")))
    stats = {k: tensors[k].numpy() for k in ("obs_mean", "obs_var", "obs_count") if k in tensors}
    return agent_from_state_dict(tensors), stats, json.loads(stem.with_suffix(".json").read_text())
