"""The event study attached to every run (issue 7, deliverable 3): config section, the
results folder's event_study/, the manifest note when it is skipped, the report and the CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest
from scipy import stats

from backtest.config.model import load_config
from backtest.core.errors import ConfigError
from backtest.eventstudy import headline
from backtest.run.runner import run, run_loaded
from tests.conftest import REPO, base_config, write_config
from tests.test_pipeline import EARNINGS, HOLD, MOMENTUM, NEWS

BABA = REPO / "configs" / "baba_2026.yaml"
NOW = pd.Timestamp("2026-07-24", tz="UTC")
TABLES = ("tests", "caar", "car", "ar", "attribution", "best_worst_events", "drops")
LATER = {**EARNINGS, "time": "2026-03-05"}  # a third event for the synthetic market


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """configs/baba_2026.yaml (3 real events) published with charts, no price charts."""
    root = tmp_path_factory.mktemp("runs")
    return run(BABA, out_dir=root, overrides=["output.max_event_charts=0"], now=NOW)


def _synthetic(tmp_path, market, charts=False, **data):
    config = base_config(market, [EARNINGS, NEWS, LATER], [HOLD, MOMENTUM])
    config["output"] = {"charts": charts}
    return write_config(tmp_path, {**config, **data})


def _manifest(folder) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def test_a_run_publishes_its_event_study(published):
    study = published.folder / "event_study"
    for name in TABLES:
        assert (study / f"{name}.csv").is_file(), name
    assert (study / "charts" / "car_all_all.png").is_file()
    # benchmarks: [BABA, SPY]: BABA is traded, so SPY is the market index.
    assert _manifest(published.folder)["event_study"] == {
        "folder": "event_study",
        "benchmark": "SPY",
        "studied": 3,
        "dropped": {},
    }


def test_written_tests_match_scipy_on_the_written_cars(published):
    study = published.folder / "event_study"
    car = pd.read_csv(study / "car.csv")["car[0,+1]"]
    tests = pd.read_csv(study / "tests.csv")
    row = tests[
        (tests["group_by"] == "all")
        & (tests["window"] == "[0,+1]")
        & (tests["test"] == "cross_sectional_t")
    ].iloc[0]
    want = stats.ttest_1samp(car, 0.0)
    assert row["n"] == 3 and row["caar"] == pytest.approx(car.mean(), rel=1e-9)
    assert row["statistic"] == pytest.approx(want.statistic, rel=1e-9)
    assert row["p_value"] == pytest.approx(want.pvalue, rel=1e-9)
    line = headline(published.event_study)
    assert f"mean CAR[0,+1] = {100 * car.mean():+.2f}%" in line
    # 3 events < sample_size.MIN_EVENTS: the console says so instead of t and p (the
    # numbers above stay in tests.csv).
    assert "(n = 3: too few for a test)" in line


def test_attribution_covers_every_trade(published):
    trades = pd.read_csv(published.folder / "trades.csv")
    split = pd.read_csv(published.folder / "event_study" / "attribution.csv")
    assert split["event_id"].tolist() == trades["event_id"].tolist()
    assert split["net_return"].tolist() == pytest.approx(trades["net_return"].tolist(), rel=1e-9)


def test_report_shows_the_study_tables_and_charts(published):
    page = (published.folder / "report.html").read_text()
    titles = re.findall(r"<h2>(.*?)</h2>", page)
    at = titles.index("Event study: significance tests")
    assert titles[at + 1] == "Event study: charts"  # the charts follow the tests
    for title in ("CAAR by day", "best and worst events", "CAR per event"):
        assert f"Event study: {title}" in titles
    assert titles.index("Trades") < at < titles.index("Aligned events")
    pngs = list(published.folder.rglob("*.png"))
    assert page.count('src="data:image/png;base64,') == len(pngs) > 3


def test_rerun_writes_identical_study_tables(published):
    keep = ["output.max_event_charts=0", "output.if_exists=suffix"]  # keep both to compare
    again = run(BABA, out_dir=published.folder.parent, overrides=keep, now=NOW)
    assert again.folder.name == published.folder.name + "-2"
    for name in TABLES:
        path = f"event_study/{name}.csv"
        assert (again.folder / path).read_bytes() == (published.folder / path).read_bytes(), name


def test_disabled_section_writes_no_folder(tmp_path, market):
    config = _synthetic(tmp_path, market, event_study={"enabled": False})
    result = run(config, out_dir=tmp_path / "results")
    assert result.event_study is None and not (result.folder / "event_study").exists()
    assert _manifest(result.folder)["event_study"]["note"].startswith("disabled")


@pytest.mark.parametrize(
    ("extra", "ticker"),
    [({"benchmarks": []}, "SPY"), ({"event_study": {"benchmark": "QQQ"}}, "QQQ")],
)
def test_benchmark_without_prices_skips_the_study_not_the_run(tmp_path, market, extra, ticker):
    result = run(_synthetic(tmp_path, market, **extra), out_dir=tmp_path / "results")
    assert len(result.trades) == 3 and result.event_study is None
    note = _manifest(result.folder)["event_study"]["note"]
    assert note.startswith("skipped") and f"no prices for the benchmark {ticker}" in note
    assert not (result.folder / "event_study").exists()


def test_too_few_events_skip_the_study(tmp_path, market):
    config = _synthetic(tmp_path, market, event_study={"min_events": 4})
    result = run(config, out_dir=tmp_path / "results")
    assert "3 aligned events, fewer than event_study.min_events (4)" in result.event_study_note


def test_short_history_drops_every_event_with_a_reason(tmp_path, market):
    # 61 sessions of prices cannot fill a 240-session estimation window.
    result = run(_synthetic(tmp_path, market, charts=True), out_dir=tmp_path / "results")
    study = result.folder / "event_study"
    drops = pd.read_csv(study / "drops.csv")
    assert sorted(drops["event_id"]) == sorted(result.events["event_id"])
    assert (drops["stage"] == "event_study").all() and drops["reason"].notna().all()
    assert pd.read_csv(study / "tests.csv").empty
    assert (
        headline(result.event_study) == "event study: no event could be studied vs SPY (3 dropped)"
    )


def test_the_section_keeps_run_ids_of_configs_without_it(tmp_path, market):
    def run_id(*sets: str) -> str:
        return run_loaded(load_config(_synthetic(tmp_path, market), list(sets))).run_id

    plain = run_id()
    assert run_id("event_study.enabled=true", "event_study.seed=0") == plain  # the defaults
    assert run_id("event_study.seed=1") != plain


def test_section_errors_name_the_key(tmp_path):
    text = BABA.read_text() + "\nevent_study:\n  event_windw: [-5, 5]\n"
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigError, match="event_study.event_windw.*did you mean 'event_window'"):
        load_config(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="must end before event_window"):
        load_config(BABA, ["event_study.estimation_window=[-100,-5]"])


def test_cli_prints_one_study_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "backtest", "run", str(BABA), "--out", str(tmp_path)]
        + ["--set", "output.charts=false"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [s for s in done.stdout.splitlines() if s.startswith("event study:")]
    assert len(lines) == 1 and "3 events vs SPY, mean CAR[0,+1] = " in lines[0]
