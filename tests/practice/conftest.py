import importlib

from mechlearn.practice.catalogue import EXERCISES, PACKAGE_TOPICS

# Every exercise's module (torch, TransformerLens, gymnasium...) imported at collection, as the rest of the suite
# imports them anyway, so these tests' times are the cases' own.
for _module in sorted(
    {e.module for e in EXERCISES} | {f"mechlearn.practice.cases_{t}" for t in PACKAGE_TOPICS.values()}
):
    importlib.import_module(_module)
importlib.import_module("transformer_lens")
