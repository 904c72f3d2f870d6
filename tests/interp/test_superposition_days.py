"""Days 47-49: dimensionality clusters, correlated/anticorrelated pairs, the neuron basis.

Functions against hand-built answers and slow loops; the days' claims against their committed artefacts; slow:
retraining reproduces the artefacts.
"""

import math
from pathlib import Path

import pytest
import torch
from mechlearn.interp.correlated_pairs import classify_pairs, geometry_shares, pair_cosines, train_pair_models
from mechlearn.interp.dimensionality_clusters import (
    TRAIN_ARGS,
    DimensionalitySweep,
    distance_to_fractions,
    feature_probabilities,
    near_fractions,
    norm_matched_control,
    share_near_fractions,
    train_sweep,
)
from mechlearn.interp.neuron_basis import (
    basis_models_from,
    features_per_neuron,
    neuron_concentration,
    random_rotation,
    rotated,
    train_basis_models,
)
from mechlearn.interp.superposition import NeuronModel, ToyConfig, ToyModel, ToyTrainArgs
from mechlearn.interp.superposition_geometry import dimensions_per_feature
from safetensors.torch import load_file

DAYS = Path(__file__).resolve().parents[2] / "daily_logs"
DAY47 = DAYS / "day-047-feature-dimensionality-features-cluster-at-1-1-2"
DAY48 = DAYS / "day-048-correlated-and-anticorrelated-features"
DAY49 = DAYS / "day-049-neurons-and-a-privileged-basis"


def polygon(k: int) -> torch.Tensor:
    angles = torch.arange(k) * 2 * torch.pi / k
    return torch.stack([angles.cos(), angles.sin()])  # (2, k)


# --- day 47: dimensionality clusters ---------------------------------------------------------------------------


def test_distance_to_fractions_by_hand():
    D = torch.tensor([1.0, 0.41, 0.36, 0.2, 0.0])
    # nearest: 1 -> 0; 0.41 -> 2/5 (0.01); 0.36 -> 3/8 (0.015); 0.2 -> 1/3 (0.1333); 0 -> 1/3
    expected = torch.tensor([0.0, 0.01, 0.015, 1 / 3 - 0.2, 1 / 3])
    assert torch.allclose(distance_to_fractions(D), expected, atol=1e-6), "nearest fraction picked wrongly"


def test_share_near_fractions_counts_only_represented_features():
    """A pentagon in dims 0-1 (D = 2/5, on a fraction), five identical unit features along dim 2 (D = 1/5 each, off)
    and one feature of norm 0.1 (not represented): the share is 5 of the 10 represented features."""
    W = torch.zeros(1, 3, 11)
    W[0, :2, :5] = polygon(5)
    W[0, 2, 5:10] = 1.0  # five identical unit features along one axis: D = 1/5 each, not on a fraction
    W[0, 0, 10] = 0.1  # not represented (norm < 0.5), must not count
    share = share_near_fractions(W, tol=0.03)
    assert share.item() == pytest.approx(5 / 10), "share must be over the 10 represented features, 5 of them at 2/5"
    W_none = torch.zeros(1, 2, 3)
    assert math.isnan(share_near_fractions(W_none).item()), "no represented feature: the share is undefined (nan)"


def test_norm_matched_control_keeps_norms_and_randomises_directions():
    W = torch.zeros(2, 20, 50)
    W[:, 0, :] = torch.linspace(0.1, 2, 50)  # all along one axis: trained-like structure the control must remove
    control = norm_matched_control(W, torch.Generator().manual_seed(0))
    assert torch.allclose(control.norm(dim=1), W.norm(dim=1), atol=1e-5), "column norms must be kept"
    cos = (control[:, 0, :] / control.norm(dim=1)).abs().mean().item()
    assert cos < 0.4, f"directions should be random (mean |cos| with axis 0 ~ 0.18), got {cos:.2f}"


