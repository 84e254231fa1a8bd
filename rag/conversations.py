"""Conversations that last: stored in SQLite (``conversations.sqlite`` in the data folder),
per user, each answer with its sources, so an old answer's citations still open the passage
it was verified against (even after the document changed or left the index)."""
from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

from rag.errors import NotFoundError
from rag.types import Answer, Conversation, Turn

FILE = "conversations.sqlite"
TITLE_CHARS = 80
SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations(id TEXT PRIMARY KEY, user TEXT NOT NULL,
    title TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_user ON conversations(user, updated);
CREATE TABLE IF NOT EXISTS turns(conversation TEXT NOT NULL, n INTEGER NOT NULL,
    question TEXT NOT NULL, answer TEXT NOT NULL, PRIMARY KEY(conversation, n));
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
        return [Conversation(*r) for r in rows]

    def get(self, user: str, conv_id: str) -> Conversation:
        for c in self.list(user):
            if c.id == conv_id:
                return c
        raise NotFoundError(f"no conversation {conv_id!r}")

    def turns(self, user: str, conv_id: str) -> list[Turn]:
        self.get(user, conv_id)
        rows = self._q("SELECT question, answer FROM turns WHERE conversation = ? ORDER BY n",
                       (conv_id,))
        return [Turn(q, answer_from_dict(json.loads(a))) for q, a in rows]

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
            self._db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conv_id))
        return conv_id

    def count(self, user: str, conv_id: str) -> int:
        """Turns stored in the conversation (0 when there is no such conversation)."""
        rows = self._q("SELECT COUNT(t.n) FROM conversations c LEFT JOIN turns t ON "
                       "t.conversation = c.id WHERE c.id = ? AND c.user = ?", (conv_id, user))
        return rows[0][0] if rows else 0

    def drop_last(self, user: str, conv_id: str) -> None:
        """Forget the last turn (Regenerate replaces it)."""
        self.get(user, conv_id)
        self._q("DELETE FROM turns WHERE conversation = ? AND n = (SELECT MAX(n) FROM turns "
                "WHERE conversation = ?)", (conv_id, conv_id))

    def rename(self, user: str, conv_id: str, title: str) -> None:
        title = " ".join(title.split())
        self.get(user, conv_id)
        if not title:  # an empty name keeps the old one
            return
        self._q("UPDATE conversations SET title = ? WHERE id = ?", (title[:200], conv_id))

    def delete(self, user: str, conv_id: str) -> None:
        self.get(user, conv_id)
        with self._lock, self._db:
            self._db.execute("DELETE FROM turns WHERE conversation = ?", (conv_id,))
            self._db.execute("DELETE FROM conversations WHERE id = ?", (conv_id,))
