"""Build the bundled ``us100`` data set: 100 liquid US names, prices and earnings reports.

Reads the shared data folder (``../shared/data`` next to the repository, or
``--data DIR``); the package never reads it at run time. Writes:

``backtest/sample_data/us100/prices.parquet``
    Long-form panel ``ticker,date,open,high,low,close,adj_close,volume`` of the
    100 names, every row of the dieperdev ``liquid500`` parquet for them
    (2010-01-04, or the listing day, .. 2024-03-08), sorted by ticker and date,
    prices float32 as in the source, zstd-compressed.

``backtest/sample_data/us100/earnings.csv``
    One row per earnings report of those names dated inside each name's price
    range, merged from the SEC 8-K acceptance times, the Zacks calendar
    2017-2019 and the Alpha Vantage report dates.

Selection rule
--------------
Rank the 500 tickers of the liquid500 parquet by the median daily dollar volume
(``close * volume``, float64) over the last 252 sessions of the file
(2023-03-09..2024-03-08), each ticker over the sessions it has in that window
(all of the chosen 100 have all 252); keep the first 100, ties broken by ticker.

Merge rule
----------
Source rows of one ticker are sorted by date; a row starting more than
``MERGE_DAYS`` (5) calendar days after the first row of the current group opens
a new report, otherwise it joins the group. A group holding two rows of one
source is an error (it would be two reports). The report's date and time come
from the SEC 8-K (acceptance time in New York) if present, else Zacks (date and
bmo/amc), else Alpha Vantage (date only). ``timing`` is derived from the 8-K
acceptance time by the project's own rule (:func:`backtest.core.sessions.classify_timing`
on the XNYS calendar: before the open bmo, before the close intraday, else amc);
without an 8-K it is Zacks' bmo/amc; otherwise ``unknown``. ``timing_source``
says which (``sec_8k``, ``zacks``, ``none``). ``source`` lists every source that
had the report, with ``@<date>`` where its date differs from the report's.

Run ``python benchmarks/make_us100.py`` from the repository root; ``--n 500 --out DIR``
builds the same files for all 500 names (``make universe`` does, into ``build/``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backtest.core.sessions import classify_timing, get_calendar  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data"
OUT = REPO / "backtest" / "sample_data" / "us100"
LIQUID500 = "dieperdev_yfinance/liquid500/liquid500_daily_2010_2024-03-08.parquet"
EDGAR = "earnings/ndx_edgar_8k_2018_2026/earnings_dates_edgar.csv"
ALPHAVANTAGE = "earnings/alphavantage_reportdates_1996_2026/earnings_dates.csv"
ZACKS_DIR = "earnings/zacks_calendar_2017_2019"

N_NAMES = 100
WINDOW_SESSIONS = 252
MERGE_DAYS = 5
TZ = "America/New_York"
# Zacks 2017-2019 spells these by their old tickers.
ZACKS_RENAMES = {"FB": "META", "CTRP": "TCOM"}
PRICE_COLUMNS = ["open", "high", "low", "close", "adj_close"]
SOURCE_ORDER = ("sec_8k", "zacks", "alphavantage")
EARNINGS_COLUMNS = [
    "ticker",
    "report_date",
    "time_et",
    "event_time",
    "timing",
    "timing_source",
    "source",
    "eps_estimate",
    "eps_actual",
    "eps_surprise",
    "surprise_pct",
    "note",
]
NEAR_DAYS = 30


def read_panel(data: Path) -> pd.DataFrame:
    """The liquid500 parquet with a plain string ticker column."""
    panel = pd.read_parquet(data / LIQUID500)
    panel["ticker"] = panel["ticker"].astype(str)
    return panel


def rank_liquidity(panel: pd.DataFrame) -> pd.DataFrame:
    """Median dollar volume over the last ``WINDOW_SESSIONS`` sessions, most liquid first."""
    days = np.sort(panel["date"].unique())
    window = panel[panel["date"] >= days[-WINDOW_SESSIONS]]
    dollars = window["close"].astype("float64") * window["volume"].astype("float64")
    stats = dollars.groupby(window["ticker"]).agg(["median", "size"])
    stats = stats.rename(columns={"median": "median_dollar_volume", "size": "sessions"})
    stats = stats.reset_index().sort_values(
        ["median_dollar_volume", "ticker"], ascending=[False, True]
    )
    stats.attrs["window"] = (pd.Timestamp(days[-WINDOW_SESSIONS]), pd.Timestamp(days[-1]))
    return stats.reset_index(drop=True)


def write_prices(panel: pd.DataFrame, tickers: list[str], path: Path) -> pd.DataFrame:
    """Write the chosen names' rows as a zstd Parquet panel sorted by ticker and date."""
    out = panel[panel["ticker"].isin(tickers)].sort_values(["ticker", "date"])
    out = out[["ticker", "date", *PRICE_COLUMNS, "volume"]].reset_index(drop=True)
    out["date"] = out["date"].astype("datetime64[s]").dt.date
    schema = pa.schema(
        [("ticker", pa.string()), ("date", pa.date32())]
        + [(c, pa.float32()) for c in PRICE_COLUMNS]
        + [("volume", pa.int64())]
    )
    table = pa.Table.from_pandas(out, schema=schema, preserve_index=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Byte-stream-split floats and delta-coded dates/volumes: the same values, ~3 % smaller
    # than plain encoding (5.13 MB instead of 5.29 MB for the 100 names).
    encoding = {c: "BYTE_STREAM_SPLIT" for c in PRICE_COLUMNS}
    encoding |= {"date": "DELTA_BINARY_PACKED", "volume": "DELTA_BINARY_PACKED"}
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=19,
        use_dictionary=["ticker"],
        column_encoding=encoding,
    )
    return out


