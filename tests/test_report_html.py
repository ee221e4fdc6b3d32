"""report.html: a self-contained page built from a results folder's files (issue 7)."""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from backtest.data.synthetic import geometric_prices
from backtest.report import html as report_html
from backtest.report.html import render_report, write_report
from backtest.run.runner import run
from tests.conftest import REPO, SESSIONS, base_config, write_config, write_prices
from tests.test_pipeline import EARNINGS, HOLD, MOMENTUM, NEWS

# 1x1 transparent PNG, the smallest valid image to embed.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
SCREENSHOT = REPO / "report_screenshot.png"  # git-ignored; for a human to look at


def _folder(root: Path) -> Path:
    """A results folder of hand-written files: known, unknown, nested, hostile."""
    (root / "charts" / "events").mkdir(parents=True)
    (root / "metrics.csv").write_text("strategy,total_return,sharpe,n_trades\nhold,0.0125,1.5,2\n")
    (root / "trades.csv").write_text(
        "strategy,ticker,net_return,exit_reason\nhold,NA,-0.02,<script>alert(1)</script>\n"
    )
    (root / "drops.csv").write_text("event_id,reason,strategy\ne1,outside_period,\n")
    (root / "zz_custom.csv").write_text("a,b\n1,x\n")
    (root / "caar.csv").write_text("group_by,group,day,caar\nall,all,0,0.003\n")
    (root / "broken.csv").write_bytes(b"")
    for name in ("charts/equity.png", "charts/drawdown.png", "charts/events/e1.png"):
        (root / name).write_bytes(PIXEL)
    (root / "manifest.json").write_text('{"run_id": "demo-run", "counts": {"trades": 1}}')
    nested = root / "top" / "child"
    nested.mkdir(parents=True)
    (nested / "manifest.json").write_text('{"run_id": "child"}')
    (nested / "metrics.csv").write_text("strategy,cagr\nchild_only_strategy,0.1\n")
    return root


def _order(page: str, *needles: str) -> list[int]:
    return [page.index(n) for n in needles]


def test_known_tables_first_in_fixed_order_unknown_last(tmp_path):
    page = render_report(_folder(tmp_path))
    titles = re.findall(r"<h2>(.*?)</h2>", page)
    assert titles[:3] == ["Metrics", "Charts", "Charts: events"]
    assert titles.index("Trades") < titles.index("Event study: CAAR by day")
    assert titles.index("Event study: CAAR by day") < titles.index("Dropped events (with reasons)")
    # Unknown tables after every known one, alphabetically; then nested runs and the manifest.
    assert titles[-5:] == ["broken.csv", "zz_custom.csv", "Nested results", "Run manifest", "Files"]


def test_values_are_escaped_and_formatted(tmp_path):
    page = render_report(_folder(tmp_path))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<td>NA</td>" in page  # a ticker "NA" is not a missing value
    assert "1.25%" in page and "-2.00%" in page and "0.30%" in page  # fractions as percent
    assert '<td class="num">2</td>' in page  # a count stays a whole number
    assert "could not read broken.csv" in page  # an unreadable file is said, not skipped


def test_page_is_self_contained(tmp_path):
    page = render_report(_folder(tmp_path))
    assert page.count('src="data:image/png;base64,') == 3  # every chart, the nested run's not
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # no network reference
    assert "<script" not in page
    assert "child_only_strategy" not in page  # a nested run is linked, not inlined
    assert 'href="top/child"' in page


def test_long_tables_are_cut_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setattr(report_html, "MAX_ROWS", 3)
    pd.DataFrame({"session": range(10)}).to_csv(tmp_path / "equity.csv", index=False)
    page = render_report(tmp_path)
    assert "first 3 of 10 rows; the full table is equity.csv" in page
    assert page.count("<tr><td") == 3


def test_title_is_the_run_id_even_in_a_temp_folder(tmp_path):
    folder = _folder(tmp_path / ".tmp-123")
    assert "<h1>demo-run</h1>" in render_report(folder)
    assert write_report(folder) == folder / "report.html"


