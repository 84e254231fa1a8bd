"""The chat prompt the LLM engines share: numbered passages, cite-every-sentence rules."""
from __future__ import annotations

import logging
import os
import re
from typing import Iterable, Iterator, Sequence

from rag.history import recent
from rag.types import CANNOT_ANSWER, Hit

log = logging.getLogger(__name__)
HISTORY_TURNS = 2  # previous (user, assistant) turns sent along with the question

SYSTEM_PROMPT = (
    "You answer questions using ONLY the numbered passages the user gives you. "
    "Every sentence of your answer must end with a citation marker naming the passage(s) "
    "it comes from, like [1] or [2][3]. "
    "Keep the answer short: a few sentences. "
    "Do not use outside knowledge. "
    f"If the passages do not contain the answer, reply exactly: {CANNOT_ANSWER}"
)

_THINK = re.compile(r"<think>.*?(?:</think>|$)\s*", re.DOTALL)
_OPEN, _CLOSE = "<think>", "</think>"


def format_passages(passages: Sequence[Hit]) -> str:
    """Number the passages [1]..[n], each headed by its file name and page."""
    blocks = []
    for n, hit in enumerate(passages, start=1):
        name = os.path.basename(hit.path) or hit.path
        blocks.append(f"[{n}] ({name}, page {hit.page})\n{hit.text.strip()}")
    return "\n\n".join(blocks)


def build_messages(question: str, passages: Sequence[Hit],
                   history: Sequence[tuple[str, str]] = ()) -> list[dict[str, str]]:
    """OpenAI chat messages: system rules, the last turns of history, passages + question."""
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for user, assistant in recent(history, HISTORY_TURNS):
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    user_text = (f"Passages:\n\n{format_passages(passages)}\n\n"
                 f"Question: {question.strip()}\n"
                 "Answer from the passages only, ending every sentence with its [n] citation.")
    messages.append({"role": "user", "content": user_text})
    return messages


def strip_think(text: str) -> str:
    """Drop the <think>...</think> reasoning some models (Qwen3, DeepSeek-R1) emit first."""
    return _THINK.sub("", text).strip()


def drop_think(pieces: Iterable[str]) -> Iterator[str]:
    """Stream ``pieces`` without a leading <think>...</think> block (buffering only that)."""
    it = iter(pieces)
    buf = ""
    for piece in it:
        buf += piece
        head = buf.lstrip()
        if head.startswith(_OPEN):
            if _CLOSE not in head:
                continue
            buf = head.split(_CLOSE, 1)[1].lstrip()
        elif _OPEN.startswith(head):
            continue  # could still become "<think>"
        break
    else:  # the stream ended while undecided or inside the block
        rest = strip_think(buf)
        if rest:
            yield rest
        return
    if buf:
        yield buf
    yield from it


#: The tail of a draft repeating one stretch of text this many times in a row is a loop.
LOOP_REPEATS = 3
_TAIL_LOOP = re.compile(r"(\S.{5,120}?)(?:\s*\1){%d,}\s*$" % (LOOP_REPEATS - 1), re.S)
_LOOP_WINDOW = 600  # characters of the tail the character-level check looks at


def looping(text: str) -> bool:
    """Whether a draft being generated has started to loop: a finished sentence repeats (or
    nearly repeats) an earlier one, or the tail repeats one stretch of text over and over."""
    from rag.answering.citations import complete, drop_repeats, parse_draft

    sentences = parse_draft(text)
    if sentences and not complete(text) and not sentences[-1].cited:
        sentences = sentences[:-1]  # still being written
    if len(drop_repeats(sentences)) < len(sentences):
        return True
    return _TAIL_LOOP.search(text[-_LOOP_WINDOW:]) is not None


def stop_loops(pieces: Iterable[str]) -> Iterator[str]:
    """Pass ``pieces`` through until the draft starts looping, then stop the generation (the
    generator feeding them is closed). Verification drops the repeat that triggered it."""
    it = iter(pieces)
    text = ""
    try:
        for piece in it:
            text += piece
            yield piece
            if looping(text):
                log.info("draft stopped: the model repeats itself")
                return
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()
