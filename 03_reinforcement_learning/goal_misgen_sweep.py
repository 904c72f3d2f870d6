"""The sweep of days 94-95 as a background job: `python -m mechlearn.rl.goal_misgen_sweep WORKER N_WORKERS`.

Runs every (p_random, seed) of `P_RANDOM` x `SEEDS` whose index is WORKER mod N_WORKERS, through the same
`cached_run` (same paths, same DEPENDS_ON) the notebooks call, so the notebooks then only load. p_random = 0 runs
belong to day 94 (weights of seed 1 kept), the others to day 95 (weights of p_random = 0.25, seed 1 kept).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from mechlearn.rl.goal_misgen import P_RANDOM, SEEDS, cached_run

DAY94 = Path(__file__).resolve().parents[1] / "daily_logs" / "day-094-goal-misgeneralisation-in-a-coin-gridworld"
DAY95 = Path(__file__).resolve().parents[1] / "daily_logs" / "day-095-how-much-diversity-fixes-it"
ORDER = [0.0, 0.25, 0.05, 0.1, 0.02]  # the most informative settings first, in case time runs out

if __name__ == "__main__":
    worker, n_workers = int(sys.argv[1]), int(sys.argv[2])
    jobs = [(p, s) for p in ORDER if p in P_RANDOM for s in SEEDS]
    for p, s in jobs[worker::n_workers]:
        start = time.time()
        folder = DAY94 if p == 0.0 else DAY95
        r = cached_run(folder, p, s, keep_agent=(s == 1 and p in (0.0, 0.25)))
        print(
            f"p={p:g} seed={s}: test coin {r['test']['coin']:.3f} old_first {r['test']['old_first']:.3f} "
            f"train-dist coin_reached {r['train_dist']['coin_reached']:.3f} ({time.time() - start:.0f}s)",
            flush=True,
        )
