"""``report.html``: one self-contained page of a results folder, built from its files.

The page is made from what the folder holds, not from in-memory results, so it
renders any folder: a run, a sweep, an event study. Known tables (``metrics.csv``
first) come in a fixed order, unknown CSV/Parquet files after them; every PNG
under ``charts/`` is embedded as a base64 data URI. CSS is inline, there is no
JavaScript and no network reference, so the file can be mailed or archived alone.
Nested results folders (a sweep's ``top/<run>/``) are linked, not inlined.

The page is rendered from the jinja2 templates in ``templates/`` (autoescaped).
Tables with statistics are judged by :mod:`backtest.core.sample_size`
(:data:`JUDGES`): a value resting on too few trades, sessions or events shows its n
greyed instead of the number. Instants are shown in the exchange's zone, read from
the manifest's ``timezone``.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import math
import struct
from pathlib import Path

import pandas as pd

from backtest.core import sample_size
from backtest.report.html_cells import format_value, table_html, transposed_html
from backtest.report.templates import macro, render
from backtest.report.writer import INCOMPLETE

__all__ = ["REPORT_NAME", "render_report", "write_report"]

REPORT_NAME = "report.html"
MAX_ROWS = 500  # rows shown per table; the note under a cut table names the full file
TABLE_SUFFIXES = (".csv", ".parquet")
# (file-name pattern, section title); the order here is the order on the page.
KNOWN_TABLES = (
    ("metrics.csv", "Metrics"),
    ("cost_sensitivity.csv", "Cost sensitivity: break-even bps per side, trades at 0-50 bps"),
    ("timing_check.csv", "Report timing: date-only earnings reports"),
    ("monthly_returns.csv", "Monthly and yearly returns"),
    ("drawdowns.csv", "Five worst drawdowns"),
    ("trades.csv", "Trades"),
    ("top_runs.csv", "Sweep: top combinations re-run (kernel trade statistics | run metrics)"),
    ("sweep.parquet", "Sweep: every combination (per-trade statistics)"),
    ("comparison.csv", "Pairwise tests: a minus b"),
    ("walkforward.csv", "Walk-forward folds"),
    ("tests.csv", "Event study: significance tests"),
    ("caar.csv", "Event study: CAAR by day"),
    ("best_worst_events.csv", "Event study: best and worst events"),
    ("attribution.csv", "Event study: return attribution"),
    ("car.csv", "Event study: CAR per event"),
    ("ar.csv", "Event study: abnormal returns"),
    ("events.csv", "Aligned events"),
    ("drops.csv", "Dropped events (with reasons)"),
    ("periods.csv", "Periods of the configs"),
    ("equity.csv", "Daily equity"),
)
KNOWN_CHARTS = (
    "equity.png", "exposure_scaled.png", "pairwise.png", "drawdown.png", "trade_returns.png",
    "monthly_*.png", "rolling_*.png", "heatmap_*.png", "car_all_*.png",
    "caar_by_*.png", "car_*.png", "events/*.png",
)  # fmt: skip
# Subfolders whose files make one block of the page (a run's event_study/): their tables
# stay together where the first of them ranks, their charts follow that first table.
BLOCKS = {"event_study": "Event study"}
KNOWN_JSON = (("summary.json", "Sweep summary"), ("manifest.json", "Run manifest"))
HEADLINES = (  # shown first, before the charts
    "Metrics",
    "Sweep summary",
    "Sweep: top combinations re-run (kernel trade statistics | run metrics)",
)
# Tables whose statistics carry a sample size, and the rule that judges each row.
JUDGES = {
    "metrics.csv": sample_size.row_samples,
    "comparison.csv": sample_size.pair_column_samples,
    "tests.csv": sample_size.event_column_samples,
    "caar.csv": sample_size.band_column_samples,
}
HIDDEN = ["judged_by", "too_few"]  # metrics.csv columns shown as greyed cells instead
JUDGED_NOTE = {
    "metrics.csv": (
        f"Greyed \u201cn = k: too few\u201d: a strategy's ratio or per-trade statistic with fewer "
        f"than {sample_size.MIN_TRADES} trades, a benchmark's with fewer than "
        f"{sample_size.MIN_SESSIONS} sessions, a CAGR or Calmar from fewer than "
        f"{sample_size.MIN_YEAR} sessions (the value is in the file and the tooltip)."
    ),
    "comparison.csv": (
        f"Greyed \u201cn = k: too few\u201d: the smaller side has fewer than "
        f"{sample_size.MIN_PAIR_TRADES['mean']} trades (mean test) or "
        f"{sample_size.MIN_PAIR_TRADES['sharpe']} trades (Sharpe tests)."
    ),
    "tests.csv": f"Greyed: a test of fewer than {sample_size.MIN_EVENTS} events.",
    "caar.csv": f"Greyed: a confidence band of fewer than {sample_size.MIN_EVENTS} events.",
}
# Tables left off the page when empty: a run without date-only earnings reports has
# nothing to say about their timing.
ONLY_WITH_ROWS = ("timing_check.csv",)
CAPTIONS = {
    "timing_check.csv": (
        "Date-only earnings reports are traded by their source's unknown_timing, else "
        "events.unknown_timing (after_close, the default: from the next session's open; "
        "before_open: from the report date's open). "
        "These lines compare |return| on the report date with the next session's; they never "
        "change the rule."
    ),
    "monthly_returns.csv": (
        "Each month's and year's compounded daily return; n_sessions: the year's sessions "
        "(a short first or last year is partial). Heatmaps: charts monthly_<strategy>.png."
    ),
    "drawdowns.csv": (
        "start: the peak before the fall; length_sessions: sessions from the peak to the "
        "recovery (or to the last session when not recovered)."
    ),
}
# Tables whose missing numbers mean "no data" (a month without a session), shown blank.
BLANK_MISSING = ("monthly_returns.csv",)
# Wide tables of short numbers set smaller, so a year's row fits the page without scrolling.
COMPACT = ("monthly_returns.csv",)
# Files shown elsewhere on the page in another form (metrics.json = metrics.csv).
SHOWN_ELSEWHERE = ("metrics.json", "config.yaml")


def _rank(name: str, patterns) -> int:
    """Position of the first pattern ``name`` matches; unknown names go last.

    Examples
    --------
    >>> _rank("trades.csv", ["metrics.csv", "trades.csv"]), _rank("x.csv", ["metrics.csv"])
    (1, 1)
    """
    return next((i for i, p in enumerate(patterns) if fnmatch.fnmatch(name, p)), len(patterns))


def _nested_runs(folder: Path) -> list[Path]:
    """Results folders inside ``folder`` (a sweep's top-N re-runs), each with a manifest."""
    return sorted(p.parent for p in folder.rglob("manifest.json") if p.parent != folder)


def _own_files(folder: Path) -> list[Path]:
    """Files of this folder, outside nested results folders and hidden temp folders.

    The staging marker is left out: the report is written before the folder is
    published, and a published folder no longer holds it.
    """
    nested = _nested_runs(folder)
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and not any(n in p.parents for n in nested)
        and p.name not in (REPORT_NAME, INCOMPLETE)
    )


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    # Only empty cells are missing: a ticker "NA" or "NULL" stays text.
    return pd.read_csv(path, keep_default_na=False, na_values=[""], low_memory=False)


