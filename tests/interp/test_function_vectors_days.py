"""The claims of days 75–77, checked against the committed ICL model and artefacts; slow: retraining from the seed."""

import json

import pytest
import torch
from mechlearn.interp.function_vectors import random_like, top_heads
from mechlearn.interp.fv_experiments import AIE_DAY, accuracy_with, cached_aie, function_vectors, task_means
from mechlearn.interp.fv_model import FV_DAY, ICLConfig, icl_accuracy, load_icl_model, make_model, train_icl_model
from mechlearn.interp.icl_tasks import TASK_NAMES, icl_batch

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def results(day_folder):
    from mechlearn.interp.fv_model import checkpoint_dir

    return json.loads((checkpoint_dir().parent / day_folder / "results.json").read_text())


@pytest.fixture(scope="module")
def trained():
    return load_icl_model()[0]


def check_icl_claims(model, n: int) -> None:
    for task in TASK_NAMES:
        assert icl_accuracy(model, task, 1, n=n, seed=5) >= 0.95, f"{task}: not solved from one demonstration"
    for task in ("successor", "predecessor"):  # ambiguous without demonstrations: about a coin flip
        assert 0.25 <= icl_accuracy(model, task, 0, n=n, seed=6) <= 0.75, f"{task}: zero-shot is not near chance"
    assert icl_accuracy(model, "copy", 0, n=n, seed=7) <= 0.15, "copy zero-shot should lose to the other tasks"


def test_committed_model_infers_each_task_from_one_demonstration_and_not_from_none(trained):
    check_icl_claims(trained, n=32)
    assert float(results(FV_DAY)["icl_accuracy_k5"]["value"]) >= 0.99


def test_committed_sweep_and_results_say_function_vectors_barely_help():
    """Day 77's claims, read from its committed sweep and recorded results: no (k, layer) lifts zero-shot accuracy
    much, vectors added before block 0 break the model, and the chosen vector beats a random one only slightly."""
    folder = "day-077-function-vectors-adding-a-task-to-a-prompt"
    from mechlearn.interp.fv_model import checkpoint_dir

    sweep = json.loads((checkpoint_dir().parent / folder / "fv_sweep.json").read_text())
    fv = torch.tensor(sweep["fv"]).mean(-1)  # (form, k, layer), mean over tasks
    assert fv[0].max() < 0.65 and fv[1].max() < 0.45, "a function vector recovers the task after all"
    assert fv[:, :, 0].max() < 0.45, "vectors added before block 0 no longer break the model"
    r = {k: float(v["value"]) for k, v in results(folder).items()}
    assert 0 < r["zero_shot_fv"] - r["zero_shot_none"] < 0.1 and r["zero_shot_fv"] > r["zero_shot_random"]
    assert abs(r["shuffled_fv"] - r["shuffled_none"]) < 0.05 and r["transplant_resid2"] < 0.5


@pytest.mark.slow
def test_committed_function_vectors_do_no_better_than_a_random_vector_of_their_norm(trained):
    """Day 77's negative result recomputed on fresh prompts: the vectors stay near the unsteered accuracy."""
    recorded = results("day-077-function-vectors-adding-a-task-to-a-prompt")
    k, layer = int(recorded["fv_k"]["value"]), int(recorded["fv_layer"]["value"])
    ranked = top_heads(cached_aie(trained, 5)["aie"].mean(0), 12)
    fvs = function_vectors(trained, task_means(trained, 5), ranked[:k])
    gen = torch.Generator().manual_seed(8)
    batches = [icl_batch(t, 64, 5, gen, "zero_shot") for t in TASK_NAMES]
    fv = sum(accuracy_with(trained, b, layer, fvs[i]) for i, b in enumerate(batches)) / 5
    rand = sum(accuracy_with(trained, b, layer, random_like(fvs[i], i)) for i, b in enumerate(batches)) / 5
    none = sum(accuracy_with(trained, b, 0, None) for b in batches) / 5
    assert abs(fv - float(recorded["zero_shot_fv"]["value"])) < 0.1, "FV accuracy far from the recorded one"
    assert fv - none < 0.1 and fv - rand < 0.15, f"FV {fv:.3f} now beats none {none:.3f} / random {rand:.3f}"
    assert AIE_DAY.startswith("day-076")


@pytest.mark.slow
def test_retraining_from_the_seed_learns_in_context(tmp_path):
    weights, curve = train_icl_model(ICLConfig(), progress=False)
    check_icl_claims(make_model(ICLConfig(), weights), n=256)
    assert curve["loss"][-1] < 0.3
