"""Conversations that last: stored in SQLite (``conversations.sqlite`` in the data folder),
per user, each answer with its sources, so an old answer's citations still open the passage
it was verified against (even after the document changed or left the index). Each answer can
be rated (Feedback); a conversation exports as Markdown (to read) or JSON (everything)."""
from __future__ import annotations

import json
import re
import sqlite3
import threading
import unicodedata
import uuid
from datetime import datetime, timezone
from pathlib import Path

from rag.errors import NotFoundError
from rag.ingest.places import place
from rag.types import (FEEDBACK_NOTE_CHARS, FEEDBACK_REASONS, Answer, Conversation, Feedback,
                       Turn)

FILE = "conversations.sqlite"
TITLE_CHARS = 80
UNTITLED = "New conversation"  # the title shown until the first question names it
RATINGS = ("up", "down")
EXPORT_FORMAT = "docchat-conversation"  # the JSON export's "format"
SNIPPET = 300  # characters of an uncited passage in the Markdown export
SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations(id TEXT PRIMARY KEY, user TEXT NOT NULL,
    title TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_user ON conversations(user, updated);
CREATE TABLE IF NOT EXISTS turns(conversation TEXT NOT NULL, n INTEGER NOT NULL,
    question TEXT NOT NULL, answer TEXT NOT NULL, PRIMARY KEY(conversation, n));
CREATE TABLE IF NOT EXISTS feedback(conversation TEXT NOT NULL, n INTEGER NOT NULL,
    rating TEXT NOT NULL, reason TEXT, note TEXT NOT NULL, updated TEXT NOT NULL,
    PRIMARY KEY(conversation, n));
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def title_for(question: str) -> str:
    q = " ".join(question.split())
    return q if len(q) <= TITLE_CHARS else q[:TITLE_CHARS - 1].rstrip() + "…"


def answer_from_dict(d: dict) -> Answer:
    return Answer.from_dict(d)


class Conversations:
    """The conversation store. ``user`` is the logged-in name ("" without a login); a user
    sees and changes only their own conversations (anyone else's id is "not found")."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def _q(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def list(self, user: str) -> list[Conversation]:
        """The user's conversations, most recently used first."""
        rows = self._q("SELECT c.id, c.title, c.created, c.updated, COUNT(t.n) FROM "
                       "conversations c LEFT JOIN turns t ON t.conversation = c.id "
                       "WHERE c.user = ? GROUP BY c.id ORDER BY c.updated DESC", (user,))
        return [Conversation(i, title or UNTITLED, *rest) for i, title, *rest in rows]

    def list_all(self, user: str | None = None) -> list[tuple[str, Conversation]]:
        """(user, conversation) for every conversation of every user (of ``user`` only when
        given), most recently used first: for the command line, which reads the server's
        data folder as its administrator."""
        rows = self._q("SELECT c.user, c.id, c.title, c.created, c.updated, COUNT(t.n) FROM "
                       "conversations c LEFT JOIN turns t ON t.conversation = c.id "
                       "WHERE ? IS NULL OR c.user = ? GROUP BY c.id ORDER BY c.updated DESC",
                       (user, user))
        return [(u, Conversation(i, title or UNTITLED, *rest)) for u, i, title, *rest in rows]

    def owner(self, conv_id: str) -> str | None:
        """The user a conversation belongs to (None: no such conversation)."""
        rows = self._q("SELECT user FROM conversations WHERE id = ?", (conv_id,))
        return rows[0][0] if rows else None

    def create(self, user: str, title: str = "") -> Conversation:
        """An empty conversation; without a title its first question names it."""
        now, conv_id = _now(), uuid.uuid4().hex
        title = " ".join(title.split())[:200]
        self._q("INSERT INTO conversations VALUES (?, ?, ?, ?, ?)",
                (conv_id, user, title, now, now))
        return Conversation(conv_id, title or UNTITLED, now, now, 0)

    def get(self, user: str, conv_id: str) -> Conversation:
        for c in self.list(user):
            if c.id == conv_id:
                return c
        raise NotFoundError(f"no conversation {conv_id!r}")

    def turns(self, user: str, conv_id: str) -> list[Turn]:
        """The turns, oldest first, each with its rating (Feedback) if it has one."""
        self.get(user, conv_id)
        rows = self._q("SELECT t.question, t.answer, f.rating, f.reason, f.note, f.updated "
                       "FROM turns t LEFT JOIN feedback f ON f.conversation = t.conversation "
                       "AND f.n = t.n WHERE t.conversation = ? ORDER BY t.n", (conv_id,))
        return [Turn(q, answer_from_dict(json.loads(a)),
                     Feedback(rating, reason, note, updated) if rating else None)
                for q, a, rating, reason, note, updated in rows]

    def rate(self, user: str, conv_id: str, turn: int, rating: str, reason: str | None = None,
             note: str = "") -> Feedback:
        """Rate the answer of turn ``turn`` (1 = the first question): "up" or "down"; a "down"
        may give a reason (FEEDBACK_REASONS) and either a note. Replaces an earlier rating
        of that turn. NotFoundError for another user's conversation or a turn it lacks."""
        if rating not in RATINGS:
            raise ValueError(f"rating must be one of {', '.join(RATINGS)}")
        if reason is not None and (rating != "down" or reason not in FEEDBACK_REASONS):
            raise ValueError(f"a reason goes with a \"down\" rating and is one of "
                             f"{', '.join(FEEDBACK_REASONS)}")
        if len(note) > FEEDBACK_NOTE_CHARS:
            raise ValueError(f"the note is longer than {FEEDBACK_NOTE_CHARS} characters")
        feedback = Feedback(rating, reason, note.strip(), _now())
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            n = self._turn_n(user, conv_id, turn)
            self._db.execute("INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?, ?, ?)",
                             (conv_id, n, rating, reason, feedback.note, feedback.updated))
        return feedback

    def unrate(self, user: str, conv_id: str, turn: int) -> None:
        """Forget the rating of a turn (none is fine)."""
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            n = self._turn_n(user, conv_id, turn)
            self._db.execute("DELETE FROM feedback WHERE conversation = ? AND n = ?",
                             (conv_id, n))

    def _turn_n(self, user: str, conv_id: str, turn: int) -> int:
        """The stored number of the ``turn``-th turn (1-based), under the lock."""
        if not self._db.execute("SELECT 1 FROM conversations WHERE id = ? AND user = ?",
                                (conv_id, user)).fetchone():
            raise NotFoundError(f"no conversation {conv_id!r}")
        row = self._db.execute("SELECT n FROM turns WHERE conversation = ? ORDER BY n "
                               "LIMIT 1 OFFSET ?", (conv_id, turn - 1)).fetchone() \
            if 1 <= turn < 2**62 else None
        if row is None:
            raise NotFoundError(f"conversation {conv_id!r} has no turn {turn}")
        return row[0]

    def add(self, user: str, conv_id: str | None, question: str, answer: Answer,
            new_id: str | None = None) -> str:
        """Append a turn; with no ``conv_id`` a new conversation titled by the question, with
        the id ``new_id`` when given: creating it is idempotent (a second add with the same
        ``new_id`` appends to the conversation the first one made), so a page that did not
        learn the id of the conversation its stopped question created cannot make a second
        one. Returns the conversation id."""
        now = _now()
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if conv_id is None and new_id and self._db.execute(
                    "SELECT 1 FROM conversations WHERE id = ? AND user = ?",
                    (new_id, user)).fetchone():
                conv_id = new_id
            elif conv_id is None:
                conv_id = new_id or uuid.uuid4().hex
                self._db.execute("INSERT INTO conversations VALUES (?, ?, ?, ?, ?)",
                                 (conv_id, user, title_for(question), now, now))
            elif not self._db.execute("SELECT 1 FROM conversations WHERE id = ? AND user = ?",
                                      (conv_id, user)).fetchone():
                raise NotFoundError(f"no conversation {conv_id!r}")
            n = self._db.execute("SELECT COALESCE(MAX(n), -1) + 1 FROM turns WHERE "
                                 "conversation = ?", (conv_id,)).fetchone()[0]
            self._db.execute("INSERT INTO turns VALUES (?, ?, ?, ?)",
                             (conv_id, n, question, json.dumps(answer.to_dict())))
            self._db.execute("UPDATE conversations SET updated = ?, title = CASE WHEN title = "
                             "'' THEN ? ELSE title END WHERE id = ?",
                             (now, title_for(question), conv_id))
        return conv_id

    def count(self, user: str, conv_id: str) -> int:
        """Turns stored in the conversation (0 when there is no such conversation)."""
        rows = self._q("SELECT COUNT(t.n) FROM conversations c LEFT JOIN turns t ON "
                       "t.conversation = c.id WHERE c.id = ? AND c.user = ?", (conv_id, user))
        return rows[0][0] if rows else 0

    def drop_last(self, user: str, conv_id: str) -> None:
        """Forget the last turn and its rating (Regenerate replaces it)."""
        self.get(user, conv_id)
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for table in ("feedback", "turns"):
                self._db.execute(f"DELETE FROM {table} WHERE conversation = ? AND n = (SELECT "
                                 "MAX(n) FROM turns WHERE conversation = ?)", (conv_id, conv_id))

    def rename(self, user: str, conv_id: str, title: str) -> None:
        title = " ".join(title.split())
        self.get(user, conv_id)
        if not title:  # an empty name keeps the old one
            return
        self._q("UPDATE conversations SET title = ? WHERE id = ?", (title[:200], conv_id))

    def delete(self, user: str, conv_id: str) -> None:
        self.get(user, conv_id)
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM feedback WHERE conversation = ?", (conv_id,))
            self._db.execute("DELETE FROM turns WHERE conversation = ?", (conv_id,))
            self._db.execute("DELETE FROM conversations WHERE id = ?", (conv_id,))


def conversation_dict(conv: Conversation, turns: list[Turn]) -> dict:
    """A conversation with every turn: ``n`` (1-based), the question, the whole answer
    (Answer.to_dict: Answer.from_dict loads it back) and its feedback (or None)."""
    return {"id": conv.id, "title": conv.title, "created": conv.created,
            "updated": conv.updated,
            "turns": [{"n": i, "question": t.question, "answer": t.answer.to_dict(),
                       "feedback": t.feedback.to_dict() if t.feedback else None}
                      for i, t in enumerate(turns, 1)]}


def export_json(conv: Conversation, turns: list[Turn]) -> str:
    """The JSON export: everything conversation_dict holds, with its format and date."""
    return json.dumps({"format": EXPORT_FORMAT, "version": 1, "exported": _now(),
                       **conversation_dict(conv, turns)}, indent=2, ensure_ascii=False) + "\n"


def _line(text: str) -> str:
    return " ".join(text.split())


def export_markdown(conv: Conversation, turns: list[Turn]) -> str:
    """The Markdown export, to read: the title, then each question, its answer with the [n]
    markers and, under it, the sources it cited (path, page or label, the cited words)."""
    out = [f"# {_line(conv.title)}", "",
           f"Exported from docchat. Started {conv.created[:16].replace('T', ' ')} UTC, "
           f"{len(turns)} question{'s' if len(turns) != 1 else ''}.", ""]
    for i, t in enumerate(turns, 1):
        a = t.answer
        out += [f"## {i}. {_line(t.question)}", ""]
        if a.abstained:
            out += [f"**No answer found.** {_line(a.answer)}", ""]
        else:
            sentences = [f"{_line(s.text)} {''.join(f'[{n}]' for n in s.citations)}".rstrip()
                         + ("" if s.supported else " *(unsupported: no passage backs it)*")
                         for s in a.sentences]
            out += [" ".join(sentences) or _line(a.answer), ""]
        if a.scope:
            out += ["Searched only: " + ", ".join(f"`{p}`" for p in a.scope), ""]
        cited = {n for s in a.sentences for n in s.citations}
        if a.sources:
            out += ["**Closest passages**" if a.abstained else "**Sources**", ""]
        for src in a.sources:
            where = place(src.page, src.label, src.text)
            out.append(f"- [{src.n}] `{src.path}`, {where}"
                       + ("" if src.n in cited or a.abstained else " (not cited)"))
            spans = [src.text[x - src.start:y - src.start] for x, y in src.highlights] \
                if src.n in cited and src.highlights else []
            spans = [_line(s) for s in spans if s.strip()]
            if not spans:
                text = _line(src.text)
                spans = [text[:SNIPPET] + ("…" if len(text) > SNIPPET else "")]
            out += [f"  > {s}" for s in spans]
        if a.sources:
            out.append("")
        if t.feedback:
            f = t.feedback
            why = f" ({f.reason.replace('_', ' ')})" if f.reason else ""
            note = f": {_line(f.note)}" if f.note.strip() else ""
            out += [f"*Rated {f.rating}{why}{note}*", ""]
    return "\n".join(out).rstrip() + "\n"


def export_name(conv: Conversation, fmt: str) -> str:
    """A download's file name, safe on any system: "docchat-" and the title's ASCII letters
    and digits (dashes between), then ".md" or ".json"."""
    ascii_title = unicodedata.normalize("NFKD", conv.title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].rstrip("-")
    return f"docchat-{slug or 'conversation'}.{fmt}"
