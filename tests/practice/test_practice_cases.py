"""Every exercise's cases against the package's own implementation, and planted bugs the cases must catch.

The catalogue is the one declaration of which functions are exercises and which cases judge them; this file runs
every registered case against the package, so the exercises, the package and these tests cannot drift apart.
"""

import hashlib
import importlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from mechlearn.entries import entry_dirs
from mechlearn.practice.cases import cases_for
from mechlearn.practice.catalogue import EXERCISES, PACKAGE_TOPICS, get
from mechlearn.practice.runner import format_result, original, patched, run_cases

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: extra intra-op threads only contend on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def package_sources() -> dict[str, str]:
    """A hash of every module an exercise targets."""
    files = sorted({Path(importlib.import_module(e.module).__file__) for e in EXERCISES})
    return {str(p.relative_to(REPO)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_at_least_thirty_exercises_across_the_four_implemented_topics():
    by_topic = {t: [e for e in EXERCISES if e.topic == t] for t in PACKAGE_TOPICS.values()}
    assert len(EXERCISES) >= 30 and all(len(v) >= 5 for v in by_topic.values()), {
        t: len(v) for t, v in by_topic.items()
    }
    assert len({e.name for e in EXERCISES}) == len(EXERCISES), "two exercises share a name"
    assert all(e.difficulty in (1, 2, 3) and e.summary for e in EXERCISES)


def test_every_case_passes_against_the_package_and_leaves_it_unchanged():
    """The package's own implementation clears every exercise; running the cases writes no package file and
    leaves every patched attribute as it was."""
    before = package_sources()
    failed = {}
    for exercise in EXERCISES:
        impl = original(exercise)
        assert callable(impl), f"{exercise.target} is not a function"
        assert cases_for(exercise), f"{exercise.name} has no cases"
        result = run_cases(exercise, impl)
        if not result.accepted:
            failed[exercise.name] = format_result(result)
        assert original(exercise) is impl, f"{exercise.name}: the package's attribute was not restored"
    assert not failed, "\n\n".join(failed.values())
    assert package_sources() == before, "running the cases changed a package file"


def test_every_exercise_day_exists_and_is_on_its_topic():
    folders = {int(p.name[4:7]): p for p in entry_dirs(REPO)}
    for exercise in EXERCISES:
        assert exercise.day in folders, f"{exercise.name}: day {exercise.day} has no entry"
        with open(folders[exercise.day] / "index.ipynb", encoding="utf-8") as f:
            head = f.read(4000)  # the front matter is the first cell (reading whole notebooks costs 0.5 s)
        topic = re.search(r"categories: \[(\w+)", head)[1]
        assert topic == exercise.topic, f"{exercise.name}: day {exercise.day} is on {topic}, not {exercise.topic}"


# ---- planted bugs: a wrong implementation fails, and the verdict shows the failing case -----------------------


def unbroadcast_without_keepdims(grad, shape):
    n_new = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(n_new)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched) if stretched else grad  # drops the axis it should keep


def softmax_without_the_max_shift(x, axis=-1):
    from mechlearn.backprop.tensor import Tensor

    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x.data)
        s = e / e.sum(axis=axis, keepdims=True)
    return Tensor._make(s, (x,), lambda g: (s * (g - (g * s).sum(axis=axis, keepdims=True)),), "softmax")


def matmul_forgetting_to_unbroadcast(self, other):
    from mechlearn.backprop.tensor import Tensor

    a, b = self, self._lift(other)

    def backward(g):
        return g @ np.swapaxes(b.data, -1, -2), np.swapaxes(a.data, -1, -2) @ g  # batch axes left in

    return Tensor._make(a.data @ b.data, (a, b), backward, "@")


def adam_without_bias_correction(self, i, theta, g):
    theta, g = self._decay(theta, g)
    self.m[i] = self.beta1 * self.m[i] + (1 - self.beta1) * g
    self.v[i] = self.beta2 * self.v[i] + (1 - self.beta2) * g**2
    return theta - self.lr * self.m[i] / (np.sqrt(self.v[i]) + self.eps)


def causal_mask_hiding_the_diagonal(scores, offset=0):
    from mechlearn.transformers.attention import IGNORE

    q, k = scores.shape[-2:]
    mask = torch.arange(k)[None, :] >= torch.arange(offset, offset + q)[:, None]
    return scores.masked_fill(mask, IGNORE)


