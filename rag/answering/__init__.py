"""From ranked passages to a cited answer: the question's evidence, computed once (evidence.py),
the trained span reader (span_reader.py), answerability features and model (answerability.py,
alignment.py, answer_types.py), and verification of every drafted sentence against the passage
it cites (citations.py). The entry point that ties them together is rag.answer.ask."""
