"""Spreadsheets (.xlsx with openpyxl in read-only mode, .csv with the stdlib csv module).

One page per sheet (a CSV file is one sheet named after the file), labelled "sheet NAME".
The first non-empty row is the header; every later row becomes one line,
``Row N: header: value; header: value`` (N the spreadsheet's row number), so a row is a
sentence that retrieval can find and a citation can name ("sheet Budget, rows 4-9").
Empty rows and cells are left out. Rows are streamed, never held as a grid: at most
DOCCHAT_SHEET_MAX_ROWS rows of a sheet are read (empty ones count), and a capped sheet ends
with a line saying so."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Iterable

from rag.errors import LoadError
from rag.ingest.formats.pagetext import OTHER, Deadline, PageText
from rag.ingest.formats.zips import safe_zip
from rag.types import Page

_ROW = re.compile(r"^Row (\d+): ", re.MULTILINE)
_CHECK_EVERY = 1000  # rows between two looks at the clock


def load_xlsx(path: str, data: bytes, max_mb: float, max_rows: int,
              deadline: Deadline, max_cells: int = 10**9) -> list[Page]:
    """Each sheet a page; at most ``max_rows`` rows per sheet and ``max_cells`` non-empty
    cells in the whole workbook (the rest is left out, and its page says so)."""
    budget = [max_cells]
    data = safe_zip(data, ".xlsx", max_mb)
    try:
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 - a broken part may raise anything inside the library
        raise LoadError(f"corrupt .xlsx file ({' '.join(str(e).split())[:200]})") from e
    try:
        pages = []
        for number, sheet in enumerate(book.worksheets, start=1):
            rows = sheet.iter_rows(values_only=True)
            out = _render(sheet.title, rows, max_rows, deadline, budget)
            if out:
                pages.append(out.page(path, number, f"sheet {sheet.title}"))
        return pages
    except LoadError:
        raise
    except Exception as e:  # noqa: BLE001
        raise LoadError(f"corrupt .xlsx file ({' '.join(str(e).split())[:200]})") from e
    finally:
        book.close()


def load_csv(path: str, text: str, max_rows: int, deadline: Deadline,
             max_cells: int = 10**9) -> list[Page]:
    name = re.split(r"[\\/]", path)[-1].rsplit(".", 1)[0]
    sample = text[:16384]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    # the csv module refuses a field over 131,072 characters (a long text column, or a stray
    # quote that runs to the end); the file's size is capped before this, so allow any field
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    try:
        out = _render(name, csv.reader(io.StringIO(text), dialect), max_rows, deadline,
                      [max_cells])
    except csv.Error as e:
        raise LoadError(f"malformed CSV: {e}") from e
    return [out.page(path, 1, f"sheet {name}")] if out else []


def _render(title: str, rows: Iterable[tuple], max_rows: int, deadline: Deadline,
            budget: list[int] | None = None) -> PageText:
    """The sheet as text, a line per row ("Row 7: Name: Ada; Year: 1843"). ``budget`` holds
    the non-empty cells the file may still add (shared by a workbook's sheets): a 4 MB CSV
    became some 20,000 passages, 18 minutes of embedding, before this cap."""
    budget = budget if budget is not None else [10**9]
    out = PageText()
    out.add(title, 1)
    header: list[str] | None = None
    n = 0
    for n, row in enumerate(rows, start=1):
        if n > max_rows:
            out.add(f"(Rows after {max_rows:,} were not read: the sheet is longer than "
                    f"DOCCHAT_SHEET_MAX_ROWS allows.)", OTHER)
            break
        if n % _CHECK_EVERY == 0:
            deadline.check()
        cells = [_cell(v) for v in row]
        if not any(cells):
            continue
        if header is None:
            header = cells
            out.add("Columns: " + "; ".join(c for c in cells if c), OTHER)
            continue
        pairs = [f"{_name(header, i)}: {c}" for i, c in enumerate(cells) if c]
        if len(pairs) > budget[0]:
            out.add(f"(Rows from {n:,} on were not read: the file has more cells than "
                    f"DOCCHAT_SHEET_MAX_CELLS allows.)", OTHER)
            budget[0] = 0
            break
        budget[0] -= len(pairs)
        out.add(f"Row {n}: " + "; ".join(pairs))
    if header is None:
        return PageText()
    return out


def _name(header: list[str], i: int) -> str:
    if i < len(header) and header[i]:
        return header[i]
    return f"column {_letters(i)}"


def _letters(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return " ".join(str(value).split())


def rows_of(text: str) -> tuple[int, int] | None:
    """The first and last spreadsheet row numbers a passage of a sheet page shows."""
    numbers = [int(m) for m in _ROW.findall(text)]
    return (min(numbers), max(numbers)) if numbers else None