def _timing_lines(frame: pd.DataFrame) -> str:
    """The verdict line of each ticker and source, as a list above the table."""
    return str(macro("lines")([str(v) for v in frame["verdict"]]))


def _table_body(path: Path, rel: str, tz: str | None = None) -> str | None:
    """The section body of one table; None for an empty table of :data:`ONLY_WITH_ROWS`."""
    try:
        frame = _read_table(path)
    except (ValueError, OSError) as exc:  # pandas/pyarrow parse errors are ValueErrors
        return str(macro("error")(rel, str(exc)))
    if path.name in ONLY_WITH_ROWS and frame.empty:
        return None
    lead = ""
    if path.name == "timing_check.csv" and "verdict" in frame.columns:
        lead, frame = _timing_lines(frame), frame.drop(columns="verdict")
    shown = frame.head(MAX_ROWS)
    judge = JUDGES.get(path.name)
    if rel == "metrics.csv" and len(frame.columns) > 1:
        # The judgement columns are shown as the greyed cells themselves (judged on full rows).
        full = {str(r[shown.columns[0]]): r for r in shown.to_dict("records")}
        visible = shown.drop(columns=HIDDEN, errors="ignore")
        table = transposed_html(
            visible, "metric", judge and (lambda r: judge(full[str(r[shown.columns[0]])]))
        )
    else:
        table = table_html(shown, judge, tz, blank_missing=path.name in BLANK_MISSING)
    note = (
        f"{len(frame)} rows"
        if len(frame) <= MAX_ROWS
        else (f"first {MAX_ROWS} of {len(frame)} rows; the full table is {rel}")
    )
    caption = JUDGED_NOTE.get(path.name, "") if judge else CAPTIONS.get(path.name, "")
    block = macro("table_block")
    tall, compact = len(shown) > 20, path.name in COMPACT
    return lead + str(block(rel, note, render_markup(table), tall, caption, compact))


