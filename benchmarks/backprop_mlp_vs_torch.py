"""One training step (forward, cross-entropy, backward, Adam) of the digits MLP: NumPy autograd vs torch on CPU.

Not a test: timings depend on the machine. Both run float32, one thread, the same 64 -> 512 -> 10 MLP and batch.
Target: NumPy time / torch time <= 1.5.

    .venv/bin/python benchmarks/backprop_mlp_vs_torch.py [--batch-size 64] [--steps 300] [--keep-heap]

`--keep-heap` (glibc only) stops malloc from handing freed memory back to the OS. NumPy allocates every
intermediate afresh; at large batches (1,024: 2 MB activations) glibc returns them to the OS and the next step
page-faults them back in, which on our machine made the NumPy step ~1.8x torch's. With the heap kept, the same step
was ~0.7x. torch's own caching allocator avoids the effect (day 11 measures both).
"""

import argparse
import ctypes
import os
import timeit

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy/torch load their BLAS: same thread count for both

import torch  # noqa: E402
from mechlearn.backprop.functional import cross_entropy  # noqa: E402
from mechlearn.backprop.optim import Adam  # noqa: E402
from mechlearn.backprop.tensor import Tensor  # noqa: E402
from mechlearn.backprop.train import load_digits_split, make_mlp  # noqa: E402


def keep_heap() -> None:
    """glibc: serve large arrays from the heap and never trim it, so freed activations are reused, not re-faulted."""
    libc = ctypes.CDLL("libc.so.6")
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers from <malloc.h>
    libc.mallopt(M_MMAP_THRESHOLD, 256 * 2**20)
    libc.mallopt(M_TRIM_THRESHOLD, 2**30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep-heap", action="store_true", help="glibc: never return freed memory to the OS")
    args = parser.parse_args()
    if args.keep_heap:
        keep_heap()
    torch.set_num_threads(1)

    data = load_digits_split(0)
    X, y = data.X_train[: args.batch_size], data.y_train[: args.batch_size]

    model = make_mlp(seed=0)
    opt = Adam(model.parameters(), lr=1e-3)

    def numpy_step():
        loss = cross_entropy(model(Tensor(X)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    t_model = torch.nn.Sequential(torch.nn.Linear(64, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
    t_opt = torch.optim.Adam(t_model.parameters(), lr=1e-3)
    t_X, t_y = torch.tensor(X), torch.tensor(y)

    def torch_step():
        loss = torch.nn.functional.cross_entropy(t_model(t_X), t_y)
        t_opt.zero_grad()
        loss.backward()
        t_opt.step()

    results = {}
    for name, step in [("numpy", numpy_step), ("torch", torch_step)]:
        step()  # warm-up: first-call allocations
        times = timeit.repeat(step, number=args.steps, repeat=args.repeats)
        results[name] = min(times) / args.steps  # min over repeats: the least-disturbed measurement
    ratio = results["numpy"] / results["torch"]
    heap = "heap kept" if args.keep_heap else "default malloc"
    print(f"MLP 64-512-10, batch {args.batch_size}, float32, 1 thread, {heap}, ", end="")
    print(f"best of {args.repeats} x {args.steps} steps")
    print(f"  numpy autograd : {results['numpy'] * 1e6:8.1f} us/step")
    print(f"  torch (CPU)    : {results['torch'] * 1e6:8.1f} us/step")
    print(f"  ratio numpy/torch = {ratio:.2f}  (target <= 1.5: {'met' if ratio <= 1.5 else 'not met'})")


if __name__ == "__main__":
    main()
