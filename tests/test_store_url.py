"""Store URLs (rag/store_url.py): which backend holds an index, from DOCCHAT_STORE / --store.
Every form the docs name parses to what the store needs; a server URL written out in full is
a fixed point; anything else is refused with its reason, before any backend is imported."""
from __future__ import annotations

import subprocess
import sys

import pytest

from rag.store_url import COLLECTION_NAME, StoreURL, parse, redact, valid


def written_out(u: StoreURL) -> str:
    """A Milvus server's StoreURL as the URL that says all of it (scheme, host, port)."""
    scheme, rest = u.uri.split("://", 1)
    query = f"?collection={u.collection}" if u.collection else ""
    return f"milvus{'+https' if scheme == 'https' else ''}://{rest}{query}"


@pytest.mark.parametrize("url", ["", "   ", "faiss://", None])
def test_no_url_is_the_embedded_store_in_the_index_folder(url):
    u = parse(url)
    assert (u.kind, u.path, u.lite) == ("faiss", "", False)


def test_a_faiss_url_names_its_folder_whatever_the_case_of_the_scheme():
    assert parse("faiss:///srv/docchat/index") == StoreURL("faiss", path="/srv/docchat/index")
    assert parse(" FAISS:///srv/index ").path == "/srv/index"
    assert parse("faiss:/srv/index").path == "/srv/index"  # absolute, if not written out


def test_milvus_lite_is_a_db_file_in_this_process():
    u = parse("milvus:///var/lib/docchat/milvus.db?collection=team_docs")
    assert u.lite and (u.kind, u.path, u.uri, u.collection) == (
        "milvus", "/var/lib/docchat/milvus.db", "/var/lib/docchat/milvus.db", "team_docs")


@pytest.mark.parametrize("url, uri", [
    ("milvus://milvus.internal", "http://milvus.internal:19530"),
    ("milvus://milvus.internal:19531/", "http://milvus.internal:19531"),
    ("milvus+http://milvus.internal:80", "http://milvus.internal:80"),
    ("milvus+https://in01.cloud.zilliz.com", "https://in01.cloud.zilliz.com:443"),
    ("MILVUS+HTTPS://in01.cloud.zilliz.com:19530?collection=c1", "https://in01.cloud.zilliz.com:19530"),
])
def test_a_server_url_gives_the_address_pymilvus_connects_to(url, uri):
    u = parse(url)
    assert (u.kind, u.uri, u.path, u.lite) == ("milvus", uri, "", False)
    assert parse(written_out(u)) == u  # written out in full it parses to the same


@pytest.mark.parametrize("url, reason", [
    ("http://milvus.internal:19530", "unknown store 'http'"),
    ("relative/folder", "unknown store"),
    ("faiss://host/folder", "faiss:///absolute/folder"),
    ("faiss:///folder?collection=x", "faiss:///absolute/folder"),
    ("milvus:///data/milvus.sqlite", "ending in .db"),
    ("milvus+https:///data/x.db", "ending in .db"),  # milvus-lite has no TLS form
    ("milvus://host:19530/db1", "no path"),
    ("milvus://host:99999", "bad port"),
    ("milvus://host:0", "bad port in 'host:0'"),  # not taken for the default port
    ("milvus://host:0", "a port is 1 to 65535"),
    ("milvus+https://host:0", "bad port"),
    ("faiss:relative/folder", "faiss:///absolute/folder"),  # as docs/scale-out.md says
    ("faiss:./index", "faiss:///absolute/folder"),
    ("faiss:~/index", "faiss:///absolute/folder"),
    ("milvus:x.db", "absolute path"),  # else another working folder opens another, empty index
    ("milvus:data/x.db", "milvus:///absolute/x.db"),
    ("milvus://host?collection=1st", "letters, digits and _"),
    ("milvus://host?collection=a-b", "letters, digits and _"),
    ("milvus://host?colection=docs", "unknown URL option 'colection'"),
    ("milvus://root:Milvus@host:19530", "DOCCHAT_MILVUS_TOKEN"),
])
def test_anything_else_is_refused_with_its_reason(url, reason):
    with pytest.raises(ValueError, match=reason.replace("?", r"\?")):
        parse(url)
    assert not valid(url)


@pytest.mark.parametrize("url, reason", [
    ("milvus://admin:hunter2@db.example:19530", "DOCCHAT_MILVUS_TOKEN"),
    ("milvus://admin:hunter2@h:99999", "DOCCHAT_MILVUS_TOKEN"),  # before the port's reason
    ("milvus+https://:hunter2@h", "DOCCHAT_MILVUS_TOKEN"),
    ("milvus://admin:hun/ter2@h", "DOCCHAT_MILVUS_TOKEN"),  # a raw / cuts the password short
    ("milvus://admin:hun?collection=ter2@h", "DOCCHAT_MILVUS_TOKEN"),  # so does a raw ?
    ("mongo://admin:hunter2@h", "unknown store 'mongo'"),
    ("//admin:hunter2@h", "unknown store '//***@h'"),
    ("admin:hunter2@db.example", "unknown store '***@db.example'"),  # "admin" is no scheme
    ("milvus://admin:hunter\uff032@h", "not a URL"),  # urlsplit's own text quotes the netloc
    ("milvus://@h:99999", "DOCCHAT_MILVUS_TOKEN"),
])
def test_a_refusal_says_why_and_never_prints_the_user_info(url, reason):
    with pytest.raises(ValueError) as e:
        parse(url)
    assert reason in str(e.value)
    assert not {"admin", "hun", "ter2"} & set(str(e.value).replace("'", " ").split(" ")), e.value
    assert "hunter" not in str(e.value) and "admin" not in str(e.value)


@pytest.mark.parametrize("url, shown", [
    ("milvus://admin:hunter2@db.example:19530", "milvus://***@db.example:19530"),
    ("milvus+https://token@c.example?collection=a", "milvus+https://***@c.example?collection=a"),
    ("milvus://admin:p@ss/w@rd@h:1", "milvus://***@h:1"),  # up to the last @
    ("admin:hunter2@h", "***@h"),
    ("milvus://h:19530", "milvus://h:19530"),
])
def test_redact_prints_a_url_without_its_user_info(url, shown):
    assert redact(url) == shown


def test_collection_names_are_milvus_names():
    assert COLLECTION_NAME.match("docchat_2024") and COLLECTION_NAME.match("_x")
    assert not COLLECTION_NAME.match("9lives") and not COLLECTION_NAME.match("a" * 202)
    assert parse("milvus://h?collection=" + "a" * 201).collection == "a" * 201


def test_a_bad_url_is_refused_before_any_backend_loads():
    """The settings check parses DOCCHAT_STORE before anything heavy: parsing imports
    neither numpy nor a Milvus client."""
    code = ("import sys\nfrom rag.store_url import valid\n"
            "assert not valid('milvus://host/path') and valid('milvus://host')\n"
            "print(sorted(m for m in ('numpy', 'pymilvus', 'faiss', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_an_ipv6_server_address_keeps_its_brackets():
    """Without them the uri ('http://::1:19530') cannot be split into host and port."""
    u = parse("milvus://[::1]:19530")
    assert u.uri == "http://[::1]:19530"
    assert parse(written_out(u)) == u
    assert parse("milvus+https://[2001:db8::7]").uri == "https://[2001:db8::7]:443"
