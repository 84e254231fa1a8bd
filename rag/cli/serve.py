"""docchat serve | mcp: the chat page with the HTTP API, and the index for MCP clients over
stdio. The UI and the MCP SDK are imported only when one of them is asked for."""
from __future__ import annotations

import argparse

from rag.cli.options import settings_from, settings_of, store_option


def cmd_serve(args: argparse.Namespace) -> int:
    from ui.server import serve  # the UI is imported only when asked for

    settings = settings_from(index_dir=args.index, host=args.host, port=args.port,
                             upload_dir=args.docs, store=args.store)
    serve(settings, auth=args.auth or settings.auth or None)
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from rag.index import Index

    settings = settings_of(args)
    index = Index.open(settings.index_dir, settings)  # read only: no index is one line, exit 1
    from ui.mcp_tools import build_server  # the MCP SDK is imported only when asked for

    build_server(lambda: index, settings).run("stdio")
    return 0


def add_parsers(sub) -> None:
    """serve and mcp, in the order --help lists them."""
    sp = sub.add_parser("serve", help="the chat page, the HTTP API and MCP (at /mcp)")
    sp.add_argument("--index", help="index directory")
    sp.add_argument("--docs", help="folder uploads are saved in (and indexed)")
    sp.add_argument("--host", help="bind address (default 127.0.0.1)")
    sp.add_argument("--port", type=int, help="port (default 7860)")
    sp.add_argument("--auth", help="USER:PASS to require a login (or $DOCCHAT_AUTH)")
    store_option(sp)
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("mcp", help="serve the index to MCP clients (agents, editors) over "
                        "stdio: search, ask, list_documents, fetch (read only)")
    sp.add_argument("--index", help="index directory (default: ./index or $DOCCHAT_INDEX_DIR)")
    store_option(sp)
    sp.set_defaults(func=cmd_mcp)
