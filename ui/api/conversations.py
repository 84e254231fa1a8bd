"""/api/conversations: the caller's conversations (list, start, read, delete, export) and the
feedback on a turn's answer (rate, take back)."""
from __future__ import annotations

from dataclasses import asdict
from typing import Callable, Literal

from fastapi import APIRouter, Depends, Query
from fastapi import Path as FPath
from fastapi.responses import Response

from rag.conversations import conversation_dict, export_json, export_markdown, export_name
from ui.api.errors import errors
from ui.api_models import (CONVERSATION_ID, ConversationDeletedOut, ConversationIn,
                           ConversationOut, ConversationTurnsOut, FeedbackIn, RatedOut,
                           UnratedOut)
from ui.service import Service

MAX_TURNS = 1_000_000  # turn numbers of a conversation (the feedback route): larger are a 422


def router(service: Service, who: Callable[..., str]) -> APIRouter:
    """Every route answers for the caller's own conversations only (``who`` names the caller):
    another user's is a 404, as an unknown one."""
    api = APIRouter()
    store = service.conversations
    conv_id_param = FPath(..., pattern=CONVERSATION_ID, description="A conversation's id.")

    @api.get("/conversations", summary="Your conversations, most recently used first",
             response_model=list[ConversationOut])
    def conversations(user: str = Depends(who)) -> list[dict]:
        return [asdict(c) for c in store.list(user)]

    @api.post("/conversations", summary="Start a conversation (ask in it with "
              "conversation_id)", response_model=ConversationOut, status_code=201,
              responses=errors(400))  # 400: a body that is not JSON
    def new_conversation(req: ConversationIn | None = None, user: str = Depends(who)) -> dict:
        return asdict(store.create(user, req.title if req else ""))

    @api.get("/conversations/{conv_id}", summary="A conversation: every turn with its whole "
             "answer and its feedback", response_model=ConversationTurnsOut,
             responses=errors(404))
    def conversation(conv_id: str = conv_id_param, user: str = Depends(who)) -> dict:
        return conversation_dict(store.get(user, conv_id), store.turns(user, conv_id))

    @api.delete("/conversations/{conv_id}", summary="Delete a conversation",
                response_model=ConversationDeletedOut, responses=errors(404))
    def delete_conversation(conv_id: str = conv_id_param, user: str = Depends(who)) -> dict:
        conv = store.get(user, conv_id)
        store.delete(user, conv_id)
        return {"deleted": asdict(conv)}

    @api.get("/conversations/{conv_id}/export", summary="A conversation as a file to "
             "download: Markdown to read, or JSON with everything (Answer.from_dict loads "
             "its answers)", response_class=Response, responses={**errors(404), 200: {
                 "content": {"text/markdown": {}, "application/json": {}},
                 "description": "The file (Content-Disposition: attachment)."}})
    def export(conv_id: str = conv_id_param,
               fmt: Literal["md", "json"] = Query("md", alias="format"),
               user: str = Depends(who)) -> Response:
        conv = store.get(user, conv_id)
        turns = store.turns(user, conv_id)
        body, media = (export_json(conv, turns), "application/json") if fmt == "json" else \
            (export_markdown(conv, turns), "text/markdown; charset=utf-8")
        return Response(body, media_type=media, headers={
            "content-disposition": f'attachment; filename="{export_name(conv, fmt)}"'})

    @api.post("/conversations/{conv_id}/turns/{n}/feedback", summary="Rate the answer of a "
              "turn (replaces an earlier rating of it)", response_model=RatedOut,
              responses=errors(400, 404))
    def feedback(req: FeedbackIn, conv_id: str = conv_id_param,
                 n: int = FPath(..., ge=1, le=MAX_TURNS, description="1: the first question."),
                 user: str = Depends(who)) -> dict:
        given = store.rate(user, conv_id, n, req.rating, req.reason, req.note)
        return {"conversation_id": conv_id, "turn": n, "feedback": given.to_dict()}

    @api.delete("/conversations/{conv_id}/turns/{n}/feedback", summary="Take back the "
                "rating of a turn's answer (none given is fine)", response_model=UnratedOut,
                responses=errors(400, 404))
    def unrate(conv_id: str = conv_id_param,
               n: int = FPath(..., ge=1, le=MAX_TURNS, description="1: the first question."),
               user: str = Depends(who)) -> dict:
        store.unrate(user, conv_id, n)
        return {"conversation_id": conv_id, "turn": n, "feedback": None}

    return api
