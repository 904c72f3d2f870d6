"""Byte-pair encoding against Hugging Face `tokenizers` (the library that trains GPT-2-style BPE for real), a slow
recount, and round trips on text the tokenizer never saw."""

import json
from collections import Counter

import pytest
from mechlearn.transformers.bpe import PATTERN, BPETokenizer, _merge, base_vocab, bytes_to_unicode, chunks
from mechlearn.transformers.training import corpus_text

TEXT = corpus_text()[:40_000]
HELD_OUT = corpus_text()[-5_000:]


def hf_bpe(text: str, vocab_size: int):
    """The same settings in `tokenizers`: our chunking regex, then GPT-2's byte-to-character map, all 256 bytes in
    the initial alphabet, no minimum frequency, no special tokens."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=0,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        special_tokens=[],
    )
    tok.train_from_iterator([text], trainer)
    return tok


@pytest.fixture(scope="module")
def ours():
    return BPETokenizer.train(TEXT, 400)


def test_merges_vocabulary_and_ids_equal_hugging_face(ours):
    """Catches a wrong pair count, a wrong tie-break (ids by byte value instead of GPT-2's character order) and a
    merge applied to overlapping pairs: any of them changes at least one of the 144 merges."""
    hf = hf_bpe(TEXT, 400)
    model = json.loads(hf.to_str())["model"]
    hf_merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    our_merges = [(ours.token_str(a), ours.token_str(b)) for a, b in ours.merges]
    assert our_merges == hf_merges, "merges differ from tokenizers' BpeTrainer"
    assert {ours.token_str(i): i for i in range(len(ours.vocab))} == model["vocab"], "token ids differ"
    assert ours.encode(HELD_OUT) == hf.encode(HELD_OUT).ids, "encoding of held-out text differs from tokenizers'"


def test_incremental_counts_equal_a_full_recount_every_step():
    """The trainer updates pair counts only in words that contain the merged pair; recounting everything before
    each merge (slow, obviously right) must choose the same merges."""
    text = TEXT[:6_000]
    byte_id = {v[0]: i for i, v in enumerate(base_vocab())}
    counts = Counter(chunks(text))
    words = {tuple(byte_id[b] for b in w.encode()): n for w, n in counts.items()}
    merges = []
    for new_id in range(256, 300):
        pairs = Counter()
        for ids, n in words.items():
            for pair in zip(ids, ids[1:], strict=False):
                pairs[pair] += n
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        merged = Counter()
        for ids, n in words.items():
            merged[_merge(ids, best, new_id)] += n
        words = merged
    assert BPETokenizer.train(text, 300).merges == merges


def test_merge_is_left_to_right_and_never_overlaps():
    assert _merge((1, 1, 1), (1, 1), 9) == (9, 1)
    assert _merge((1, 2, 1, 2), (1, 2), 9) == (9, 9)


@pytest.mark.parametrize(
    "text",
    ["", "x", "Hello, world!\n", "  indented\n\tcode()  ", "naïve café — 注意力 🙂", "\x00\x07 control\r\n", "a" * 50],
)
def test_decode_inverts_encode_on_any_text(ours, text):
    """Bytes as the base alphabet: text the tokenizer never saw (other scripts, emoji, control characters) still
    round-trips; a character-level base vocabulary would fail on the first unseen character."""
    assert ours.decode(ours.encode(text)) == text


def test_encoding_applies_merges_by_rank_not_left_to_right(ours):
    """Encoding must merge the earliest-learned pair first. Check on every chunk of held-out text that no adjacent
    pair left in the output is a learned merge (otherwise encoding stopped early)."""
    for chunk in set(chunks(HELD_OUT)):
        ids = ours._encode_chunk(chunk)
        assert not any(pair in ours.rank for pair in zip(ids, ids[1:], strict=False)), chunk


def test_byte_map_is_a_bijection_onto_printable_characters():
    char = bytes_to_unicode()
    assert sorted(char) == list(range(256)) and len(set(char.values())) == 256
    assert all(c.isprintable() and not c.isspace() for c in char.values())
    assert char[ord(" ")] == "Ġ" and char[ord("\n")] == "Ċ"


def test_a_vocabulary_smaller_than_the_bytes_is_refused():
    with pytest.raises(ValueError, match="at least the 256 byte tokens"):
        BPETokenizer.train("abc", 100)


@pytest.mark.slow
def test_token_model_retrained_from_its_seed_reproduces_day_21(tmp_path):
    """Retrains day 21's BPE model (about 2 minutes on one core) and checks the bits per character the page quotes,
    and that the committed weights are the ones this seed makes."""
    import torch
    from mechlearn.transformers.tiny_lm import TINY_LM_DIR
    from mechlearn.transformers.token_lm import bits_per_char, split_text, train_token_lm_cached
    from safetensors.torch import load_file

    day = TINY_LM_DIR.parent / "day-021-byte-pair-encoding-checked-against-hugging-face"
    recorded = json.loads((day / "results.json").read_text())
    train_text, val_text = split_text(corpus_text())
    bpe = BPETokenizer.train(train_text, 512)
    model, _ = train_token_lm_cached(tmp_path, bpe, progress=False)
    bpc = bits_per_char(model, torch.tensor(bpe.encode(val_text)), bpe.decode, 64)
    assert abs(bpc - recorded["bpc_token"]["value"]) < 1e-4, f"retrained model: {bpc:.4f} bits per character"
    committed = load_file(str(day / "token_lm.safetensors"))
    assert all(torch.equal(committed[k], v) for k, v in model.state_dict().items()), "committed weights differ"
