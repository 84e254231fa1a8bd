"""The running `docchat serve` the API tests share: one server for the package (the tests of
tests/ui/api/test_ask.py have one of their own, see there), started from seeds/ with a small
upload cap; ``server`` is (base URL, process, work folder).

tests/ui/api/ is a package (__init__.py) so that this file is not imported as the top-level
``conftest`` module, which would hide tests/conftest.py from every ``from conftest import``,
and so that "package" scope means this folder."""
from __future__ import annotations

import contextlib

import pytest
from server import running_server

from .helpers import MAX_MB


@contextlib.contextmanager
def api_server(tmp_path_factory):
    work = tmp_path_factory.mktemp("api")
    with running_server(work, env={"DOCCHAT_UPLOAD_MAX_MB": str(MAX_MB)}) as (base, proc):
        yield base, proc, work


@pytest.fixture(scope="package")
def server(tmp_path_factory):
    with api_server(tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="package")
def base(server) -> str:
    return server[0]
