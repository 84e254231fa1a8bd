"""Text to vectors: the packaged local model (local.py) or a remote OpenAI-compatible
embeddings server (remote.py), behind one protocol (protocol.py); the model's directory,
backend, id and tokenizer, settled without loading it, in model_files.py."""
