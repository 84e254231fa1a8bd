"""Spreadsheets (rag/ingest/formats/sheets.py): a page per sheet, the first non-empty row the
header, one line a row ("Row N: header: value; ..."), empty rows and cells left out, the row
and cell caps said on the page; files written by openpyxl and the csv module."""
from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from office_files import CSV, make_xlsx

from rag.errors import LoadError
from rag.ingest.loaders import load
from rag.ingest.places import place


def test_xlsx_gives_one_page_per_sheet_and_one_line_per_row_with_its_headers():
    budget, staff = load(Path("book.xlsx"), make_xlsx(extra_rows=2))
    assert (budget.label, staff.label) == ("sheet Budget", "sheet Staff")
    assert budget.text.splitlines() == [
        "Budget", "Columns: Department; Budget; Head",
        "Row 2: Department: Research; Budget: 120000; Head: Dr. Okafor",
        "Row 3: Department: Marketing; Budget: 45000; Head: Ms. Lindqvist",
        "Row 5: Department: Legal; Head: Mr. Haddad",  # the empty row 4 and cell are left out
        "Row 6: Department: Team 0; Budget: 1000; Head: Lead 0",
        "Row 7: Department: Team 1; Budget: 1001; Head: Lead 1"]
    assert staff.text.splitlines()[-1] == "Row 2: Name: Amara; Room: B-204"
    passage = budget.text[budget.text.index("Row 3"):budget.text.index("Row 6")]
    assert place(budget.page, budget.label, passage) == "sheet Budget, rows 3-5"


def test_csv_delimiter_is_found_and_each_row_is_a_line():
    [page] = load(Path("cities.csv"), CSV.encode("cp1252"))
    assert page.label == "sheet cities"
    assert page.text.splitlines()[2] == "Row 2: city: Lyon; population: 522000; river: Rhône"
    assert len(page.text.splitlines()) == 2 + 62


