"""`backtest data import SRC --to DIR`: a panel becomes per-ticker files, streamed, or
nothing is written and one line names the file, row, field and fix."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from backtest.cli.commands import app
from backtest.core.errors import DataError, DataIntegrityError
from backtest.data.files import FilePrices
from backtest.data.importer import import_panel
from backtest.data.universe import read_panel

HEADER = "ticker,date,open,high,low,close,volume\n"
ROWS = [
    "BBB,2024-01-03,10,11,9,10.5,100",
    "AAA,2024-01-02,1,2,0.5,1.5,10",
    "BBB,2024-01-02,10,11,9,10.2,100",
    "AAA,2024-01-03,1.5,2,1,1.8,12",
    "AAA,2024-01-04,1.8,2,1,1.9,13",
]


def _csv(tmp_path, rows: list[str], name: str = "panel.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def test_import_writes_one_file_per_ticker_equal_to_the_panel(tmp_path):
    src = _csv(tmp_path, ROWS)
    seen = []
    report = import_panel(src, tmp_path / "out", chunk_rows=1, progress=lambda d, t: seen.append(d))
    assert (report.tickers, report.rows) == (2, 5)
    assert report.chunks > 1 and len(seen) == report.chunks  # streamed in several chunks
    assert seen == sorted(seen) and seen[-1] == src.stat().st_size
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["AAA.parquet", "BBB.parquet"]
    whole = read_panel(src)
    files = FilePrices(tmp_path / "out")
    for ticker in ("AAA", "BBB"):
        expected = whole[whole["ticker"] == ticker].set_index("date").drop(columns="ticker")
        got = files.load(ticker)
        assert list(got.index) == list(expected.index)  # sorted by date
        assert (got.to_numpy() == expected.to_numpy()).all()


def test_parquet_is_read_in_batches_with_row_progress(tmp_path):
    src = tmp_path / "panel.parquet"
    read_panel(_csv(tmp_path, ROWS)).to_parquet(src)
    seen = []
    report = import_panel(
        src, tmp_path / "out", chunk_rows=2, progress=lambda d, t: seen.append((d, t))
    )
    assert report.chunks == 3 and seen == [(2, 5), (4, 5), (5, 5)]
    assert len(FilePrices(tmp_path / "out").load("AAA")) == 3


def test_mixed_case_tickers_are_one_name_and_counted(tmp_path):
    rows = [
        r.replace("AAA,2024-01-03", "aaa,2024-01-03").replace("BBB,2024-01-02", " Bbb,2024-01-02")
        for r in ROWS
    ]
    report = import_panel(_csv(tmp_path, rows), tmp_path / "out", chunk_rows=1)
    assert (report.tickers, report.rows, report.recased) == (2, 5, 2)
    assert len(FilePrices(tmp_path / "out").load("AAA")) == 3


def test_duplicate_ticker_date_across_chunks_names_both_lines_and_writes_nothing(tmp_path):
    src = _csv(tmp_path, [*ROWS, "aaa,2024-01-02,1,2,0.5,1.5,10"])
    with pytest.raises(DataIntegrityError) as err:
        import_panel(src, tmp_path / "out", chunk_rows=1)
    assert "panel.csv: duplicate (ticker, date) AAA 2024-01-02 at line 3, line 7" in str(err.value)
    assert "keep one row per ticker and session" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["panel.csv"]  # no out, no temp folder


def test_a_date_in_another_format_names_line_value_and_the_option(tmp_path):
    rows = [r.replace("2024-01-04", "04/01/2024") for r in ROWS]
    src = _csv(tmp_path, rows)
    with pytest.raises(DataIntegrityError) as err:
        import_panel(src, tmp_path / "out", chunk_rows=1)
    message = str(err.value)
    assert "panel.csv: line 6, column date: cannot read '04/01/2024'" in message
    assert "expected YYYY-MM-DD" in message and "--date-format" in message
    assert not (tmp_path / "out").exists()
    # The same rows written day/month/year read with --date-format.
    eu = _csv(tmp_path, [f"{r[:4]}{r[12:14]}/01/2024{r[14:]}" for r in ROWS], "eu.csv")
    report = import_panel(eu, tmp_path / "eu", date_format="%d/%m/%Y")
    assert report.first == pd.Timestamp("2024-01-02") and report.last == pd.Timestamp("2024-01-04")


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path):
    src = _csv(tmp_path, ROWS)
    with pytest.raises(
        DataError, match=r"panel\.csv: 0\.0 MiB is above the import limit .*--max-mb"
    ):
        import_panel(src, tmp_path / "out", max_bytes=100)
    assert not (tmp_path / "out").exists()


def test_an_existing_folder_with_files_is_not_overwritten(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(DataError, match="already exists and is not an empty folder"):
        import_panel(_csv(tmp_path, ROWS), tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]


def test_cli_imports_and_bad_input_exits_2_with_one_line(tmp_path):
    src = _csv(tmp_path, ROWS)
    good = CliRunner().invoke(app, ["data", "import", str(src), "--to", str(tmp_path / "out")])
    assert good.exit_code == 0, good.output
    assert "wrote 2 tickers, 5 rows" in good.output and "data.source: files" in good.output
    dup = _csv(tmp_path, [*ROWS, ROWS[0]], "dup.csv")
    bad = subprocess.run(
        [sys.executable, "-m", "backtest", "data", "import", str(dup), "--to", str(tmp_path / "b")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "dup.csv: duplicate (ticker, date) BBB 2024-01-03" in lines[0]
    assert not (tmp_path / "b").exists()