def top_p_keeping_one_too_many(logits, p):
    probs, order = logits.softmax(dim=-1).sort(dim=-1, descending=True)
    keep_sorted = probs.cumsum(dim=-1) - probs <= p
    return torch.zeros_like(keep_sorted).scatter_(1, order, keep_sorted)


def gae_ignoring_dones(rewards, values, dones, next_value, next_done, gamma, gae_lambda):
    advantages, last = torch.zeros_like(rewards), torch.zeros_like(next_value)
    for t in reversed(range(rewards.shape[0])):
        next_v = next_value if t == rewards.shape[0] - 1 else values[t + 1]
        last = rewards[t] + gamma * next_v - values[t] + gamma * gae_lambda * last
        advantages[t] = last
    return advantages


def clipped_surrogate_with_max(ratio, advantages, clip_coef):
    return torch.max(ratio * advantages, torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef) * advantages)


def induction_score_off_by_one(pattern, seq_len):
    from mechlearn.interp.scores import mean_attention_at_offset

    return mean_attention_at_offset(pattern, offset=seq_len, first_query=seq_len + 1)  # the duplicate token


PLANTED = {
    "unbroadcast": (unbroadcast_without_keepdims, "sums_stretched_axes_keeping_them"),
    "softmax": (softmax_without_the_max_shift, "softmax_is_stable_for_huge_logits"),
    "Tensor.__matmul__": (matmul_forgetting_to_unbroadcast, "batched_with_broadcast_batch_axes"),
    "Adam._update": (adam_without_bias_correction, "adam_matches_torch"),
    "causal_mask": (causal_mask_hiding_the_diagonal, "hides_the_future"),
    "top_p_mask": (top_p_keeping_one_too_many, "top_p_stops_when_the_mass_before_reaches_p"),
    "compute_gae": (gae_ignoring_dones, "terminal_in_the_middle_by_hand"),
    "clipped_surrogate": (clipped_surrogate_with_max, "clipping_table_by_hand"),
    "induction_score": (induction_score_off_by_one, "scores_one_on_its_rule_only"),
}


@pytest.mark.parametrize("name", PLANTED)
def test_a_planted_bug_fails_and_the_first_failure_is_shown(name):
    wrong, first_failing = PLANTED[name]
    exercise = get(name)
    result = run_cases(exercise, wrong)
    text = format_result(result)
    assert not result.accepted, f"{name}: the planted bug passed every case"
    assert text.startswith(f"Wrong Answer: {name} — {result.passed}/{len(result.outcomes)} cases passed")
    assert f"First failing case: {first_failing}" in text, text
    assert "\n  expected  " in text and "\n  got       " in text and "\n  input     " in text, text
    assert len(text.splitlines()) <= 24, "the verdict must fit one screen"
    assert original(exercise) is not wrong, "the package's function was not restored"


def test_a_stub_is_reported_as_not_implemented_in_one_line():
    def stub(grad, shape):
        raise NotImplementedError

    text = format_result(run_cases(get("unbroadcast"), stub), "practice/unbroadcast.py")
    assert text == (
        "unbroadcast: not implemented yet: replace the `raise NotImplementedError` in practice/unbroadcast.py, "
        "then check again"
    )


def test_an_exception_in_the_learners_code_is_one_line_naming_it():
    def broken(grad, shape):
        return grad.nosuch

    text = format_result(run_cases(get("unbroadcast"), broken))
    assert "  raised    AttributeError: 'numpy.ndarray' object has no attribute 'nosuch'" in text
    assert "Traceback" not in text


def test_patching_reaches_names_imported_elsewhere_and_is_undone():
    """`from mechlearn.backprop.tensor import unbroadcast` in mechlearn.backprop must see the substitute too."""
    import mechlearn.backprop as backprop
    import mechlearn.backprop.tensor as tensor

    def fake(grad, shape):
        return grad

    with patched(get("unbroadcast"), fake):
        assert tensor.unbroadcast is fake and backprop.unbroadcast is fake
    assert tensor.unbroadcast is backprop.unbroadcast is original(get("unbroadcast"))
