"""Embedders other than the packaged local model (rag.embedding): same interface, any backend.

Every embedder has ``name`` (the model id recorded in the index manifest), ``dim``, and
``encode(texts, progress=False, on_batch=None, background=False) -> float32 (n, dim)`` of unit
vectors. ``rag.embedding.embedder_for(settings)`` picks one.
"""
