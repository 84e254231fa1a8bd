"""Store URLs: which backend holds an index (DOCCHAT_STORE / --store). Pure parsing, no imports
of any backend, so that a bad URL is refused before anything heavy loads.

    ""  or  faiss://            the embedded store in the --index folder (the default)
    faiss:///abs/folder         the embedded store in that folder
    milvus:///abs/path/x.db     milvus-lite: Milvus in this process, data in that folder
    milvus://host:19530         a Milvus server or cluster (plain gRPC/HTTP)
    milvus+https://host:443     the same over TLS (Zilliz Cloud, a TLS-terminated cluster)

A ``?collection=NAME`` query picks the Milvus collection (default: setting milvus_collection).
Credentials never go in the URL, and no message prints a URL's user-info (``redact``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

FORMS = ("faiss:///path, milvus:///path/x.db, milvus://host:19530 or milvus+https://host:443")
COLLECTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")  # Milvus collection names
_AUTHORITY = re.compile(r"\s*(?:[A-Za-z][A-Za-z0-9+.-]*:)?//")  # what precedes the user-info


@dataclass(frozen=True)
class StoreURL:
    kind: str  # "faiss" or "milvus"
    path: str = ""  # faiss: the folder ("" = the --index folder); milvus-lite: the .db path
    uri: str = ""  # milvus: what pymilvus connects to (the .db path or http(s)://host:port)
    collection: str = ""  # milvus: the collection named in the URL ("" = the setting)

    @property
    def lite(self) -> bool:
        return self.kind == "milvus" and bool(self.path)


def parse(url: str) -> StoreURL:
    """The parsed ``url``; ValueError with the reason when it is not a store URL."""
    url = (url or "").strip()
    if not url:
        return StoreURL("faiss")
    try:
        parts = urlsplit(url)
    except ValueError as e:  # "Invalid IPv6 URL", or a text quoting the netloc, user-info and all
        raise ValueError("not a URL" + ("" if "@" in str(e) else f": {e}")) from None
    scheme = parts.scheme.lower()
    if scheme == "faiss":
        if parts.netloc or parts.query or (parts.path and not parts.path.startswith("/")):
            raise ValueError("a faiss URL is faiss:///absolute/folder")
        return StoreURL("faiss", path=parts.path)
    if scheme not in ("milvus", "milvus+https", "milvus+http"):
        # without a // the "scheme" may be a user name ("user:password@host")
        raise ValueError(f"unknown store {scheme if scheme and parts.netloc else redact(url)!r}")
    # first, as other reasons could quote a part of them; any @ of a server URL counts (a raw
    # /, ? or # in a password leaves the rest of it, and the @, outside the netloc)
    if parts.netloc and "@" in url:
        raise ValueError("put credentials in DOCCHAT_MILVUS_TOKEN or DOCCHAT_MILVUS_USER/"
                         "_PASSWORD, not in the URL")
    query = parse_qs(parts.query)
    unknown = set(query) - {"collection"}
    if unknown:
        raise ValueError(f"unknown URL option {sorted(unknown)[0]!r} (only ?collection=NAME)")
    collection = query.get("collection", [""])[-1]
    if collection and not COLLECTION_NAME.match(collection):
        raise ValueError(f"collection {collection!r} must be letters, digits and _")
    if not parts.netloc:  # milvus:///path/x.db -> milvus-lite
        if scheme != "milvus" or not parts.path.endswith(".db"):
            raise ValueError("milvus-lite needs a path ending in .db: milvus:///path/x.db")
        if not parts.path.startswith("/"):  # relative to wherever docchat was started from:
            # another folder would open another, empty index
            raise ValueError("milvus-lite needs an absolute path: milvus:///absolute/x.db")
        return StoreURL("milvus", path=parts.path, uri=parts.path, collection=collection)
    try:
        port = parts.port
    except ValueError:  # not a number, or above 65535
        port = 0
    if port == 0:  # refused, not taken for the default port
        raise ValueError(f"bad port in {parts.netloc!r} (a port is 1 to 65535)")
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address keeps its brackets: http://[::1]:19530
        host = f"[{host}]"
    if not host or parts.path not in ("", "/"):
        raise ValueError("a Milvus server URL is milvus://host:port (no path)")
    tls = scheme == "milvus+https"
    return StoreURL("milvus", uri=f"{'https' if tls else 'http'}://{host}:"
                    f"{port or (443 if tls else 19530)}", collection=collection)


def redact(url: str) -> str:
    """``url`` fit to print: its user-info (``user:password@``) as ``***@``. All between the
    ``//`` and the last @ counts, so a password with a raw / or @ in it is hidden whole."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme = _AUTHORITY.match(head)
    return (head[:scheme.end()] if scheme else "") + "***@" + tail


def valid(url: str) -> bool:
    try:
        parse(url)
    except ValueError:
        return False
    return True
