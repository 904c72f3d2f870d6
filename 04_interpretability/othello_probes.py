"""Linear probes for the Othello board in OthelloGPT's residual stream (Li et al. 2023; Nanda, Lee & Wattenberg 2023).

A board probe is 64 independent multinomial logistic regressions, one per square, sharing the input
$x \\in \\mathbb{R}^{d}$: $p(y_s = c \\mid x) = \\mathrm{softmax}_c(x W_{:, s, :} + b_{s, :})$, 3 classes per
square. Two labellings are compared: *relative* (empty / mine / theirs, "mine" = the side about to move) and
*colour* (empty / black / white). The objective
$\\sum_s \\frac1N \\sum_n \\mathrm{CE}(x_n W_{:,s,:} + b_s, y_{ns}) + \\lambda \\lVert W \\rVert^2$
separates over squares, so one L-BFGS run on all 64 at once finds the same optimum as 64 separate fits
(`mechlearn.interp.probes.train_probe`, the reference in day 67 and the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, Int
from mechlearn.interp.othello import colour_labels, relative_labels, replay
from mechlearn.interp.othello_model import games_to_tokens
from torch import Tensor
from transformer_lens import HookedTransformer


def hook_names(n_layers: int) -> list[str]:
    """The embedding (input to block 0) and the output of every block."""
    return ["blocks.0.hook_resid_pre"] + [f"blocks.{layer}.hook_resid_post" for layer in range(n_layers)]


def residuals(model: HookedTransformer, games: np.ndarray, batch: int = 250) -> Float[Tensor, "hook n pos d"]:
    """The residual stream at every `hook_names` point after each of the first 59 moves."""
    names = hook_names(model.cfg.n_layers)
    tokens = games_to_tokens(games)[:, :59]
    out = []
    with torch.no_grad():
        for i in range(0, len(tokens), batch):
            _, cache = model.run_with_cache(tokens[i : i + batch], names_filter=lambda n: n in names)
            out.append(torch.stack([cache[n] for n in names]))
    return torch.cat(out, dim=1)


def board_labels(games: np.ndarray) -> dict[str, Int[Tensor, "n pos 64"]]:
    """Per position (after moves 1..59) and square: relative (0 empty, 1 mine, 2 theirs) and colour labels."""
    r = replay(games[:, :59])
    return {
        "relative": torch.from_numpy(relative_labels(r["board"], r["next_player"])),
        "colour": torch.from_numpy(colour_labels(r["board"])),
    }


@dataclass
class BoardProbe:
    W: Float[Tensor, "d 64 3"]  # applies to raw activations
    b: Float[Tensor, "64 3"]
    accuracy: float  # held-out, over all squares
    accuracy_nonempty: float  # held-out, over squares that hold a disc
    per_square: Float[Tensor, " 64"]  # held-out accuracy of each square

    def predict(self, x: Float[Tensor, "n d"]) -> Int[Tensor, "n 64"]:
        return (torch.einsum("nd,dsc->nsc", x, self.W) + self.b).argmax(-1)


def fit_board_probe(
    x_train: Float[Tensor, "n d"],
    y_train: Int[Tensor, "n 64"],
    x_test: Float[Tensor, "m d"],
    y_test: Int[Tensor, "m 64"],
    l2: float = 1e-3,
    max_iter: int = 60,
) -> BoardProbe:
    """Fit all 64 square probes at once (standardised inputs, as `probes.train_probe` does) and score them."""
    x_train, x_test = x_train.float(), x_test.float()  # float32: L-BFGS to 1e-4 accuracy is plenty here
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-8
    z = (x_train - mu) / sd
    d = z.shape[1]
    W = torch.zeros(d, 64, 3, requires_grad=True)
    b = torch.zeros(64, 3, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        logits = torch.einsum("nd,dsc->nsc", z, W) + b  # (n, 64, 3)
        # sum over squares of each square's mean cross-entropy, so each square sees train_probe's objective
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y_train.flatten()) * 64 + l2 * (W**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    W_raw = (W / sd[:, None, None]).detach()
    b_raw = (b - torch.einsum("d,dsc->sc", mu / sd, W)).detach()
    probe = BoardProbe(W_raw, b_raw, 0.0, 0.0, torch.zeros(64))
    correct = probe.predict(x_test) == y_test  # (m, 64)
    probe.accuracy = correct.double().mean().item()
    probe.accuracy_nonempty = correct[y_test != 0].double().mean().item()
    probe.per_square = correct.double().mean(0).float()
    return probe


def split_positions(acts: Tensor, labels: Tensor, n_train_games: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(x_train, y_train, x_test, y_test): the first `n_train_games` games train, the rest test (split by game)."""
    x, y = acts.flatten(0, 1), labels.flatten(0, 1)  # (games * pos, d), (games * pos, 64)
    cut = n_train_games * acts.shape[1]
    return x[:cut], y[:cut], x[cut:], y[cut:]


def shuffled(labels: Int[Tensor, "n pos 64"], seed: int = 0) -> Int[Tensor, "n pos 64"]:
    """The shuffled-label control: whole boards permuted across (game, position) examples, so each square keeps
    its label frequencies but loses any relation to the activation."""
    flat = labels.flatten(0, 1)
    perm = torch.randperm(len(flat), generator=torch.Generator().manual_seed(seed))
    return flat[perm].view_as(labels)
