"""Exports: a cell a spreadsheet would run as a formula is written as text, however the formula
is disguised (OWASP, "CSV Injection"): after spaces, with a full-width or small sign, after a
tab or a line break."""

import csv
import io

import pytest
from openpyxl import load_workbook

from common.exports import ExportProgress, csv_chunks, spreadsheet_safe, xlsx_file

DISGUISED = [
    " =1+1",
    "   @SUM(A1:A2)",
    "\u00a0+1",  # a no-break space
    "\u3000-1",  # an ideographic space
    "\t=1+1",
    "\r=1+1",
    "\n@x",
    '\uff1dHYPERLINK("https://evil.example")',  # full-width signs
    "\uff0b1",
    "\uff0d1",
    "\uff20SUM(A1)",
    "\ufe66cmd",  # a small equals sign
    " \uff1d1",
]
INERT = ["plain", " plain with a space", "a=b", "1+1", "", "e-mail@example.org"]


@pytest.mark.parametrize("text", DISGUISED)
def test_a_disguised_formula_is_escaped(text):
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("text", INERT)
def test_text_that_is_no_formula_is_left_alone(text):
    assert spreadsheet_safe(text) == text


def test_csv_and_xlsx_exports_write_them_as_text():
    rows = [[text] for text in DISGUISED]

    written = "".join(csv_chunks(["cell"], rows))
    workbook = xlsx_file(["cell"], rows, ExportProgress(), title="Cells")

    cells = [row[0] for row in csv.reader(io.StringIO(written, newline=""))][1:]
    assert cells == ["'" + text for text in DISGUISED]
    sheet = load_workbook(workbook, read_only=True).active
    values = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert all(value.startswith("'") for value in values), values
