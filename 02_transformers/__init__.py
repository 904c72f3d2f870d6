"""mechlearn.transformers — attention and GPT-2 from scratch, checked against TransformerLens (02_transformers/)."""
