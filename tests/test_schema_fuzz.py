"""The OpenAPI schema tells the truth: schemathesis generates requests (valid and invalid) from
the schema a real `docchat serve` publishes and checks every answer against it (no 5xx, only
declared status codes, response bodies matching their models, invalid input refused, valid
input accepted). The server runs on 127.0.0.1 with the seed index, started by this test.

schemathesis 4's own pytest entry for a schema loaded at run time
(``schemathesis.pytest.from_fixture``) sets ``item._nodeid``, which pytest 9 no longer has;
so each operation is one parametrized test here that runs schemathesis's strategy for it
under Hypothesis, with the same checks (``case.call_and_validate``)."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from server import running_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

#: Examples per operation and generation mode: enough to reach every declared status code of
#: these small operations, few enough that the file takes a minute or two on 2 busy cores.
MAX_EXAMPLES = 25
OPERATIONS = [
    ("POST", "/api/ask"),
    ("GET", "/api/status"),
    ("GET", "/api/documents"),
    ("POST", "/api/documents"),
    ("DELETE", "/api/documents/{doc_id}"),
    ("GET", "/api/documents/{doc_id}/file"),
    ("GET", "/api/documents/{doc_id}/pages/{page}.png"),
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


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    work = tmp_path_factory.mktemp("fuzz")
    env = {"DOCCHAT_UPLOAD_MAX_MB": "0.25", "DOCCHAT_WATCH_SECONDS": "0",
           "DOCCHAT_OPENAI_BASE_URL": "http://127.0.0.1:9/v1",  # discard port: nothing there
           "DOCCHAT_LLAMACPP_MODEL": str(work / "no-such-model.gguf")}
    with running_server(work, env=env) as (base, _):
        yield base


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    config = schemathesis.config.SchemathesisConfig.from_dict(CONFIG)
    return schemathesis.openapi.from_url(f"{fuzz_server}/openapi.json", config=config)


def test_every_operation_of_the_schema_is_fuzzed(api_schema):
    published = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert published == set(OPERATIONS)


#: Negative examples (requests the schema refuses) exist only for operations with a
#: constrained input: a free string path parameter or no input at all has none.
CASES = [(m, p, schemathesis.GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, schemathesis.GenerationMode.NEGATIVE) for m, p in OPERATIONS
    if (m, p) in {("POST", "/api/ask"), ("POST", "/api/documents"),
                  ("GET", "/api/documents/{doc_id}/pages/{page}.png")}]


@pytest.mark.parametrize("method, path, mode", CASES)
def test_every_answer_matches_the_schema(api_schema, method, path, mode):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate(timeout=120)

    check()
