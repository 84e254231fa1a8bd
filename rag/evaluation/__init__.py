"""Figures on public data: BEIR retrieval and SQuAD question answering (runs.py, what
``docchat eval`` calls), with the per-answer rows they score (squad_rows.py: span and abstention
figures of one SQuAD question; answer_rows.py: the answer's own structural checks)."""
