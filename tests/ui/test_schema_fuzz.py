"""The OpenAPI schema tells the truth: schemathesis generates requests (valid and invalid) from
the schema a real `docchat serve` publishes and checks every answer against it (no 5xx, only
declared status codes, response bodies matching their models, invalid input refused, valid
input accepted). The server runs on 127.0.0.1 with the seed index, started by this test.

schemathesis 4's own pytest entry for a schema loaded at run time
(``schemathesis.pytest.from_fixture``) sets ``item._nodeid``, which pytest 9 no longer has;
so each operation is one parametrized test here that runs schemathesis's strategy for it
under Hypothesis, with the same checks (``case.call_and_validate``)."""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from server import running_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

#: Examples per operation and generation mode: enough to reach every declared status code of
#: these small operations, few enough that the file takes a minute or two on 2 busy cores
#: (DOCCHAT_TEST_FUZZ_EXAMPLES=200 for a longer hunt).
MAX_EXAMPLES = int(os.environ.get("DOCCHAT_TEST_FUZZ_EXAMPLES", "25"))
OPERATIONS = [
    ("POST", "/api/ask"),
    ("GET", "/api/status"),
    ("GET", "/api/documents"),
    ("POST", "/api/documents"),
    ("DELETE", "/api/documents/{doc_id}"),
    ("GET", "/api/documents/{doc_id}/file"),
    ("HEAD", "/api/documents/{doc_id}/file"),
    ("GET", "/api/documents/{doc_id}/pages/{page}.png"),
    ("POST", "/api/documents/{doc_id}/reindex"),
    ("POST", "/api/documents/{doc_id}/include"),
    ("POST", "/api/documents/{doc_id}/summary"),
    ("POST", "/api/search"),
    ("GET", "/api/conversations"),
    ("POST", "/api/conversations"),
    ("GET", "/api/conversations/{conv_id}"),
    ("DELETE", "/api/conversations/{conv_id}"),
    ("GET", "/api/conversations/{conv_id}/export"),
    ("POST", "/api/conversations/{conv_id}/turns/{n}/feedback"),
    ("DELETE", "/api/conversations/{conv_id}/turns/{n}/feedback"),
]


#: What a request the schema allows may still get, besides 2xx, and why:
#: - 424 on any operation that may call a server: the request is fine, the answer engine it
#:   names (or the embedding server) is not there; here nothing listens at the OpenAI URL and
#:   the llamacpp model path points nowhere, so both engines answer 424 at once;
#: - 400/413/415 on uploads: a file's name, type, size and content are not in the schema's
#:   reach (multipart binary), so a generated file may be refused for them.
#: Everything else is schemathesis's default (404 for unknown ids, 409, 401 not applicable).
POSITIVE_OK = ["2xx", "404", "409", "424"]
CONFIG = {
    "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_OK}},
    "operations": [{"include-path": "/api/documents", "include-method": "POST", "checks": {
        "positive_data_acceptance": {"expected-statuses": [*POSITIVE_OK, "400", "413", "415"]}}}],
}


#: The second server runs with a login (--auth): its schema declares HTTP Basic and 401 on
#: every operation, and schemathesis also checks that a request without it gets that 401.
#: ASCII: schemathesis sends Basic credentials as latin-1 (UTF-8 ones: tests/ui/test_auth.py).
LOGIN = ("fuzzer", "s3cret-pass")


@pytest.fixture(scope="module", params=["open", "login"])
def fuzz_server(request, tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz")
    login = request.param == "login"
    env = {"DOCCHAT_UPLOAD_MAX_MB": "0.25", "DOCCHAT_WATCH_SECONDS": "0",
           "DOCCHAT_OPENAI_BASE_URL": "http://127.0.0.1:9/v1",  # discard port: nothing there
           "DOCCHAT_LLAMACPP_MODEL": str(work / "no-such-model.gguf")}
    extra = ("--auth", ":".join(LOGIN)) if login else ()
    with running_server(work, *extra, env=env, auth=LOGIN if login else None) as (base, _):
        yield base, login


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    base, login = fuzz_server
    if not login:
        config = schemathesis.config.SchemathesisConfig.from_dict(CONFIG)
        return schemathesis.openapi.from_url(f"{base}/openapi.json", config=config)
    config = schemathesis.config.SchemathesisConfig.from_dict({
        **CONFIG, "auth": {"basic": {"username": LOGIN[0], "password": LOGIN[1]}}})
    return schemathesis.openapi.from_url(f"{base}/openapi.json", config=config,
                                         auth=LOGIN)


def test_the_schema_declares_http_basic_exactly_when_a_login_is_set(fuzz_server, api_schema):
    _, login = fuzz_server
    raw = api_schema.raw_schema
    schemes = raw.get("components", {}).get("securitySchemes", {})
    assert schemes == ({"HTTPBasic": {"type": "http", "scheme": "basic"}} if login else {})
    for op in raw["paths"].values():
        for spec in op.values():
            assert ("401" in spec["responses"]) == login
            assert (spec.get("security") == [{"HTTPBasic": []}]) == login


def test_every_operation_of_the_schema_is_fuzzed(api_schema):
    published = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert published == set(OPERATIONS)


#: Negative examples (requests the schema refuses) exist only for operations with a
#: constrained input: a free string path parameter or no input at all has none.
CASES = [(m, p, schemathesis.GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, schemathesis.GenerationMode.NEGATIVE) for m, p in OPERATIONS
    if (m, p) in {("POST", "/api/ask"), ("POST", "/api/documents"),
                  ("GET", "/api/documents/{doc_id}/pages/{page}.png"),
                  ("POST", "/api/conversations"),
                  ("GET", "/api/conversations/{conv_id}/export"),
                  ("POST", "/api/conversations/{conv_id}/turns/{n}/feedback")}]


@pytest.mark.parametrize("method, path, mode", CASES)
def test_every_answer_matches_the_schema(api_schema, method, path, mode):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate(timeout=120)

    check()
