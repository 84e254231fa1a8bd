"""The login's checks (ui/api_auth.py) without a server; tests/ui/test_auth.py runs them
against a real one."""
from __future__ import annotations


def test_a_user_name_typed_decomposed_logs_in_as_the_composed_one():
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    from ui.api_auth import basic_auth

    app = FastAPI()

    @app.get("/x", dependencies=[Depends(basic_auth(("Ren\u00e9", "pw")))])
    def x():
        return {"ok": True}
    client = TestClient(app)
    assert client.get("/x", auth=("Rene\u0301".encode().decode(), "pw")).status_code == 200
    assert client.get("/x", auth=("Rene", "pw")).status_code == 401