def sec_rows(data: Path, tickers: set[str], cal) -> pd.DataFrame:
    """8-K rows: the report day and clock time are those of the SEC acceptance (New York)."""
    edgar = pd.read_csv(data / EDGAR, dtype=str)
    edgar = edgar[edgar["ticker"].isin(tickers)]
    accepted = pd.to_datetime(edgar["accept_et"].str.removesuffix(" ET"), format="%Y-%m-%d %H:%M")
    stamps = accepted.dt.tz_localize(TZ)
    timing = [classify_timing(t, cal) for t in stamps]
    return pd.DataFrame(
        {
            "ticker": edgar["ticker"].to_numpy(),
            "date": accepted.dt.normalize().to_numpy(),
            "time_et": accepted.dt.strftime("%H:%M").to_numpy(),
            "event_time": [t.isoformat() for t in stamps],
            "timing": timing,
            "source_timing": edgar["timing"].to_numpy(),
            "src": "sec_8k",
        }
    )


def _number(values: pd.Series) -> pd.Series:
    """Zacks figures as numbers; a few (outside the 100 names) carry thousands separators."""
    return pd.to_numeric(values.str.replace(",", "", regex=False))


def zacks_rows(data: Path, tickers: set[str]) -> tuple[pd.DataFrame, int]:
    """Zacks calendar rows (junk ``QTR``/``YR`` rows dropped, old tickers renamed)."""
    files = sorted((data / ZACKS_DIR).glob("*.csv"))
    raw = pd.concat([pd.read_csv(f, dtype=str) for f in files], ignore_index=True)
    junk = raw["timing"].isin(["QTR", "YR"])
    raw = raw[~junk].copy()
    raw["ticker"] = raw["symbol"].replace(ZACKS_RENAMES)
    raw = raw[raw["ticker"].isin(tickers)]
    out = pd.DataFrame(
        {
            "ticker": raw["ticker"].to_numpy(),
            "date": pd.to_datetime(raw["date"], format="%Y-%m-%d").to_numpy(),
            "timing": raw["timing"].fillna("unknown").to_numpy(),
            "eps_estimate": _number(raw["eps_estimate"]).to_numpy(),
            "eps_actual": _number(raw["eps_reported"]).to_numpy(),
            "eps_surprise": _number(raw["eps_surprise"]).to_numpy(),
            "surprise_pct": _number(raw["eps_surprise_pct"]).to_numpy(),
            "src": "zacks",
        }
    )
    return out, int(junk.sum())


def alphavantage_rows(data: Path, tickers: set[str]) -> pd.DataFrame:
    """Alpha Vantage report dates (no time of day)."""
    av = pd.read_csv(data / ALPHAVANTAGE, dtype=str)
    av = av[av["symbol"].isin(tickers)]
    return pd.DataFrame(
        {
            "ticker": av["symbol"].to_numpy(),
            "date": pd.to_datetime(av["report_date"], format="%Y-%m-%d").to_numpy(),
            "src": "alphavantage",
        }
    )


