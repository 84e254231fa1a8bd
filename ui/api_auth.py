"""Who the caller is, with a login set (``serve --auth USER:PASS``): HTTP Basic read as UTF-8,
the page's login check, and the FastAPI dependencies the API's routes use. The LoginGate
(ui/login_gate.py) uses the same checks in front of every route."""
from __future__ import annotations

import base64
import binascii
import secrets
import unicodedata
from typing import Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials


class Utf8Basic(HTTPBasic):
    """HTTP Basic whose credentials are read as UTF-8 (RFC 7617; FastAPI's reads ASCII only,
    so a non-ASCII password that works on the page was always refused by the API). A header
    that is not valid Basic is treated as no credentials."""

    async def __call__(self, request: Request) -> HTTPBasicCredentials | None:  # type: ignore[override]
        scheme, _, param = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic" or not param:
            return None
        try:
            raw = base64.b64decode(param.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None
        user, sep, password = raw.partition(":")
        return HTTPBasicCredentials(username=user, password=password) if sep else None


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def login_ok(credentials: tuple[str, str], given: HTTPBasicCredentials | None) -> bool:
    """Whether HTTP Basic ``given`` is the login, compared in constant time: both parts are
    compared whatever the name gives, so a refusal's time does not tell a right name."""
    if given is None:
        return False
    name_ok = secrets.compare_digest(  # a name typed decomposed or composed (é as e + U+0301
        nfc(given.username).encode(), nfc(credentials[0]).encode())  # or U+00E9) is one name
    password_ok = secrets.compare_digest(given.password.encode(), credentials[1].encode())
    return name_ok and password_ok


def basic_auth(credentials: tuple[str, str],
               session_user: Callable[[Request], str | None] = lambda _: None):
    """A dependency that requires HTTP Basic ``credentials``, or the page's login session
    (``session_user``), so the page's page images and file links work once logged in."""
    security = Utf8Basic(auto_error=False, scheme_name="HTTPBasic")

    def check(request: Request, given: HTTPBasicCredentials | None = Depends(security)) -> None:
        ok = login_ok(credentials, given)
        if not ok and not session_user(request):
            raise HTTPException(401, "login required", headers={"WWW-Authenticate": "Basic"})
    return check


def caller(credentials: tuple[str, str] | None,
           session_user: Callable[[Request], str | None] = lambda _: None):
    """A dependency giving the caller's user name, whose conversations they see: the HTTP
    Basic user, else the page's login session user (both NFC, as the page's), "" without a
    login. It checks nothing itself (the router's login does) and adds nothing to the
    schema."""
    parse = Utf8Basic(auto_error=False)

    async def user(request: Request) -> str:
        if credentials is None:
            return ""
        given = await parse(request)
        if login_ok(credentials, given):
            return nfc(given.username)
        return nfc(session_user(request) or "")
    return user


def page_login(credentials: tuple[str, str] | None):
    """The page's login check: as the API's, a user name typed decomposed (e + U+0301) is
    the composed one (NFC), compared in constant time."""
    if credentials is None:
        return None

    def check(user: str, password: str) -> bool:
        # both parts always compared, as login_ok does: a refusal's time tells no right name
        name_ok = secrets.compare_digest(nfc(user or "").encode(), nfc(credentials[0]).encode())
        password_ok = secrets.compare_digest((password or "").encode(), credentials[1].encode())
        return name_ok and password_ok
    return check
