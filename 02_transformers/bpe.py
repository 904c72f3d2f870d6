r"""Byte-pair encoding, trained from scratch: GPT-2's byte-level BPE (Sennrich et al. 2016; Radford et al. 2019).

**Training.** Split the text into chunks with a regular expression (words with their leading space, runs of digits,
of punctuation, of whitespace), so that no token ever spans two words. Each chunk starts as its UTF-8 bytes, 256
base tokens that can spell any text. Then repeat until the vocabulary has `vocab_size` tokens: count every adjacent
pair of tokens over all chunks (weighted by how often the chunk occurs), merge the most frequent pair $(a, b)$ into a
new token $ab$ everywhere, and record the merge. Ties go to the pair with the smaller ids, $(a, b)$ before
$(a, b')$ when $b < b'$.

**Ids.** The 256 bytes are numbered in the order of their printable stand-ins in GPT-2's byte-to-character map
(`bytes_to_unicode`), which is the order Hugging Face's `tokenizers` gives them; merged tokens get the next ids. With
the same ids, ties between equally frequent pairs break the same way in both implementations.

**Encoding.** Split into chunks as in training; in each chunk, repeatedly merge the adjacent pair whose merge was
learned *earliest* (lowest rank), until no learned pair remains. Decoding concatenates the tokens' bytes, so
`decode(encode(text)) == text` for any string.

Counting is incremental: a merge only changes the counts of pairs in the chunks that contain it, found through an
index from each pair to those chunks.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import cache

import regex

# Words with their leading space, digits, punctuation, then whitespace (a trailing run keeps its last space for the
# next word). GPT-2's pattern, with ASCII classes instead of \p{L}/\p{N} and without the English contractions.
PATTERN = r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+"


@cache
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 bytes to printable characters (control bytes and space are shifted
    to code points from 256 on), which byte-level tokenizers use to show bytes as text."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    shifted = [b for b in range(256) if b not in printable]
    return {b: chr(b) for b in printable} | {b: chr(256 + i) for i, b in enumerate(shifted)}


def base_vocab() -> list[bytes]:
    """The 256 one-byte tokens, in the order of their printable stand-ins (id 0 is `!`, byte 33)."""
    char = bytes_to_unicode()
    return [bytes([b]) for b in sorted(range(256), key=lambda b: char[b])]


def chunks(text: str) -> list[str]:
    return regex.findall(PATTERN, text)


def _merge(ids: tuple[int, ...], pair: tuple[int, int], new_id: int) -> tuple[int, ...]:
    """Replace each non-overlapping occurrence of `pair`, left to right, by `new_id`."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return tuple(out)


class BPETokenizer:
    """`vocab[i]` is token i's bytes; `merges[r]` is the pair merged at rank r into token 256 + r."""

    def __init__(self, vocab: list[bytes], merges: list[tuple[int, int]]):
        self.vocab, self.merges = vocab, merges
        self.rank = {pair: r for r, pair in enumerate(merges)}
        self.byte_id = {v[0]: i for i, v in enumerate(vocab[:256])}
        self._chunk_cache: dict[str, tuple[int, ...]] = {}

    @classmethod
    def train(cls, text: str, vocab_size: int) -> BPETokenizer:
        if vocab_size < 256:
            raise ValueError(f"vocab_size {vocab_size}: byte-level BPE needs at least the 256 byte tokens")
        vocab = base_vocab()
        byte_id = {v[0]: i for i, v in enumerate(vocab)}
        counts = Counter(chunks(text))
        words = [tuple(byte_id[b] for b in w.encode()) for w in counts]
        freq = list(counts.values())
        pair_count: Counter = Counter()
        where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> indices of words containing it
        for w, ids in enumerate(words):
            for pair in zip(ids, ids[1:], strict=False):
                pair_count[pair] += freq[w]
                where[pair].add(w)
        merges: list[tuple[int, int]] = []
        while len(vocab) < vocab_size and pair_count:
            best = min(pair_count, key=lambda p: (-pair_count[p], p))
            if pair_count[best] < 1:
                break
            new_id = len(vocab)
            merges.append(best)
            vocab.append(vocab[best[0]] + vocab[best[1]])
            for w in list(where[best]):
                old = words[w]
                for pair in zip(old, old[1:], strict=False):  # take the word's old pairs out ...
                    pair_count[pair] -= freq[w]
                    if pair_count[pair] == 0:
                        del pair_count[pair]
                    where[pair].discard(w)
                words[w] = new = _merge(old, best, new_id)
                for pair in zip(new, new[1:], strict=False):  # ... and its new pairs in
                    pair_count[pair] += freq[w]
                    where[pair].add(w)
        return cls(vocab, merges)

    def _encode_chunk(self, chunk: str) -> tuple[int, ...]:
        if chunk in self._chunk_cache:
            return self._chunk_cache[chunk]
        ids = tuple(self.byte_id[b] for b in chunk.encode())
        while len(ids) > 1:
            pair = min(zip(ids, ids[1:], strict=False), key=lambda p: self.rank.get(p, len(self.merges)))
            if pair not in self.rank:
                break
            ids = _merge(ids, pair, 256 + self.rank[pair])
        self._chunk_cache[chunk] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        return [i for chunk in chunks(text) for i in self._encode_chunk(chunk)]

    def decode(self, ids) -> str:
        return b"".join(self.vocab[int(i)] for i in ids).decode("utf-8", errors="replace")

    def token_str(self, i: int) -> str:
        """Token i as GPT-2 prints it (`Ġ` for a leading space), so vocabularies can be read and compared."""
        char = bytes_to_unicode()
        return "".join(char[b] for b in self.vocab[i])
