"""The bundled us100 panel and earnings table, and the long-form panel reader.

Reads only files inside the package (and tiny hand-made files in tmp_path).
"""

from __future__ import annotations

import pandas as pd
import pytest

from backtest.core.errors import DataIntegrityError, DataUnavailable
from backtest.core.schema import TIMINGS
from backtest.core.sessions import get_calendar
from backtest.data.bundled import bundled_file
from backtest.data.files import FilePrices
from backtest.data.universe import load_us100, read_panel, us100_tickers
from backtest.events.loaders import load_event_csv, load_us100_earnings

PRICES = bundled_file("us100", "prices.parquet")
EARNINGS = bundled_file("us100", "earnings.csv")


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return pd.read_parquet(PRICES)


@pytest.fixture(scope="module")
def earnings() -> pd.DataFrame:
    return pd.read_csv(EARNINGS, dtype={"time_et": str})


def test_panel_has_100_tickers_in_the_documented_range(panel):
    assert panel["ticker"].nunique() == 100
    dates = pd.to_datetime(panel["date"])
    assert str(dates.min().date()) == "2010-01-04"
    assert str(dates.max().date()) == "2024-03-08"
    assert list(panel.columns) == [
        "ticker",
        "date",
        "open",
        "high",
        "low",
        "close",
        "adj_close",
        "volume",
    ]


def test_panel_rows_are_unique_sorted_and_consistent(panel):
    assert not panel.duplicated(["ticker", "date"]).any()
    keys = list(zip(panel["ticker"], panel["date"], strict=True))
    assert keys == sorted(keys)
    assert (panel["high"] >= panel[["open", "close"]].max(axis=1)).all()
    assert (panel["low"] <= panel[["open", "close"]].min(axis=1)).all()
    assert (panel[["open", "high", "low", "close", "adj_close"]] > 0).all().all()
    assert panel[["open", "high", "low", "close", "adj_close", "volume"]].notna().all().all()


def test_loader_returns_the_bundled_price_shape():
    frames = load_us100(["aapl", "MSFT"], start="2024-03-01", end="2024-03-08")
    assert sorted(frames) == ["AAPL", "MSFT"]
    aapl = frames["AAPL"]
    assert aapl.index.name == "session"
    assert list(aapl.columns) == ["open", "high", "low", "close", "adj_close", "volume"]
    assert (aapl.dtypes == "float64").all()
    assert len(aapl) == 6  # 2024-03-01, 03-04..03-08
    assert len(us100_tickers()) == 100


def test_earnings_one_row_per_report_with_valid_labels(earnings):
    assert not earnings.duplicated(["ticker", "report_date"]).any()
    assert set(earnings["timing"]) <= set(TIMINGS)
    assert set(earnings["timing_source"]) <= {"sec_8k", "zacks", "none"}
    assert set(earnings["ticker"]) <= set(us100_tickers())
    assert earnings["report_date"].min() >= "2010-01-04"
    assert earnings["report_date"].max() <= "2024-03-08"
    days = pd.to_datetime(earnings["report_date"])
    assert (days.groupby(earnings["ticker"]).diff().dropna().dt.days > 5).all()
    sec = earnings["timing_source"] == "sec_8k"
    assert earnings.loc[sec, "time_et"].notna().all()
    assert earnings.loc[~sec, "time_et"].isna().all()
    assert (earnings.loc[earnings["timing_source"] == "none", "timing"] == "unknown").all()
    assert (earnings.loc[earnings["timing_source"] == "zacks", "timing"].isin(["bmo", "amc"])).all()
    assert len(earnings) > 4000


def test_hand_checked_rows(earnings):
    row = earnings.set_index(["ticker", "report_date"])
    aapl = row.loc[("AAPL", "2019-01-29")]  # 8-K accepted 2019-01-29 16:30 ET
    assert (aapl["time_et"], aapl["timing"], aapl["timing_source"]) == ("16:30", "amc", "sec_8k")
    assert aapl["event_time"] == "2019-01-29T16:30:00-05:00"
    assert (aapl["eps_estimate"], aapl["eps_actual"]) == (4.17, 4.18)  # Zacks
    # Zacks calendar page of 2018-04-13: JPM bmo, estimate 2.28, reported 2.37, +0.09 (+3.95%);
    # no 8-K row (JPM is not a Nasdaq-100 name), Alpha Vantage has the same date.
    jpm = row.loc[("JPM", "2018-04-13")]
    assert (jpm["timing"], jpm["timing_source"], jpm["source"]) == (
        "bmo",
        "zacks",
        "zacks;alphavantage",
    )
    assert jpm["event_time"] == "2018-04-13" and pd.isna(jpm["time_et"])
    assert (jpm["eps_estimate"], jpm["eps_actual"], jpm["eps_surprise"], jpm["surprise_pct"]) == (
        2.28,
        2.37,
        0.09,
        3.95,
    )


