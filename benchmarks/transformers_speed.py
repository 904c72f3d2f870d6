"""Benchmark: the scratch GPT-2 against TransformerLens, and generation with against without the KV cache.

    .venv/bin/python benchmarks/transformers_speed.py                 # GPT-2 small shape, random weights, CPU
    .venv/bin/python benchmarks/transformers_speed.py --device cuda --threads 0

1. Forward pass: `DemoTransformer` vs `HookedTransformer` holding the same weights (GPT-2 small's shape, random init,
   no download), best of `--repeats` runs each, interleaved. Target: scratch / TransformerLens <= 1.2.
2. Generation of `--new-tokens` tokens (greedy) from a 16-token prompt, with and without the KV cache. The outputs
   are checked to be identical. Target: >= 5x faster with the cache.
Prints one JSON line per measurement, then a summary.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import torch
from mechlearn.transformers.config import Config
from mechlearn.transformers.loading import from_hooked_transformer, hooked_config
from mechlearn.transformers.sampling import generate

warnings.filterwarnings("ignore", message="HookedTransformer is deprecated")


def best_of(fn, repeats: int, device: str) -> float:
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads; 0 keeps torch's default")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--n-layers", type=int, default=12, help="12 = GPT-2 small")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    from transformer_lens import HookedTransformer

    cfg = Config(n_layers=args.n_layers)
    tl_cfg = hooked_config(cfg)
    tl_cfg.device = args.device
    reference = HookedTransformer(tl_cfg).eval()
    model = from_hooked_transformer(reference).to(args.device).eval()
    tokens = torch.randint(0, cfg.d_vocab, (args.batch, args.seq), device=args.device)
    results = {"device": args.device, "threads": torch.get_num_threads(), "n_layers": cfg.n_layers}

    with torch.no_grad():
        assert (model(tokens) - reference(tokens)).abs().max() <= 1e-4, "the benchmark's two models differ"
        model(tokens), reference(tokens)  # warm-up
        scratch, tlens = [], []
        for _ in range(args.repeats):  # interleaved, so background load hits both alike
            scratch.append(best_of(lambda: model(tokens), 1, args.device))
            tlens.append(best_of(lambda: reference(tokens), 1, args.device))
    results |= {"forward_scratch_s": min(scratch), "forward_transformer_lens_s": min(tlens)}
    results["forward_ratio"] = results["forward_scratch_s"] / results["forward_transformer_lens_s"]
    print(json.dumps({"forward": [args.batch, args.seq], **{k: results[k] for k in results if "forward" in k}}))

    prompt = tokens[:1, :16]
    cached = generate(model, prompt, args.new_tokens, use_kv_cache=True, temperature=0)
    start = time.perf_counter()
    generate(model, prompt, args.new_tokens, use_kv_cache=True, temperature=0)
    results["generate_kv_cache_s"] = time.perf_counter() - start
    start = time.perf_counter()
    uncached = generate(model, prompt, args.new_tokens, use_kv_cache=False, temperature=0)
    results["generate_no_cache_s"] = time.perf_counter() - start
    assert torch.equal(cached, uncached), "the KV cache changed the greedy output"
    results["kv_cache_speedup"] = results["generate_no_cache_s"] / results["generate_kv_cache_s"]
    print(json.dumps({"generate_new_tokens": args.new_tokens, **{k: results[k] for k in results if "gen" in k}}))

    print(
        f"forward {args.batch}x{args.seq} on {args.device}: scratch {results['forward_scratch_s'] * 1e3:.1f} ms, "
        f"TransformerLens {results['forward_transformer_lens_s'] * 1e3:.1f} ms, ratio {results['forward_ratio']:.2f} "
        f"(target <= 1.2)"
    )
    print(
        f"generate {args.new_tokens} tokens: no cache {results['generate_no_cache_s']:.2f} s, KV cache "
        f"{results['generate_kv_cache_s']:.2f} s, speed-up {results['kv_cache_speedup']:.1f}x (target >= 5)"
    )


if __name__ == "__main__":
    main()
