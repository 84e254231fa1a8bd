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


def test_the_page_login_compares_both_parts_whichever_is_wrong(monkeypatch):
    """The page's /login form, like the API's Basic login, compares the password even when
    the name is wrong, each part with compare_digest: otherwise a refusal's time would tell a
    right name from a wrong one."""
    from ui import api_auth

    compared = record_compare_digest(monkeypatch)
    check = api_auth.page_login(("anna", "s3cret"))
    for user, password, ok in [("eve", "wrong", False), ("anna", "wrong", False),
                               ("eve", "s3cret", False), ("anna", "s3cret", True)]:
        compared.clear()
        assert check(user, password) is ok
        assert sorted(compared) == sorted([(user.encode(), b"anna"),
                                           (password.encode(), b"s3cret")])


def record_compare_digest(monkeypatch) -> list[tuple[bytes, bytes]]:
    """The (given, expected) pairs ui.api_auth compares with secrets.compare_digest from now
    on (the real comparison still decides)."""
    from ui import api_auth

    compared = []
    real = api_auth.secrets.compare_digest

    def recording(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(api_auth.secrets, "compare_digest", recording)
    return compared
