"""How the API fails (ui/api/errors.py), on the shared `docchat serve` process: a body that is
not JSON is a 422, as the schema says."""
from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

def test_malformed_json_is_a_4xx(base):
    r = httpx.post(f"{base}/api/ask", content=b"{not json",
                   headers={"content-type": "application/json"})
    assert r.status_code == 422
