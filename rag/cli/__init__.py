"""docchat index | ask | summarise | status | eval | serve | mcp | export | import | conversations | feedback. Heavy modules are imported inside commands.

Exit codes: 0 success; 1 error (one line on stderr); 2 bad usage;
3 the index was updated but some files were skipped (listed with their reasons).
"""
from __future__ import annotations

# The --help text above is this package's docstring: keep the two the same.
# One module a group of commands, each with its cmd_* functions and the add_parsers that
# registers them: index_ask (index, status, ask, summarise), evaluate (eval, conversations,
# feedback), serve (serve, mcp), transfer (export, import); options holds what they share.
import argparse
import logging
import os
import sqlite3
import sys

from rag.cli import evaluate, index_ask, serve, transfer
from rag.cli.index_ask import EXIT_SKIPPED  # noqa: F401  importable from rag.cli as before
from rag.errors import DocchatError, SettingsError, storage_error


#: The commands that change an index (an OSError then leaves it as it was, and says so).
WRITES_INDEX = frozenset({"index", "import", "serve"})


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        for noisy in ("faiss", "bm25s", "sentence_transformers", "httpx", "transformers"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        return args.func(args)
    except SettingsError as e:
        print(f"docchat: bad setting: {e}", file=sys.stderr)
        return 2
    except DocchatError as e:
        print(f"docchat: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the output was cut short by its reader (| head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # disk full, permission denied...: one line, the index as it was
        where = f": {e.filename}" if e.filename else ""
        # said only where the command writes the index: after a missing file given to
        # 'eval' or 'export' it read as if an index update had been attempted
        kept = (" (nothing was changed: the index keeps its last complete state)"
                if args.command in WRITES_INDEX else "")
        print(f"docchat: error: {e.strerror or e}{where}{kept}", file=sys.stderr)
        return 1
    except sqlite3.Error as e:
        full = storage_error(e)
        if full is None:
            raise
        print(f"docchat: error: {full}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("docchat: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="docchat", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = p.add_subparsers(dest="command", required=True)
    for group in (index_ask, evaluate, serve, transfer):  # the order --help lists them in
        group.add_parsers(sub)
    return p


if __name__ == "__main__":
    sys.exit(main())