@pytest.fixture(scope="module")
def chart_run(tmp_path_factory):
    """A synthetic run with every chart (two strategies, two event charts), published once."""
    root = tmp_path_factory.mktemp("run")
    prices = write_prices(
        root / "prices",
        {
            "A": geometric_prices(SESSIONS, growth=0.01, gap=0.002),
            "SPY": geometric_prices(SESSIONS, growth=0.0, gap=0.0),
        },
    )
    data = base_config(prices, [EARNINGS, NEWS], [HOLD, MOMENTUM], fees_bps=10)
    data["output"] = {"charts": True, "max_event_charts": 2}
    return run(write_config(root, data), out_dir=root / "results")


def test_a_run_publishes_report_html_with_every_chart(chart_run):
    page = (chart_run.folder / "report.html").read_text()
    pngs = list((chart_run.folder / "charts").rglob("*.png"))
    assert len(pngs) >= 4
    assert page.count('src="data:image/png;base64,') == len(pngs)
    for strategy in chart_run.metrics["strategy"]:
        assert f">{strategy}</th>" in page


def test_the_file_list_matches_the_published_folder(chart_run):
    """The page is written while the folder is staged; its list is of what gets published."""
    page = (chart_run.folder / "report.html").read_text()
    listed = [h for h in re.findall(r"<li><a href=\"([^\"]+)\">", page) if not h.startswith("#")]
    published = sorted(
        p.relative_to(chart_run.folder).as_posix()
        for p in chart_run.folder.rglob("*")
        if p.is_file() and p.name != "report.html"
    )
    assert "INCOMPLETE" not in listed
    assert sorted(listed) == published


def test_without_charts_the_report_has_tables_only(tmp_path, market):
    data = base_config(market, [EARNINGS, NEWS], [HOLD, MOMENTUM])  # output.charts: false
    result = run(write_config(tmp_path, data), out_dir=tmp_path / "results")
    page = (result.folder / "report.html").read_text()
    assert "<img" not in page and not (result.folder / "charts").exists()
    assert "<h2>Metrics</h2>" in page and "<h2>Trades</h2>" in page


def _browser_or_skip():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright not installed: pip install -e '.[dev]'"
    )
    if not CHROMIUM.exists():
        message = (
            f"no Chromium at {CHROMIUM}: `make test` installs the Debian package `chromium` "
            "when run as root on a machine with apt; else apt-get install chromium"
        )
        if os.environ.get("BACKTEST_REQUIRE_BROWSER"):  # .ci/run sets it: CI must not skip
            pytest.fail(message)
        pytest.skip(message)
    return sync_api


def test_report_renders_in_headless_chromium(chart_run, tmp_path):
    sync_api = _browser_or_skip()
    report = chart_run.folder / "report.html"
    problems, requests = [], []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})  # a laptop
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri(), wait_until="load")
            images = page.evaluate(
                "Array.from(document.images, i => [i.alt, i.complete && i.naturalWidth])"
            )
            layout = page.evaluate(
                """() => ({
                  pageWidth: document.documentElement.scrollWidth,
                  viewWidth: window.innerWidth,
                  kvOverflow: Array.from(document.querySelectorAll('table.kv'),
                    t => t.parentElement.scrollWidth - t.parentElement.clientWidth),
                  smallestFont: Math.min(...Array.from(
                    document.querySelectorAll('td, th, p, li, figcaption'),
                    e => parseFloat(getComputedStyle(e).fontSize))),
                })"""
            )
            header = page.locator("section:has(h2:text-is('Metrics')) thead th").all_inner_texts()
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert len(images) == len(list((chart_run.folder / "charts").rglob("*.png")))
    assert all(width and width > 0 for _, width in images), images
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert header == ["metric", *chart_run.metrics["strategy"]]
    # Wide tables scroll inside their box; the page itself never scrolls sideways.
    assert layout["pageWidth"] <= layout["viewWidth"], layout
    # Key-value tables (notes, run details) wrap their values instead of scrolling.
    assert layout["kvOverflow"] and max(layout["kvOverflow"]) <= 0, layout
    assert layout["smallestFont"] >= 12, layout
    assert (tmp_path / "report.png").stat().st_size > 10_000