def test_feature_probabilities_span_dense_to_p_min():
    p = feature_probabilities(DimensionalitySweep(n_inst=5, p_min=0.05))
    assert p[0] == 1 and p[-1] == pytest.approx(0.05) and torch.all(p[1:] < p[:-1])


def test_day47_sweep_artefact_claims():
    sweep = load_file(str(DAY47 / "dimensionality_sweep.safetensors"))
    W = sweep["W"]
    assert W.shape == (16, 20, 200)
    dpf = dimensions_per_feature(W)
    assert dpf[0] > 0.95 and dpf[-1] < 0.2, "dimensions per feature should fall from ~1 (dense) to below 0.2"
    plateau = dpf[(1 / sweep["p"] > 2) & (1 / sweep["p"] < 3.5)]
    assert (plateau - 0.5).abs().max() < 0.06, f"no plateau at 1/2: {plateau}"
    dense = dpf >= 1 / 3
    control = norm_matched_control(W, torch.Generator().manual_seed(47))

    def pooled(W_, tol):  # over all represented features of the models with dims/feature >= 1/3, as day 47 pools
        near, kept = near_fractions(W_[dense], tol)
        return near.sum().item() / kept.sum().item()

    assert pooled(W, 0.03) > 0.8 and pooled(W, 0.03) > pooled(control, 0.03) + 0.2, "no clustering at ±0.03"
    assert pooled(W, 0.01) > pooled(control, 0.01) + 0.4, "no clustering at ±0.01"


@pytest.mark.slow
def test_day47_sweep_retrains_to_the_artefact():
    sweep = load_file(str(DAY47 / "dimensionality_sweep.safetensors"))
    fresh = train_sweep(DimensionalitySweep(), TRAIN_ARGS, progress=False)
    assert torch.allclose(fresh["W"], sweep["W"], atol=1e-4), "training is seeded: retraining must reproduce W"


# --- day 48: correlated and anticorrelated pairs --------------------------------------------------------------


def test_pair_cosines_against_a_loop():
    W = torch.randn(3, 2, 4, generator=torch.Generator().manual_seed(0))
    fast = pair_cosines(W)
    for inst in range(3):
        for k, (a, b) in enumerate(((0, 1), (2, 3))):
            slow = torch.dot(W[inst, :, a], W[inst, :, b]) / (W[inst, :, a].norm() * W[inst, :, b].norm())
            assert fast[inst, k].item() == pytest.approx(slow.item(), abs=1e-6), "wrong features paired or summed"


def test_classify_pairs_by_hand():
    W = torch.tensor(
        [
            [[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.2]],
            [[1.0, 0.0, 0.6, 0.6], [0.0, 1.0, 0.8, 0.8]],
            [[1.0, 0.85, 1.0, -0.85], [0.0, 0.5268, 0.0, 0.5268]],  # cosines 0.85 and -0.85: near, not within 0.1
        ]
    )
    labels = classify_pairs(W)  # tol 0.1: antipodal needs c <= -0.9, collapsed c >= 0.9
    assert labels == [["antipodal", "dropped"], ["orthogonal", "collapsed"], ["other", "other"]]
    shares = geometry_shares(labels)
    assert shares["other"] == pytest.approx(2 / 6) and sum(shares.values()) == pytest.approx(1)


def test_anticorrelated_pairs_never_co_occur_and_correlated_always_do():
    g = torch.Generator().manual_seed(0)
    for kw, check in (
        ({"n_anticorrelated_pairs": 2}, lambda on: not (on[:, 0] & on[:, 1]).any()),
        ({"n_correlated_pairs": 2}, lambda on: torch.equal(on[:, 0], on[:, 1])),
    ):
        model = ToyModel(ToyConfig(n_inst=1, n_features=4, d_hidden=2, **kw), feature_probability=0.5)
        on = model.generate_batch(2000, g)[:, 0] > 0
        assert check(on), f"pair coupling broken for {kw}"


def test_train_pair_models_rejects_unknown_kind():
    with pytest.raises(ValueError):
        train_pair_models("uncorrelated", torch.tensor([0.1]), 1, ToyTrainArgs(steps=1), progress=False)


