"""mechlearn.interp — circuits in models trained here — induction heads, probes, patching (04_interpretability/)."""
