"""Calls to the page's Gradio API endpoints (``/gradio_api/run|api|call/NAME``) with too few
inputs: Gradio answers 500 ("didn't receive enough input values"), and 500 too for any value
its handler cannot take. This ASGI middleware pads the optional inputs with their defaults,
refuses a call without the required ones, with too many, or with a value the endpoint's
check refuses, with a 422 that says why, before Gradio sees it."""
from __future__ import annotations

import json
import re
from typing import Any, Callable

ROUTE = re.compile(r"/gradio_api/(?:run|api|call)/([\w-]+)/?")
MAX_BODY = 1 << 20  # an API call's JSON; uploads go elsewhere


class Endpoint:
    """An endpoint's inputs: their names, how many are required, the defaults of the rest,
    and ``check``: why a call's complete inputs are refused ("" when they are fine), so that
    a value of the wrong shape is a 422 with a reason, not Gradio's 500 from the handler."""

    def __init__(self, names: list[str], required: int, defaults: list[Any],
                 check: Callable[[list], str] | None = None) -> None:
        self.names, self.required, self.defaults = names, required, defaults
        self.check = check


class GradioInputs:
    def __init__(self, app, endpoints: dict[str, Endpoint]) -> None:
        self.app, self.endpoints = app, endpoints

    async def __call__(self, scope, receive, send) -> None:
        match = ROUTE.fullmatch(scope.get("path", "")) if scope["type"] == "http" else None
        spec = self.endpoints.get(match.group(1)) if match and scope["method"] == "POST" else None
        if spec is None:
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more and len(body) <= MAX_BODY:
            msg = await receive()
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
        problem, body = _check(spec, body, match.group(1))
        if problem:
            return await _refuse(send, problem)
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.app({**scope, "headers": headers}, replay, send)


def _check(spec: Endpoint, body: bytes, name: str) -> tuple[str, bytes]:
    takes = f"{name} takes {{\"data\": [{', '.join(spec.names)}]}}"
    if len(body) > MAX_BODY:
        return f"the request body is over {MAX_BODY} bytes", body
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        return f"the body is not JSON; {takes}", body
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        return f"missing \"data\" list; {takes}", body
    if len(data) < spec.required:
        return (f"{spec.names[0] if spec.required == 1 else 'inputs'} missing: {takes} "
                f"(the first {spec.required} required)"), body
    missing = spec.required + len(spec.defaults) - len(data)
    if missing > 0:
        payload["data"] = data = data + spec.defaults[len(spec.defaults) - missing:]
    if len(data) > len(spec.names):
        return f"{len(data)} inputs, at most {len(spec.names)}: {takes}", body
    problem = spec.check(data) if spec.check else ""
    if problem:
        return problem, body
    return "", json.dumps(payload).encode()


async def _refuse(send, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": 422,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