def render_markup(text: str):
    """``text`` (already escaped by a template) as markup, so it is not escaped again."""
    from markupsafe import Markup

    return Markup(text)


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk, so the page does not reflow while loading.

    Examples
    --------
    >>> _png_size(b"\\x89PNG\\r\\n\\x1a\\n" + b"\\x00\\x00\\x00\\rIHDR" + struct.pack(">II", 640, 320))
    (640, 320)
    >>> _png_size(b"not a png") is None
    True
    """
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _figure(path: Path, rel: str) -> str:
    data = path.read_bytes()
    size = _png_size(data)
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return str(macro("figure")(uri, rel, size))


def _flatten(data: object, prefix: str = "") -> list[tuple[str, str]]:
    """Nested JSON as (dotted key, text) rows, leaves formatted by their own key.

    Examples
    --------
    >>> _flatten({"best": {"hit_rate": 0.5, "n": 3, "d": {}}, "notes": ["a", "b"], "x": None})
    [('best.hit_rate', '50.00%'), ('best.n', '3'), ('best.d', ''), ('notes', 'a, b'), ('x', 'n/a')]
    """
    if isinstance(data, dict) and data:
        return [row for k, v in data.items() for row in _flatten(v, f"{prefix}{k}.")]
    key = prefix.rstrip(".")
    if isinstance(data, dict | list):
        return [(key, ", ".join(json.dumps(v) if isinstance(v, dict) else str(v) for v in data))]
    value = math.nan if data is None else data  # JSON null = not defined (writer.write_json)
    return [(key, format_value(key.rsplit(".", 1)[-1], value, integer=isinstance(data, int)))]


def _json_body(path: Path, rel: str) -> str:
    try:
        rows = _flatten(json.loads(path.read_text()))
    except (ValueError, OSError) as exc:
        return str(macro("error")(rel, str(exc)))
    return str(macro("kv")(rows))


def _config_body(path: Path) -> str:
    return str(macro("config")(path.read_text()))


def _rel(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()


def _block(path: Path, folder: Path) -> str:
    """The :data:`BLOCKS` subfolder ``path`` lies in, or "" (top level or another folder).

    Examples
    --------
    >>> _block(Path("r/event_study/charts/a.png"), Path("r")), _block(Path("r/x.csv"), Path("r"))
    ('event_study', '')
    """
    top = path.relative_to(folder).parts[0]
    return top if top in BLOCKS and top != path.name else ""


def _table_title(path: Path, folder: Path) -> str:
    """Known tables by their title, named after their block or subfolder; others by path.

    Examples
    --------
    >>> root = Path("r")
    >>> _table_title(root / "event_study" / "drops.csv", root)
    'Event study: dropped events (with reasons)'
    >>> _table_title(root / "event_study" / "tests.csv", root)
    'Event study: significance tests'
    >>> _table_title(root / "other" / "trades.csv", root), _table_title(root / "x.csv", root)
    ('Trades (other)', 'x.csv')
    """
    title = dict(KNOWN_TABLES).get(path.name)
    if title is None:
        return _rel(path, folder)
    block = BLOCKS.get(_block(path, folder))
    if block:
        return title if title.startswith(block) else f"{block}: {title[0].lower()}{title[1:]}"
    return title if path.parent == folder else f"{title} ({_rel(path.parent, folder)})"


def _table_sections(
    folder: Path, files: list[Path], tz: str | None = None
) -> list[tuple[str, str, str]]:
    """(title, body, block) per table file: known files in KNOWN_TABLES order, unknown ones
    last; the tables of a block stay together, placed where the first of them ranks."""
    patterns = [p for p, _ in KNOWN_TABLES]
    tables = [p for p in files if p.suffix in TABLE_SUFFIXES]
    rank = {p: (_rank(p.name, patterns), _rel(p, folder)) for p in tables}
    anchor = {}
    for path in sorted(tables, key=rank.get):
        anchor.setdefault(_block(path, folder) or path, rank[path])
    tables.sort(key=lambda p: (anchor[_block(p, folder) or p], rank[p]))
    sections = [
        (_table_title(p, folder), _table_body(p, _rel(p, folder), tz), _block(p, folder))
        for p in tables
    ]
    return [s for s in sections if s[1] is not None]


def _chart_groups(folder: Path, files: list[Path]) -> list[tuple[str, str, str]]:
    """(title, body, block) per folder of PNGs under a ``charts/`` folder, known charts first."""
    by_dir: dict[Path, list[Path]] = {}
    for path in files:
        if path.suffix.lower() == ".png" and "charts" in _rel(path, folder).split("/")[:-1]:
            by_dir.setdefault(path.parent, []).append(path)
    groups = [sorted(group, key=_chart_key) for group in by_dir.values()]
    groups.sort(key=lambda g: (_chart_key(g[0]), _rel(g[0].parent, folder)))
    return [
        (_chart_title(folder, g[0].parent), _figures(folder, g), _block(g[0], folder))
        for g in groups
    ]


def _chart_key(path: Path) -> tuple[int, str]:
    """Rank of a chart by its path below the nearest ``charts`` folder, then its name."""
    root = next(a for a in path.parents if a.name == "charts")
    return _rank(path.relative_to(root).as_posix(), KNOWN_CHARTS), path.name


def _chart_title(folder: Path, parent: Path) -> str:
    rel = _rel(parent, folder)
    block = BLOCKS.get(rel.split("/")[0])
    if block and rel.split("/")[1:] == ["charts"]:
        return f"{block}: charts"
    return "Charts" if rel == "charts" else f"Charts: {rel.removeprefix('charts/')}"


def _figures(folder: Path, group: list[Path]) -> str:
    # One chart per row: the PNGs are drawn ~1100 px wide, and at half width their fonts blur.
    return "\n".join(_figure(p, _rel(p, folder)) for p in group)


def _json_sections(folder: Path, files: list[Path]) -> list[tuple[str, str]]:
    titles = dict(KNOWN_JSON)
    patterns = [name for name, _ in KNOWN_JSON]
    docs = [p for p in files if p.suffix == ".json" and p.name not in SHOWN_ELSEWHERE]
    docs.sort(key=lambda p: (_rank(p.name, patterns), _rel(p, folder)))
    return [(titles.get(p.name, _rel(p, folder)), _json_body(p, _rel(p, folder))) for p in docs]


def _links(folder: Path, paths: list[Path], label) -> str:
    return str(macro("links")([(_rel(p, folder), label(p)) for p in paths]))


def _file_list(folder: Path, files: list[Path]) -> str:
    def label(path: Path) -> str:
        return f"{_rel(path, folder)} ({path.stat().st_size:,} bytes)"

    return _links(folder, files, label)


def _nested_section(folder: Path) -> list[tuple[str, str]]:
    nested = _nested_runs(folder)
    if not nested:
        return []
    reports = [n / REPORT_NAME if (n / REPORT_NAME).is_file() else n for n in nested]
    return [("Nested results", _links(folder, reports, lambda p: _rel(p, folder)))]


def _manifest(folder: Path) -> dict:
    try:
        data = json.loads((folder / "manifest.json").read_text())
    except (ValueError, OSError):
        return {}
    return data if isinstance(data, dict) else {}


def _title(folder: Path, manifest: dict) -> str:
    # Before publishing, the folder is a hidden temp folder; its name means nothing.
    name = folder.name if not folder.name.startswith(".") else "results"
    return str(manifest.get("run_id") or name)


def _facts(manifest: dict) -> list[tuple[str, str]]:
    counts = manifest.get("counts") or {}
    drops = counts.get("drops")
    facts = {
        "config": manifest.get("config_file"),
        "period": manifest.get("period"),
        "times in": manifest.get("timezone"),
        "created": manifest.get("created_at"),
        "config hash": manifest.get("config_hash"),
        "git": str(manifest.get("git_sha") or "")[:12] or None,
        "events": counts.get("events"),
        "trades": counts.get("trades"),
        "drops": ", ".join(f"{k}: {v}" for k, v in drops.items()) if drops else None,
        "universe": ((manifest.get("data") or {}).get("universe") or {}).get("note"),
    }
    return [(k, str(v)) for k, v in facts.items() if v is not None]


def _with_block_charts(tables: list, charts: list) -> tuple[list, list]:
    """Move each block's charts right after the block's first table (if it has one)."""
    out, moved = [], set()
    for section in tables:
        out.append(section)
        block = section[2]
        if block and block not in moved:
            moved.add(block)
            out += [c for c in charts if c[2] == block]
    return out, [c for c in charts if c[2] not in moved]


def _sections(folder: Path, tz: str | None = None) -> list[tuple[str, str]]:
    files = _own_files(folder)
    all_tables = _table_sections(folder, files, tz)
    tables = [s for s in all_tables if s[0] not in HEADLINES]
    tables, charts = _with_block_charts(tables, _chart_groups(folder, files))
    documents = _json_sections(folder, files)
    first = [s[:2] for s in [*all_tables, *documents] if s[0] in HEADLINES]
    config = (
        [("Config", _config_body(folder / "config.yaml"))]
        if (folder / "config.yaml").is_file()
        else []
    )
    return [
        *first,
        *[c[:2] for c in charts],
        *[t[:2] for t in tables],
        *_nested_section(folder),
        *[s for s in documents if s[0] not in HEADLINES],
        *config,
        ("Files", _file_list(folder, files)),
    ]


def render_report(folder: Path, title: str | None = None) -> str:
    """The HTML page of the results folder ``folder`` (read from its files).

    Parameters
    ----------
    folder : pathlib.Path
        A results folder: a run, a sweep, an event study, or any folder of CSVs
        and ``charts/*.png``.
    title : str, optional
        Page title; default: the manifest's ``run_id``, else the folder's name.

    Returns
    -------
    str
        A complete, self-contained HTML document.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "metrics.csv").write_text("strategy,cagr\\nhold<1>,0.05\\n")
    >>> page = render_report(folder, title="demo")
    >>> "<th scope=\\"col\\" class=\\"num\\">hold&lt;1&gt;</th>" in page, "5.00%" in page
    (True, True)
    """
    folder = Path(folder)
    manifest = _manifest(folder)
    tz = manifest.get("timezone")
    sections = [{"title": t, "body": render_markup(b)} for t, b in _sections(folder, tz)]
    page = render(
        "page.html.j2",
        title=title or _title(folder, manifest),
        facts=_facts(manifest),
        notes=[str(n) for n in manifest.get("notes") or []],
        sections=sections,
    )
    return str(page) + "\n"


def write_report(folder: Path, title: str | None = None) -> Path:
    """Write ``folder/report.html`` (see :func:`render_report`) and return its path.

    Examples
    --------
    >>> import tempfile
    >>> write_report(Path(tempfile.mkdtemp())).name
    'report.html'
    """
    path = Path(folder) / REPORT_NAME
    path.write_text(render_report(folder, title), encoding="utf-8")
    return path
