"""Login (--auth) against a real server: a non-ASCII password works on the API too, and the
schema and the interactive docs are behind the login like every other route."""
from __future__ import annotations

import httpx
import pytest
from server import running_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CREDS = ("anna", "pässwörd-ß€")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    work = tmp_path_factory.mktemp("auth")
    with running_server(work, "--auth", ":".join(CREDS), auth=CREDS) as (url, _):
        yield url


def test_a_non_ascii_password_opens_the_api(base):
    assert httpx.get(f"{base}/api/status", auth=CREDS).status_code == 200
    assert httpx.get(f"{base}/api/status", auth=(CREDS[0], "passwort")).status_code == 401


@pytest.mark.parametrize("path", ["/openapi.json", "/docs", "/api/status", "/api/documents"])
def test_schema_docs_and_api_need_the_login(base, path):
    assert httpx.get(base + path).status_code == 401
    assert httpx.get(base + path, auth=CREDS).status_code == 200


def test_redoc_is_not_served(base):
    assert httpx.get(f"{base}/redoc", auth=CREDS).status_code == 404


def test_a_garbled_authorization_header_is_refused_not_an_error(base):
    for header in ("Basic !!!not-base64", "Basic " + "w6k=", "Bearer abc", "Basic"):
        r = httpx.get(f"{base}/api/status", headers={"Authorization": header})
        assert r.status_code == 401, header


def test_the_login_cookies_are_same_site_lax(base):
    """Gradio sets its login cookie SameSite=None: another site's request would carry it."""
    r = httpx.post(f"{base}/login", data={"username": CREDS[0], "password": CREDS[1]},
                   headers={"Origin": base})
    assert r.status_code == 200, r.text
    cookies = r.headers.get_list("set-cookie")
    assert cookies and all("samesite=lax" in c.lower() and "samesite=none" not in c.lower()
                           for c in cookies), cookies
