"""Bracket data (labels, failure classes, generator) and the model's padding mask."""

import random

import pytest
import torch
from mechlearn.interp.brackets import (
    CLASSES,
    END,
    PAD,
    START,
    failure_class,
    is_balanced,
    make_dataset,
    tokenize,
    train_test_split,
)
from mechlearn.interp.brackets_model import BracketsConfig, class_logits, make_model

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def balanced_by_stack(s: str) -> bool:
    """The slow reference: push on '(', pop on ')', fail on popping an empty stack, succeed if it ends empty."""
    stack = []
    for c in s:
        if c == "(":
            stack.append(c)
        elif not stack:
            return False
        else:
            stack.pop()
    return not stack


def test_label_matches_a_stack_on_every_string_up_to_length_10_and_on_random_long_ones():
    every_short = [format(i, f"0{n}b").replace("0", "(").replace("1", ")") for n in range(11) for i in range(2**n)]
    every_short[0] = ""
    rng = random.Random(0)
    long = ["".join(rng.choice("()") for _ in range(rng.randint(11, 40))) for _ in range(500)]
    wrong = [s for s in every_short + long + make_dataset(500, seed=3) if is_balanced(s) != balanced_by_stack(s)]
    assert not wrong, f"label disagrees with the stack (e.g. prefix check or end check missing): {wrong[:3]}"


@pytest.mark.parametrize(
    "s, cls",
    [
        ("", "balanced"),
        ("(())()", "balanced"),
        ("())(()", "negative_prefix"),  # total 0, dips to -1 after three characters
        (")(", "negative_prefix"),
        ("(()", "unclosed"),
        ("(((", "unclosed"),
        ("())", "both"),
        (")((", "both"),  # ends at +1 but went negative first: not 'unclosed'
        ("(()))(", "negative_prefix"),
    ],
)
def test_failure_class_of_hand_written_strings(s, cls):
    assert failure_class(s) == cls, f"{s!r}: the two checks (end at zero, never negative) are mixed up"


def test_generator_is_seeded_covers_every_class_and_respects_max_length():
    data = make_dataset(400, seed=7)
    assert data == make_dataset(400, seed=7), "generator not reproducible from its seed"
    assert {failure_class(s) for s in data} == set(CLASSES), "a failure class is never generated"
    assert max(map(len, data)) <= 40 and min(map(len, data)) >= 1
    hard = [s for s in data if failure_class(s) == "negative_prefix" and min(_elev(s)) == -1]
    assert len(hard) > 20, "the single-dip hard cases are not over-represented"


def _elev(s):
    e, out = 0, []
    for c in s:
        e += 1 if c == "(" else -1
        out.append(e)
    return out


def test_held_out_strings_never_occur_in_training():
    train, test = train_test_split(500, 50, seed=0)
    assert len(test) == 50 and not set(train) & set(test), "held-out set leaks into training"


def test_tokenize_layout():
    t = tokenize(["(()", ""], n_ctx=6)
    assert t.tolist() == [[START, 3, 3, 4, END, PAD], [START, END, PAD, PAD, PAD, PAD]]


def test_padding_content_cannot_change_the_output():
    """Noise added to the embeddings of [PAD] positions must not reach the real positions (mask not applied)."""
    model = make_model(BracketsConfig(d_model=8, d_head=4, d_mlp=8))
    tokens = tokenize(["(()())", "))", "((((((((((()"], n_ctx=20)
    pad = tokens == PAD
    noise = torch.randn(*tokens.shape, 8, generator=torch.Generator().manual_seed(0)) * pad[..., None]

    def scramble_padding(embed, hook):
        return embed + 10 * noise

    with torch.no_grad():
        plain = model(tokens)
        scrambled = model.run_with_hooks(tokens, fwd_hooks=[("hook_embed", scramble_padding)])
        cut = class_logits(model, tokens[:, :14])  # the longest string is 12 + 2 tokens
    real = ~pad
    assert not torch.allclose(plain[pad], scrambled[pad]), "the noise did not reach the padded positions"
    assert torch.allclose(plain[real], scrambled[real], atol=1e-5), "padding leaks into the real positions"
    assert torch.allclose(plain[:, 0], cut, atol=1e-5), "trailing padding changes the [START] output"
