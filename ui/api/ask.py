"""POST /api/ask (an answer, optionally as the next turn of a stored conversation) and POST
/api/search (passages, no answer)."""
from __future__ import annotations

from typing import Callable

from fastapi import APIRouter, Depends
from pydantic import Field, create_model

from rag.types import document_id
from ui.api.errors import errors
from ui.api_models import MAX_HISTORY, NOT_BLANK, AskOut, AskRequest, PassageOut, SearchRequest
from ui.service import Service


def ask_model(max_chars: int) -> type[AskRequest]:
    """AskRequest with this server's question length limit (DOCCHAT_MAX_QUESTION_CHARS) in
    its schema, so that a question the schema allows is one the server answers."""
    return create_model("AskRequest", __base__=AskRequest, __module__=__name__, question=(
        str, Field(..., min_length=1, max_length=max_chars, pattern=NOT_BLANK,
                   description=f"The question, in plain text (not blank, at most "
                               f"{max_chars:,} characters).")))


def router(service: Service, who: Callable[..., str]) -> APIRouter:
    """POST /ask; ``who`` is the dependency that names the caller (its conversations)."""
    api = APIRouter()
    ask_request = ask_model(service.settings.max_question_chars)
    store = service.conversations

    def ask(req: AskRequest, user: str = Depends(who)) -> dict:
        if req.conversation_id is None:
            return service.answer(req.question, req.history, req.engine, req.k,
                                  req.documents).to_dict()
        # a stored conversation: its turns are the history, this turn is added to it
        turns = store.turns(user, req.conversation_id)  # 404 before any work
        history = [(t.answer.question, t.answer.answer) for t in turns[-MAX_HISTORY:]]
        answer = service.answer(req.question, history, req.engine, req.k, req.documents)
        conv = store.add(user, req.conversation_id, req.question, answer)
        return {**answer.to_dict(), "conversation_id": conv, "turn": store.count(user, conv)}

    ask.__annotations__["req"] = ask_request  # this server's question length limit
    api.post("/ask", summary="Answer a question with verified citations; with a "
             "conversation_id, as the next turn of that conversation",
             response_model=AskOut, responses=errors(400, 404, 409, 424, 503))(ask)
    return api


def search_router(service: Service) -> APIRouter:
    """POST /search."""
    api = APIRouter()

    @api.post("/search", summary="The best passages for a query (no answer), optionally "
              "within chosen documents", response_model=list[PassageOut],
              responses=errors(400, 404, 409, 424, 503))
    def search(req: SearchRequest) -> list[dict]:
        hits = service.search(req.query, req.k, documents=req.documents)
        return [{"document": document_id(h.path), "path": h.path, "page": h.page,
                 "label": h.label, "start": h.start, "end": h.end, "text": h.text,
                 "score": h.score} for h in hits]

    return api