def test_earnings_load_through_the_csv_event_loader():
    cal = get_calendar("XNYS")
    events = load_event_csv(EARNINGS, cal)
    assert len(events) == len(pd.read_csv(EARNINGS))
    aapl = load_us100_earnings(["AAPL"], cal)
    assert (aapl["ticker"] == "AAPL").all()
    assert aapl["source"].str.startswith("us100:").all()
    assert (aapl["known_at"] <= aapl["event_time"]).all()


# --- the panel reader on tiny hand-made files --------------------------------------------

HEADER = "ticker,date,open,high,low,close,volume\n"


def _write(tmp_path, body: str, name: str = "panel.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def test_panel_duplicate_rows_name_the_file_and_first_repeat(tmp_path):
    path = _write(
        tmp_path,
        "AAA,2024-01-02,1,2,1,1.5,10\nBBB,2024-01-03,1,2,1,1.5,10\nBBB,2024-01-03,1,2,1,1.6,10\n",
    )
    with pytest.raises(
        DataIntegrityError,
        match=r"panel\.csv: duplicate \(ticker, date\) BBB 2024-01-03 at line 3, line 4",
    ):
        read_panel(path)


def test_panel_tickers_are_upper_cased_so_case_variants_collide(tmp_path):
    path = _write(tmp_path, "aapl,2024-01-02,1,2,1,1.5,10\nAapl,2024-01-03,1,2,1,1.5,10\n")
    assert read_panel(path)["ticker"].tolist() == ["AAPL", "AAPL"]
    path = _write(tmp_path, "aapl,2024-01-02,1,2,1,1.5,10\nAAPL,2024-01-02,1,2,1,1.5,10\n")
    with pytest.raises(DataIntegrityError, match="duplicate .* AAPL 2024-01-02 .*upper-case"):
        read_panel(path)


def test_panel_bad_date_names_file_line_column_and_format(tmp_path):
    path = _write(tmp_path, "AAA,2024-01-02,1,2,1,1.5,10\nAAA,02/01/2024,1,2,1,1.5,10\n")
    with pytest.raises(DataIntegrityError) as err:
        read_panel(path)
    msg = str(err.value)
    assert "panel.csv: line 3, column date" in msg
    assert "'02/01/2024'" in msg and "expected YYYY-MM-DD" in msg


def test_panel_missing_column_and_bad_number(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("ticker,date,open,high,low,close\nAAA,2024-01-02,1,2,1,1.5\n")
    with pytest.raises(DataIntegrityError, match="lacks column\\(s\\) volume"):
        read_panel(path)
    path = _write(tmp_path, "AAA,2024-01-02,1,2,1,abc,10\n")
    with pytest.raises(DataIntegrityError, match="line 2, column close: 'abc' is not a number"):
        read_panel(path)


def test_files_source_reads_a_parquet_panel(tmp_path):
    frame = pd.DataFrame(
        {
            "Ticker": ["bbb", "aaa", "aaa"],
            "Date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-02"]),
            "Open": 1.0,
            "High": 2.0,
            "Low": 0.5,
            "Close": 1.5,
            "Adj Close": 1.4,
            "Volume": 7,
        }
    )
    path = tmp_path / "panel.parquet"
    frame.to_parquet(path)
    src = FilePrices(path)
    aaa = src.load("AAA")
    assert aaa.index.name == "session"
    assert [str(d.date()) for d in aaa.index] == ["2024-01-02", "2024-01-03"]
    assert list(aaa.columns) == ["open", "high", "low", "close", "adj_close", "volume"]
    with pytest.raises(DataUnavailable, match="not in the panel"):
        src.load("CCC")
    frame.loc[2, "Date"] = pd.Timestamp("2024-01-03")
    frame.to_parquet(path)
    with pytest.raises(
        DataIntegrityError, match=r"panel\.parquet: duplicate .* AAA 2024-01-03 at row 2, row 3"
    ):
        FilePrices(path).load("AAA")