def group_reports(rows: pd.DataFrame) -> pd.Series:
    """Group number of every row: same ticker, within ``MERGE_DAYS`` of the group's first row."""
    rows = rows.sort_values(["ticker", "date", "src"])
    groups, n, first, ticker = {}, -1, None, None
    for idx, rec in zip(rows.index, rows[["ticker", "date"]].itertuples(index=False), strict=True):
        if rec.ticker != ticker or (rec.date - first).days > MERGE_DAYS:
            n, first, ticker = n + 1, rec.date, rec.ticker
        groups[idx] = n
    return pd.Series(groups).reindex(rows.index)


def merge_group(group: pd.DataFrame) -> dict:
    """One report from the rows of one group (precedence SEC > Zacks > Alpha Vantage)."""
    by_src = {r["src"]: r for r in group.to_dict("records")}
    if len(by_src) != len(group):
        raise ValueError(f"two rows of one source in one report:\n{group.to_string()}")
    lead = next(by_src[s] for s in SOURCE_ORDER if s in by_src)
    day = lead["date"]
    zacks = by_src.get("zacks")
    row = {
        "ticker": lead["ticker"],
        "report_date": day.strftime("%Y-%m-%d"),
        "time_et": lead.get("time_et") if lead["src"] == "sec_8k" else None,
        "event_time": lead["event_time"] if lead["src"] == "sec_8k" else day.strftime("%Y-%m-%d"),
    }
    if lead["src"] == "sec_8k":
        row["timing"], row["timing_source"] = lead["timing"], "sec_8k"
    elif zacks is not None and zacks["timing"] in ("bmo", "amc"):
        row["timing"], row["timing_source"] = zacks["timing"], "zacks"
    else:
        row["timing"], row["timing_source"] = "unknown", "none"
    row["source"] = ";".join(
        s if by_src[s]["date"] == day else f"{s}@{by_src[s]['date']:%Y-%m-%d}"
        for s in SOURCE_ORDER
        if s in by_src
    )
    for col in ("eps_estimate", "eps_actual", "eps_surprise", "surprise_pct"):
        row[col] = zacks[col] if zacks is not None else np.nan
    row["zacks_timing"] = zacks["timing"] if zacks is not None else None
    row["sec_source_timing"] = by_src["sec_8k"]["source_timing"] if "sec_8k" in by_src else None
    return row


def build_earnings(
    data: Path, prices: pd.DataFrame, cal, lenient: bool = False
) -> tuple[pd.DataFrame, dict]:
    """Merge every source into one row per report inside each ticker's price range.

    ``lenient`` (builds beyond the bundled 100): where one source has two rows in one
    report, its first is kept and the others are counted and listed, not an error.
    """
    tickers = set(prices["ticker"])
    zacks, junk = zacks_rows(data, tickers)
    rows = pd.concat(
        [sec_rows(data, tickers, cal), zacks, alphavantage_rows(data, tickers)], ignore_index=True
    )
    span = prices.groupby("ticker")["date"].agg(["min", "max"])
    first = pd.to_datetime(rows["ticker"].map(span["min"]))
    last = pd.to_datetime(rows["ticker"].map(span["max"]))
    inside = (rows["date"] >= first) & (rows["date"] <= last)
    stats = {
        "zacks_junk_rows_dropped": junk,
        "source_rows_in_range": rows[inside]["src"].value_counts(),
    }
    stats["source_rows_out_of_range"] = int((~inside).sum())
    rows = rows[inside].copy()
    rows["group"] = group_reports(rows)
    if lenient:
        repeat = rows.sort_values(["group", "src", "date"]).duplicated(["group", "src"])
        repeat = repeat.reindex(rows.index)
        stats["same_source_repeats_dropped"] = int(repeat.sum())
        stats["same_source_repeats"] = rows.loc[repeat, ["ticker", "date", "src"]].astype(str)
        stats["same_source_repeats"] = stats["same_source_repeats"].agg(" ".join, axis=1).tolist()
        rows = rows[~repeat]
    merged = [merge_group(g) for _, g in rows.groupby("group", sort=True)]
    table = pd.DataFrame(merged).sort_values(["ticker", "report_date"]).reset_index(drop=True)
    table["note"] = notes(table)
    return table, stats