def test_a_sheet_with_a_million_empty_rows_is_capped_with_a_reason_in_bounded_memory():
    data = make_xlsx(extra_rows=2, gap_to=1_000_010)
    tracemalloc.start()
    try:
        budget = load(Path("huge.xlsx"), data)[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    lines = budget.text.splitlines()
    assert lines[-2] == "Row 7: Department: Team 1; Budget: 1001; Head: Lead 1"
    assert lines[-1].startswith("(Rows after 100,000 were not read")
    assert "DOCCHAT_SHEET_MAX_ROWS" in lines[-1]
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB held while reading"


def test_a_large_csv_is_read_up_to_its_cell_cap_and_says_what_was_left_out(tmp_path,
                                                                           monkeypatch):
    """Issue 20, item 9: a 4 MB CSV read whole kept the indexer busy for 18 minutes. The
    cells read per file are capped (DOCCHAT_SHEET_MAX_CELLS); the page says where it stopped."""
    import time

    from rag.ingest.loaders import load

    monkeypatch.setenv("DOCCHAT_SHEET_MAX_CELLS", "100000")
    path = tmp_path / "big.csv"
    rows = "\n".join(f"{i},station {i % 97},{i * 3 % 1000},{i % 7},note {i}"
                     for i in range(1, 60_001))
    path.write_text("id,station,reading,weekday,note\n" + rows + "\n")
    assert path.stat().st_size > 1_500_000
    t = time.perf_counter()
    pages = load(path)
    seconds = time.perf_counter() - t
    text = "".join(p.text for p in pages)
    # row 1 is the header; 5 cells a row: rows 2..20,001 make the 100,000 cells
    assert "DOCCHAT_SHEET_MAX_CELLS" in text and "Row 20002:" not in text
    assert "Row 20001:" in text and "Rows from 20,002 on were not read" in text
    assert seconds < 30, seconds


def xlsx(*sheets: tuple[str, list[list]]) -> bytes:
    """A workbook written by openpyxl: (title, rows) a sheet, in order."""
    import io

    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def lines(page) -> list[str]:
    return page.text.splitlines()


def structure(page) -> list[tuple[str, int]]:
    return [(page.text[s:e], level) for s, e, level in page.structure]


def test_the_header_is_the_first_non_empty_row_and_rows_keep_their_spreadsheet_numbers():
    data = xlsx(("Blank", [[], [None, None]]),
                ("Stock", [[], [None, ""], ["Item", "Count"], ["Bolts", 40], ["Nuts", 12]]))
    [page] = load(Path("stock.xlsx"), data)
    assert (page.page, page.label) == (2, "sheet Stock")  # the empty first sheet: no page
    assert lines(page) == ["Stock", "Columns: Item; Count", "Row 4: Item: Bolts; Count: 40",
                           "Row 5: Item: Nuts; Count: 12"]
    assert structure(page) == [("Stock", 1), ("Columns: Item; Count", 9)]


def test_cells_read_as_they_show_dates_times_whole_numbers_and_unicode():
    import datetime as dt

    data = xlsx(("Logbuch €", [
        ["Wann", "Uhrzeit", "Menge", "Notiz"],
        [dt.datetime(2024, 5, 1), dt.time(9, 30), 3.5, "zwei\nZeilen   hier"],
        [dt.datetime(2024, 5, 1, 12, 30), None, 120000.0, "東京 🚀"]]))
    [page] = load(Path("log.xlsx"), data)
    assert page.label == "sheet Logbuch €"
    assert lines(page)[2:] == [
        "Row 2: Wann: 2024-05-01; Uhrzeit: 09:30:00; Menge: 3.5; Notiz: zwei Zeilen hier",
        "Row 3: Wann: 2024-05-01 12:30:00; Menge: 120000; Notiz: 東京 🚀"]


def test_cells_without_a_header_are_named_by_their_column_letters():
    row = ",".join(["1", "", "3"] + [f"v{i}" for i in range(4, 704)])  # 703 cells: A..AAA
    [page] = load(Path("wide.csv"), f"id,,third\n{row}\n".encode())
    assert lines(page)[1] == "Columns: id; third"
    pairs = lines(page)[2].split("; ")
    assert pairs[:3] == ["Row 2: id: 1", "third: 3", "column D: v4"]
    assert "column Z: v26" in pairs and "column AA: v27" in pairs
    assert pairs[-2:] == ["column ZZ: v702", "column AAA: v703"]


@pytest.mark.parametrize("rows, capped", [(5, False), (6, True)])
def test_a_sheet_of_max_rows_is_read_whole_and_a_longer_one_ends_with_a_note(rows, capped):
    from rag.settings import Settings

    text = "n\n" + "".join(f"{i}\n" for i in range(2, rows + 1))  # the header counts as a row
    [page] = load(Path("count.csv"), text.encode(), Settings(sheet_max_rows=5))
    assert lines(page)[2:6] == [f"Row {i}: n: {i}" for i in range(2, 6)]
    assert "Row 6" not in page.text
    note = "(Rows after 5 were not read: the sheet is longer than DOCCHAT_SHEET_MAX_ROWS allows.)"
    assert (lines(page)[-1] == note) is capped
    if capped:  # a note, not a sentence of the sheet: never an answer or a citation span
        assert structure(page)[-1] == (note, 9)


def test_the_cell_cap_is_shared_by_the_sheets_of_a_workbook():
    from rag.settings import Settings

    data = xlsx(("First", [["a", "b"], [1, 2], [3, 4], [5, 6]]),
                ("Second", [["c"], [7], [8]]), ("Third", [["d"], [9]]))
    first, second, third = load(Path("book.xlsx"), data, Settings(sheet_max_cells=7))
    assert lines(first)[2:] == ["Row 2: a: 1; b: 2", "Row 3: a: 3; b: 4", "Row 4: a: 5; b: 6"]
    note = ("(Rows from {} on were not read: the file has more cells than "
            "DOCCHAT_SHEET_MAX_CELLS allows.)")
    assert lines(second)[1:] == ["Columns: c", "Row 2: c: 7", note.format(3)]  # the 7th cell
    assert lines(third)[1:] == ["Columns: d", note.format(2)]  # nothing left for it


@pytest.mark.parametrize("name, data", [
    ("blank.csv", b",,\n  ,\t, \n,,\n"),
    ("blank.xlsx", xlsx(("One", [[None, ""], []]), ("Two", [])))])
def test_a_sheet_without_any_value_gives_no_page(name, data):
    with pytest.raises(LoadError, match="no text found"):
        load(Path(name), data)


@pytest.mark.parametrize("text", [
    "city;river\nLyon;Rhône\nBasel;Rhein\n", "city\triver\nLyon\tRhône\nBasel\tRhein\n",
    "city|river\nLyon|Rhône\nBasel|Rhein\n", "city,river\nLyon,Rhône\nBasel,Rhein\n",
    '"city","river"\r\n"Lyon","Rhône"\r\n"Basel","Rhein"\r\n'])
def test_the_csv_delimiter_and_quoting_are_found(text):
    [page] = load(Path("rivers.csv"), text.encode())
    assert lines(page)[1:] == ["Columns: city; river", "Row 2: city: Lyon; river: Rhône",
                               "Row 3: city: Basel; river: Rhein"]


def test_a_quoted_csv_cell_keeps_its_delimiters_and_newlines_in_one_row():
    text = 'name,quote\nAda,"Hello, world\nsecond line"\nAlan,"He said ""no"""\n'
    [page] = load(Path("quotes.csv"), text.encode())
    assert lines(page)[2:] == ["Row 2: name: Ada; quote: Hello, world second line",
                               'Row 3: name: Alan; quote: He said "no"']


def test_a_csv_sheet_is_named_after_its_file_on_any_platform():
    from rag.ingest.formats.pagetext import Deadline
    from rag.ingest.formats.sheets import load_csv

    for path in ("C:\\data\\q1.budget.csv", "/srv/data/q1.budget.csv", "q1.budget.csv"):
        [page] = load_csv(path, "x\n1\n", 10, Deadline(0))
        assert (page.label, lines(page)[0], page.path) == ("sheet q1.budget", "q1.budget", path)


def test_a_csv_field_over_the_csv_modules_limit_is_read_not_the_whole_file_refused():
    """Python's csv module refuses fields over 131,072 characters by default; a long text
    column (or a stray quote running to the end) made the whole file "malformed"."""
    body = "word " * 40_000 + "needle"
    text = 'id,body\n1,"' + body + '"\n2,short\n'
    [page] = load(Path("blob.csv"), text.encode())
    assert "needle" in page.text and lines(page)[-1] == "Row 3: id: 2; body: short"
    stray = 'id,body\n1,"unclosed ' + "x" * 200_000 + "\n2,after\n"
    [page] = load(Path("stray.csv"), stray.encode())
    assert "unclosed" in page.text


def test_reading_stops_with_the_reason_once_the_deadline_is_spent():
    import time

    from rag.ingest.formats.pagetext import Deadline
    from rag.ingest.formats.sheets import load_csv

    spent = Deadline(0.001)
    time.sleep(0.01)
    text = "n\n" + "".join(f"{i}\n" for i in range(3000))
    with pytest.raises(LoadError, match="DOCCHAT_READ_SECONDS"):
        load_csv("slow.csv", text, 10**6, spent)
    assert len(load_csv("fast.csv", text, 10**6, Deadline(0))[0].text.splitlines()) == 3002


def test_a_file_that_is_a_zip_but_not_a_workbook_is_refused_as_corrupt():
    from office_files import make_docx

    with pytest.raises(LoadError, match=r"^corrupt \.xlsx file \([^\n]+\)$"):
        load(Path("renamed.xlsx"), make_docx())


def test_rows_of_names_the_first_and_last_spreadsheet_rows_a_passage_shows():
    from rag.ingest.formats.sheets import rows_of

    assert rows_of("Row 12: a: x\nRow 9: a: y\nRow 40: a: z") == (9, 40)
    assert rows_of("Row 7: a: only") == (7, 7)
    assert rows_of("Budget\nColumns: a; b") is None
    assert rows_of("Row 4: note: see Row 99: below") == (4, 4)  # only a line's start counts
    assert rows_of("") is None