PAIR_TOL = 0.2  # day 48's cosine tolerance for the labels
PAIR_P = {"anticorrelated": [1.0, 0.6, 0.3, 0.1], "correlated": [0.3, 0.1, 0.03, 0.01]}


def _pair_shares(name: str, n_seeds: int = 10) -> list[dict[str, float]]:
    W = load_file(str(DAY48 / f"{name}.safetensors"))["W"]
    labels = classify_pairs(W, tol=PAIR_TOL)
    return [geometry_shares(labels[k * n_seeds : (k + 1) * n_seeds]) for k in range(W.shape[0] // n_seeds)]


def test_day48_anticorrelated_pairs_are_antipodal_more_than_control():
    model, control = _pair_shares("anticorrelated"), _pair_shares("anticorrelated_control")
    assert model[0]["antipodal"] == 1.0, "at p = 1 every anticorrelated pair should be antipodal"
    mean = sum(s["antipodal"] for s in model) / len(model)
    mean_control = sum(s["antipodal"] for s in control) / len(control)
    assert mean > mean_control + 0.2, f"antipodal share {mean:.2f} vs control {mean_control:.2f}"


def test_day48_antipodal_anticorrelated_instances_have_the_lowest_loss():
    run = load_file(str(DAY48 / "anticorrelated.safetensors"))
    labels = classify_pairs(run["W"], tol=PAIR_TOL)
    both = torch.tensor([row == ["antipodal", "antipodal"] for row in labels])
    at_06 = slice(10, 20)  # p = 0.6: both kinds of outcome occur
    antipodal, other = run["final_loss"][at_06][both[at_06]], run["final_loss"][at_06][~both[at_06]]
    assert len(antipodal) and len(other) and antipodal.max() < other.min(), "antipodal should be the better optimum"


def test_day48_correlated_pairs_are_never_antipodal_and_orthogonal_when_sparse():
    model, control = _pair_shares("correlated"), _pair_shares("correlated_control")
    assert all(s["antipodal"] == 0 for s in model), "a correlated pair placed antipodally collides every time"
    assert sum(s["antipodal"] for s in control) / len(control) > 0.15, "the control should pair features at random"
    sparse = [s["orthogonal"] for s in model[2:]]  # p = 0.03, 0.01
    sparse_control = [s["orthogonal"] for s in control[2:]]
    assert min(sparse) >= 0.8 and sum(sparse) > sum(sparse_control), f"orthogonal {sparse} vs {sparse_control}"
    assert model[0]["collapsed"] >= 0.3, "at p = 0.3 correlated pairs should often merge into one direction"


@pytest.mark.slow
def test_day48_pairs_retrain_to_the_artefacts():
    args = ToyTrainArgs(steps=2000, batch_size=512, lr=3e-3)
    for name, kind, which in (
        ("anticorrelated", "anticorrelated", "anticorrelated"),
        ("anticorrelated_control", "independent-p/2", "anticorrelated"),
        ("correlated", "correlated", "correlated"),
        ("correlated_control", "independent-p", "correlated"),
    ):
        fresh = train_pair_models(kind, torch.tensor(PAIR_P[which]), 10, args, seed=48, progress=False)
        stored = load_file(str(DAY48 / f"{name}.safetensors"))
        assert torch.allclose(fresh["W"], stored["W"], atol=1e-4), f"{name}: seeded training must reproduce W"


# --- day 49: the neuron basis ---------------------------------------------------------------------------------


def test_neuron_measures_by_hand():
    W = torch.tensor([[[0.0, 3.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], [3.0, -4.0, 0.0, 0.0]]])  # (1 inst, 3 neurons, 4)
    assert torch.allclose(neuron_concentration(W), torch.tensor([[1.0, 0.5, 0.8]]), atol=1e-6)
    # participation ratio: one feature -> 1; four equal -> 4; (9 + 16)^2 / (81 + 256) = 625 / 337
    assert torch.allclose(features_per_neuron(W), torch.tensor([[1.0, 4.0, 625 / 337]]), atol=1e-5)


def test_random_rotation_is_orthogonal_and_not_always_a_reflection():
    g = torch.Generator().manual_seed(0)
    dets = []
    for _ in range(20):
        R = random_rotation(5, g)
        assert torch.allclose(R @ R.T, torch.eye(5), atol=1e-5), "not orthogonal"
        dets.append(torch.det(R).sign().item())
    assert set(dets) == {-1.0, 1.0}, "Haar measure on O(5) gives both signs of the determinant"


def _batch_loss(model, x):
    return model.loss_per_instance(x, model(x))


def test_rotating_the_hidden_space_changes_only_the_neuron_model():
    cfg = ToyConfig(n_inst=3, n_features=6, d_hidden=3)
    g = torch.Generator().manual_seed(0)
    R = torch.stack([random_rotation(3, g) for _ in range(3)])
    x = ToyModel(cfg, feature_probability=0.3).generate_batch(4096, g)
    linear, neuron = ToyModel(cfg, seed=1), NeuronModel(cfg, seed=1)
    with torch.no_grad():
        for m in (linear, neuron):
            m.b_final.fill_(-0.1)
        before_l, after_l = _batch_loss(linear, x), _batch_loss(rotated(linear, R), x)
        before_n, after_n = _batch_loss(neuron, x), _batch_loss(rotated(neuron, R), x)
    assert torch.allclose(before_l, after_l, rtol=1e-5), "W^T W is rotation invariant: the linear loss must not move"
    assert ((after_n - before_n).abs() > 1e-3).all(), "ReLU(RWx) != R ReLU(Wx): the neuron loss must change"
    assert torch.equal(neuron.W, rotated(neuron, torch.eye(3).expand(3, 3, 3)).W), "identity rotation must be a no-op"


BASIS_P = torch.tensor([0.75, 0.35, 0.15, 0.1, 0.06, 0.02, 0.01])


@pytest.fixture(scope="module")
def basis():
    return load_file(str(DAY49 / "basis_models.safetensors"))


def test_day49_rotation_changes_only_the_trained_neuron_models(basis):
    models = basis_models_from(basis)
    g = torch.Generator().manual_seed(0)
    R = torch.stack([random_rotation(5, g) for _ in range(len(basis["p"]))])
    x = models["neuron"].generate_batch(2048, g)
    with torch.no_grad():
        ratio = {name: _batch_loss(rotated(m, R), x) / _batch_loss(m, x) for name, m in models.items()}
    assert (ratio["linear"] - 1).abs().max() < 1e-4, "the linear-hidden loss must be rotation invariant"
    assert (ratio["neuron"] > 1.5).all(), f"rotating neurons should cost loss, min ratio {ratio['neuron'].min():.2f}"


def test_day49_dense_neurons_are_monosemantic_and_sparse_ones_polysemantic(basis):
    n_p = len(BASIS_P)
    conc = {k: neuron_concentration(basis[f"W_{k}"]).reshape(n_p, -1) for k in ("neuron", "linear")}
    mono = {k: (v[:2] > 0.9).float().mean().item() for k, v in conc.items()}
    assert mono["neuron"] > 0.5 and mono["neuron"] > mono["linear"] + 0.3, f"monosemantic share {mono}"
    fpn = features_per_neuron(basis["W_neuron"]).reshape(n_p, -1).mean(1)
    assert fpn[0] < 2 and fpn[-1] > 4, f"features per neuron should grow with sparsity: {fpn.tolist()}"


@pytest.mark.slow
def test_day49_basis_models_retrain_to_the_artefact(basis):
    fresh = train_basis_models(BASIS_P, 6, ToyTrainArgs(steps=3000, batch_size=512, lr=3e-3), seed=49, progress=False)
    for key in ("W_neuron", "W_linear"):
        assert torch.allclose(fresh[key], basis[key], atol=1e-4), f"{key}: seeded training must reproduce W"