def notes(table: pd.DataFrame) -> pd.Series:
    """Flag what a user should know about a row: Zacks' other timing, a report close by.

    ``zacks:<timing>`` where the 8-K time gives another timing than Zacks;
    ``near:<date>`` for each report of the same ticker less than ``NEAR_DAYS``
    days away (one of the two may be a stale or misdated copy: both are kept).
    """
    out = [[] for _ in range(len(table))]
    sec = table["timing_source"] == "sec_8k"
    other = (
        sec
        & table["zacks_timing"].isin(["bmo", "amc"])
        & (table["timing"] != table["zacks_timing"])
    )
    for i in table.index[other]:
        out[i].append(f"zacks:{table.at[i, 'zacks_timing']}")
    days = pd.to_datetime(table["report_date"])
    for i in range(1, len(table)):
        same = table.at[i, "ticker"] == table.at[i - 1, "ticker"]
        if same and (days[i] - days[i - 1]).days < NEAR_DAYS:
            out[i].append(f"near:{table.at[i - 1, 'report_date']}")
            out[i - 1].append(f"near:{table.at[i, 'report_date']}")
    return pd.Series([";".join(n) or None for n in out], index=table.index)


def check_earnings(table: pd.DataFrame) -> dict:
    """Figures printed by the build (and checked by nothing at run time)."""
    days = pd.to_datetime(table["report_date"])
    gaps = days.groupby(table["ticker"]).diff().dt.days.dropna()
    sec = table[table["timing_source"] == "sec_8k"]
    both = sec[sec["zacks_timing"].isin(["bmo", "amc"])]
    return {
        "reports": len(table),
        "tickers_with_reports": table["ticker"].nunique(),
        "timing": table["timing"].value_counts().to_dict(),
        "timing_source": table["timing_source"].value_counts().to_dict(),
        "sources": table["source"]
        .str.replace(r"@[0-9-]+", "", regex=True)
        .value_counts()
        .to_dict(),
        "rows_with_another_date": int(table["source"].str.contains("@").sum()),
        "min_gap_days": int(gaps.min()),
        "gaps_under_45_days": int((gaps < 45).sum()),
        "sec_vs_own_timing_differs": int((sec["timing"] != sec["sec_source_timing"]).sum()),
        "sec_and_zacks_timing": len(both),
        "sec_vs_zacks_timing_differs": int((both["timing"] != both["zacks_timing"]).sum()),
        "with_eps_actual": int(table["eps_actual"].notna().sum()),
        "with_note_near": int(table["note"].str.contains("near:", na=False).sum()),
        "intraday_by_ticker": table.loc[table["timing"] == "intraday", "ticker"]
        .value_counts()
        .to_dict(),
        "first": table["report_date"].min(),
        "last": table["report_date"].max(),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared/data folder")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument(
        "--n", type=int, default=N_NAMES, help="names to keep (500: all; `make universe`)"
    )
    p.add_argument(
        "--lenient",
        action="store_true",
        help="keep a source's first row where it has two in one report (listed), not an error",
    )
    args = p.parse_args(argv)
    build(args.data, args.out, args.n, args.lenient)


def build(data: Path, out: Path, n_names: int = N_NAMES, lenient: bool = False) -> None:
    """Write ``prices.parquet`` and ``earnings.csv`` of the ``n_names`` most liquid names."""
    panel = read_panel(data)
    ranking = rank_liquidity(panel)
    start, end = ranking.attrs["window"]
    chosen = ranking.head(n_names)
    print(
        f"window {start:%Y-%m-%d}..{end:%Y-%m-%d}; sessions of the chosen:",
        chosen["sessions"].min(),
        "..",
        chosen["sessions"].max(),
    )
    nxt = ranking.iloc[n_names] if len(ranking) > n_names else None
    print(
        f"rank {len(chosen)}: {chosen.iloc[-1].ticker} "
        f"{chosen.iloc[-1].median_dollar_volume:,.0f}; rank {len(chosen) + 1}: "
        + (f"{nxt.ticker} {nxt.median_dollar_volume:,.0f}" if nxt is not None else "none")
    )
    prices = write_prices(panel, sorted(chosen["ticker"]), out / "prices.parquet")
    print(
        f"prices: {len(prices):,} rows, {prices['ticker'].nunique()} tickers, "
        f"{prices['date'].min()}..{prices['date'].max()}"
    )
    prices["date"] = pd.to_datetime(prices["date"])
    table, stats = build_earnings(data, prices, get_calendar("XNYS"), lenient)
    table[EARNINGS_COLUMNS].to_csv(out / "earnings.csv", index=False, float_format="%.10g")
    for key, value in {**stats, **check_earnings(table)}.items():
        print(f"{key}: {value}")
    for name in ("prices.parquet", "earnings.csv"):
        print(f"{name}: {(out / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
