"""CSV the platform writes: no cell a spreadsheet would run as a formula (OWASP "CSV injection")."""

import csv
import io

import pytest

from huizhili.spreadsheet import csv_text, safe_cell


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("徐家汇街道", "徐家汇街道"),
        ("a=b", "a=b"),
        ("", ""),
        (None, None),
        (-2, -2),
        (-2.5, -2.5),
        (0.98, 0.98),
    ],
)
def test_text_a_spreadsheet_would_run_gets_a_quote_and_numbers_stay_numbers(value, written):
    assert safe_cell(value) == written


def test_csv_text_reads_back_with_formulas_neutralised(tmp_path):
    rows = [{"name": "=1+1", "coverage": -0.5}, {"name": "东区", "coverage": None}]
    text = csv_text(rows, ["name", "coverage"])
    assert list(csv.DictReader(io.StringIO(text))) == [
        {"name": "'=1+1", "coverage": "-0.5"},
        {"name": "东区", "coverage": ""},
    ]
