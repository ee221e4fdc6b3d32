"""Hostile and careless inputs end in one clear line and exit 2, never a traceback (issue: hardened inputs).

Each case is an input a user can give (a file, a flag, a name) and the substring
its one-line answer must hold. Cases run in process through the CLI's own error
handling (:func:`backtest.cli.commands._dispatch`), so the exit code, the stream
and the absence of a traceback are what a user sees. tests/CATALOGUE.md lists the
classes (H1...) and the tests that cover them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from backtest.cli import commands
from tests.conftest import REPO

BABA = yaml.safe_load((REPO / "configs" / "baba_2026.yaml").read_text())


def run_cli(args: list[str], capsys, monkeypatch) -> tuple[int, str, str]:
    """Run ``backtest *args`` in process; return (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["backtest", *map(str, args)])
    monkeypatch.setitem(commands.STATE, "debug", False)
    monkeypatch.setitem(commands.STATE, "offline", False)
    code = 0
    try:
        commands._dispatch()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_one_line_exit_2(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"


def config(tmp_path: Path, file: str = "cfg.yaml", **changes) -> Path:
    """baba_2026.yaml with top-level sections replaced (or deep-set with 'a.b' keys)."""
    data = yaml.safe_load(yaml.safe_dump(BABA))
    data["output"] = {"dir": str(tmp_path / "results"), "charts": False}
    for key, value in changes.items():
        node = data
        parts = key.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    path = tmp_path / file
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def files_config(tmp_path: Path, price_text: str, **changes) -> Path:
    """A config reading prices of BABA from a file with ``price_text`` (SPY from the bundle)."""
    folder = tmp_path / "prices"
    folder.mkdir(exist_ok=True)
    (folder / "BABA.csv").write_text(price_text)
    spy = REPO / "backtest" / "sample_data" / "prices" / "SPY.csv"
    (folder / "SPY.csv").write_bytes(spy.read_bytes())
    data = {
        "source": "files",
        "path": str(folder),
        "tickers": ["BABA"],
        "start": "2025-10-01",
        "end": "2026-03-31",
    }
    return config(tmp_path, data=data, **changes)


def events_config(tmp_path: Path, csv_bytes: bytes, **source) -> Path:
    path = tmp_path / "events.csv"
    path.write_bytes(csv_bytes)
    return config(tmp_path, events={"sources": [{"type": "csv", "path": str(path), **source}]})


def inline_config(tmp_path: Path, *events: dict, **changes) -> Path:
    return config(
        tmp_path,
        events={"sources": [{"type": "inline", "events": list(events)}], "max_drop_pct": 100},
        **changes,
    )


def baba_prices() -> pd.DataFrame:
    return pd.read_csv(REPO / "backtest" / "sample_data" / "prices" / "BABA.csv")


# ----------------------------------------------------------------------- config files


def test_h1_a_binary_file_as_config_is_one_line(tmp_path, capsys, monkeypatch):
    path = tmp_path / "binary.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    code, _, err = run_cli(["run", path], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, str(path), "not a text")


def test_h1_a_png_as_config_is_one_line(tmp_path, capsys, monkeypatch):
    path = tmp_path / "image.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    code, _, err = run_cli(["run", path], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, str(path))


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("strategies.7.name=x", "index 7"),
        ("strategies.-1.name=x", "-1"),
        ("strategies.first.name=x", "'first'"),
        ("engine.fees_bps.x=1", "engine.fees_bps"),
        ("engine.fees_bps=[", "engine.fees_bps"),
        ("engine.fees_bps={a: [}", "engine.fees_bps"),
        ("=5", "key.path=value"),
        ("benchmarks.99=SPY", "index 99"),
        ("name.sub=x", "name"),
    ],
)
def test_h2_a_bad_set_override_is_one_line(tmp_path, capsys, monkeypatch, override, needle):
    code, _, err = run_cli(["run", config(tmp_path), "--set", override], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, "--set", needle)


def test_h3_a_yaml_alias_bomb_is_refused_before_it_grows(tmp_path, capsys, monkeypatch):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    code, _, err = run_cli(["run", path], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, str(path), "alias")


def test_h3_a_huge_config_file_is_refused_before_parsing(tmp_path, capsys, monkeypatch):
    path = tmp_path / "huge.yaml"
    path.write_text("name: x\n" + "# padding\n" * 1_100_000)
    code, _, err = run_cli(["run", path], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, str(path), "MB")


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("engine__init_cash", "1e400", "engine.init_cash"),
        ("engine__init_cash", "1e308", "engine.init_cash"),
        ("engine__init_cash", ".inf", "engine.init_cash"),
        ("engine__fees_bps", ".nan", "engine.fees_bps"),
        ("engine__take_profit_pct", "1e300", "engine.take_profit_pct"),
        ("engine__sizing", "{mode: fixed, value: 1e300}", "engine.sizing.value"),
        ("data__start", "1900-01-01", "data.start"),
        ("data__end", "9999-12-31", "data.end"),
    ],
)
def test_h4_numbers_and_dates_out_of_bounds_are_refused_at_load(
    tmp_path, capsys, monkeypatch, key, value, needle
):
    path = config(tmp_path)
    code, _, err = run_cli(
        ["run", path, "--set", f"{key.replace('__', '.')}={value}"], capsys, monkeypatch
    )
    assert_one_line_exit_2(code, err, needle)


@pytest.mark.parametrize(
    "name",
    ["../../escaped", "a/b", "x" * 300, "bad\x00name", "tab\tname", "..", ".hidden", "C:\\x"],
)
def test_h5_an_unsafe_run_name_is_refused_and_nothing_is_written(
    tmp_path, capsys, monkeypatch, name
):
    path = config(tmp_path, name=name)
    code, _, err = run_cli(["run", path], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, "name")
    assert not (tmp_path / "results").exists()
    assert not any(p.name == "escaped" for p in tmp_path.parent.rglob("escaped"))


def test_h5_a_config_file_stem_that_is_unsafe_still_stays_inside_out(tmp_path):
    from backtest.config.model import load_config

    path = config(tmp_path, file="cfg with spaces & $tuff.yaml")
    data = yaml.safe_load(path.read_text())
    del data["name"]
    path.write_text(yaml.safe_dump(data))
    loaded = load_config(path)
    assert "/" not in loaded.run_name and loaded.run_name.strip()


def test_h6_an_unwritable_results_folder_is_one_line(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the results folder should be")
    path = config(tmp_path)
    code, _, err = run_cli(["run", path, "--out", blocker / "sub"], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, str(blocker))


def test_h6_a_read_only_results_folder_is_one_line(tmp_path, capsys, monkeypatch):
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        code, _, err = run_cli(["run", config(tmp_path), "--out", out], capsys, monkeypatch)
    finally:
        out.chmod(0o700)
    assert_one_line_exit_2(code, err, str(out))


# ----------------------------------------------------------------------- events


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "not a text"),
        (bytes(range(256)) * 8, "not a text"),
        (b"date,headline\n2026-01-13,x\n", "ticker"),
        (b"ticker\nBABA\n", "time column"),
        (b"ticker,event_time\nBABA,9999-01-01\n", "event_time"),
        (b"ticker,event_time\nBABA,1677-01-01\n", "event_time"),
        (b"ticker,event_time,timing\nBABA,2026-02-19,sometimes\n", "timing"),
        (b"ticker,event_time\nBABA,2026-02-19\nBABA,2026-02-19,extra,fields\n", ":3"),
        (b'ticker,event_time\nBABA,"2026-02-19\n', "events.csv"),
        (b"ticker,event_time\nBABA,01/02/2026\n", "01/02/2026"),
        (b"ticker,event_time\nBABA,yesterday\n", "yesterday"),
    ],
)
def test_h7_a_bad_event_csv_is_one_line_naming_file_and_fix(
    tmp_path, capsys, monkeypatch, content, needle
):
    path = events_config(tmp_path, content)
    code, _, err = run_cli(["run", path], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, "events.csv", needle)


def test_h7_a_bad_timing_value_names_file_line_and_field(tmp_path, capsys, monkeypatch):
    path = events_config(tmp_path, b"ticker,event_time,timing\nBABA,2026-02-19,sometimes\n")
    code, _, err = run_cli(["run", path], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, "events.csv:2", "timing", "bmo")


def test_h7_an_events_csv_without_ticker_names_the_missing_column(tmp_path, capsys, monkeypatch):
    path = events_config(tmp_path, b"date,headline\n2026-01-13,x\n")
    code, _, err = run_cli(["run", path], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, "ticker", "isin")
    assert "not a valid ISIN" not in err


@pytest.mark.parametrize(
    ("time", "needle"),
    [
        ("9999-01-01", "time"),
        ("1677-01-01", "time"),
        ("9999-01-01T10:00:00+00:00", "time"),
        ("01/02/2026", "DD.MM.YYYY"),
        ("13/02/2026", "DD.MM.YYYY"),
    ],
)
def test_h8_inline_times_out_of_range_or_ambiguous_are_refused(
    tmp_path, capsys, monkeypatch, time, needle
):
    path = inline_config(tmp_path, {"ticker": "BABA", "time": time, "move_pct": 5})
    code, _, err = run_cli(["run", path], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, needle)


def test_h8_an_unknown_time_zone_is_called_unknown_not_daylight_saving(
    tmp_path, capsys, monkeypatch
):
    path = inline_config(
        tmp_path,
        {"ticker": "BABA", "time": "2026-01-13 14:42", "timezone": "Mars/Olympus", "move_pct": 5},
    )
    code, _, err = run_cli(["run", path], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, "Mars/Olympus", "time zone")
    assert "daylight" not in err


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [("encoding", "klingon-8", "encoding"), ("timezone", "Mars/Olympus", "timezone")],
)
def test_h9_news_folder_unknown_encoding_or_time_zone_is_refused_at_load(
    tmp_path, capsys, monkeypatch, key, value, needle
):
    folder = REPO / "configs" / "articles"
    path = config(
        tmp_path, events={"sources": [{"type": "news_folder", "path": str(folder), key: value}]}
    )
    code, _, err = run_cli(["run", path], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, needle, value)


def test_h9_an_article_with_two_stamps_is_dropped_with_a_reason(tmp_path):
    from backtest.core.sessions import get_calendar
    from backtest.events.news import load_news_folder

    folder = tmp_path / "articles"
    folder.mkdir()
    source = next((REPO / "configs" / "articles").glob("*.txt"))
    text = source.read_text()
    import re

    stamp = re.search(r"^\d{2}\.\d{2}\.\d{4}.*$", text, re.M).group(0)
    (folder / "two.txt").write_text(text.replace(stamp, f"{stamp}\n01.02.2026 - 09:00:00", 1))
    loaded = load_news_folder(folder, get_calendar("XNYS"))
    assert loaded.events.empty
    assert loaded.drops["reason"].tolist() == ["two_stamps"]


def test_h10_a_bad_isin_table_is_one_line(tmp_path, capsys, monkeypatch):
    table = tmp_path / "isins.csv"
    table.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    path = config(
        tmp_path,
        events={
            "sources": [
                {
                    "type": "news_folder",
                    "path": str(REPO / "configs" / "articles"),
                    "isin_table": str(table),
                }
            ]
        },
    )
    code, _, err = run_cli(["run", path], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, "isins.csv")


# ----------------------------------------------------------------------- prices


def test_h11_yfinance_style_headers_are_read(tmp_path, capsys, monkeypatch):
    frame = baba_prices()
    frame.columns = (
        ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"][: len(frame.columns)]
        if len(frame.columns) == 7
        else [c.title() for c in frame.columns]
    )
    path = files_config(tmp_path, frame.to_csv(index=False))
    code, out, err = run_cli(["run", path], capsys, monkeypatch)
    assert code == 0, err


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda t: t.replace(",", ";"), "separator"),
        (lambda t: t.replace("166.31", "166.3l", 1), "close"),
        (lambda t: t.splitlines()[0] + "\n", "no price rows"),
        (lambda t: "", "empty"),
        (lambda t: "\n".join(_ddmm(line) for line in t.splitlines()), "date"),
        (lambda t: t.replace("date,", "day,"), "date"),
        (lambda t: "\x89PNG\r\n\x1a\n\x00\x00", "not a text"),
    ],
)
def test_h11_a_bad_price_file_is_one_line_naming_file_and_fix(
    tmp_path, capsys, monkeypatch, mutate, needle
):
    text = (REPO / "backtest" / "sample_data" / "prices" / "BABA.csv").read_text()
    path = files_config(tmp_path, mutate(text))
    code, _, err = run_cli(["run", path], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, "BABA.csv", needle)


def _ddmm(line: str) -> str:
    head, _, rest = line.partition(",")
    if len(head) == 10 and head[4] == "-":
        head = f"{head[8:10]}.{head[5:7]}.{head[0:4]}"
    return f"{head},{rest}"


def test_h12_a_one_session_spike_that_reverses_drops_its_windows(tmp_path, capsys, monkeypatch):
    frame = baba_prices()
    day = frame.index[frame["date"] == "2026-02-19"][0]
    for col in ("close", "high") + (("adj_close",) if "adj_close" in frame else ()):
        frame.loc[day, col] = 1e6
    path = files_config(tmp_path, frame.to_csv(index=False))
    code, out, err = run_cli(["run", path], capsys, monkeypatch)
    assert code == 0, err
    folder = Path(out.split("results:")[-1].strip())
    drops = pd.read_csv(folder / "drops.csv")
    trades = pd.read_csv(folder / "trades.csv")
    spiked = drops[drops["reason"] == "suspect_split"]
    assert len(spiked) and spiked["detail"].str.contains("spike").all()
    assert (trades["net_return"].abs() < 10).all()


# ----------------------------------------------------------------------- sweeps, plugins


def test_h13_a_grid_range_too_large_is_refused_before_it_is_built(tmp_path):
    from backtest.config.model import GridRange

    big = GridRange(start=0, stop=1000, step=1e-6)
    assert big.size() == 1_000_000_001
    from backtest.config.model import SweepConfig
    from backtest.core.errors import ConfigError

    with pytest.raises(Exception) as info:
        SweepConfig(grid={"hold_sessions": big})
    assert "1,000,000,001" in str(info.value)
    del ConfigError


def test_h13_a_sweep_grid_range_with_a_tiny_step_exits_2_quickly(tmp_path, capsys, monkeypatch):
    sweep = {
        "strategy": "earnings_hold",
        "grid": {"hold_sessions": {"start": 1, "stop": 1000, "step": 1e-6}},
    }
    path = config(tmp_path, sweep=sweep)
    code, _, err = run_cli(["sweep", path], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, "sweep.grid", "max_combinations")


@pytest.mark.parametrize(
    ("grid", "needle"),
    [({"hold_sessions": [1, -2, 999]}, "-2"), ({"side": ["long", "sideways"]}, "sideways")],
)
def test_h14_sweep_grid_values_that_fail_validation_are_an_error(
    tmp_path, capsys, monkeypatch, grid, needle
):
    path = config(tmp_path, sweep={"strategy": "earnings_hold", "grid": grid})
    code, _, err = run_cli(["sweep", path], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, "sweep.grid", needle)


# ----------------------------------------------------------------------- schedulers, escapes

_REAL_CONNECT = __import__("socket").socket.connect


def _serve_once(reply: bytes | None):
    """A loopback server that accepts one connection and sends ``reply`` (None: stays silent)."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer():
        conn, _ = server.accept()
        if reply is not None:
            conn.sendall(reply)
        threading.Event().wait(3)
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    return server, f"tcp://127.0.0.1:{server.getsockname()[1]}"


@pytest.mark.parametrize(
    ("reply", "needle"),
    [(None, "sent no Dask handshake"), (b"HTTP/1.1 400 Bad Request\r\n\r\n", "HTTP/1.1")],
)
def test_h15_a_scheduler_address_that_is_not_dask_fails_within_the_timeout(
    monkeypatch, reply, needle
):
    import socket
    import time

    from backtest.core.errors import ConfigError
    from backtest.sweep.cluster import probe_scheduler

    monkeypatch.setattr(socket.socket, "connect", _REAL_CONNECT)  # loopback only
    server, address = _serve_once(reply)
    started = time.monotonic()
    with server, pytest.raises(ConfigError) as info:
        probe_scheduler(address, timeout=1.0)
    assert time.monotonic() - started < 3
    assert needle in str(info.value) and "not a Dask scheduler" in str(info.value)


def test_h15_a_scheduler_address_without_a_port_is_refused():
    from backtest.core.errors import ConfigError
    from backtest.sweep.cluster import probe_scheduler

    with pytest.raises(ConfigError, match="tcp://HOST:PORT"):
        probe_scheduler("tcp://localhost")


def test_h16_a_formula_headline_is_neutralised_in_events_csv(tmp_path, capsys, monkeypatch):
    path = inline_config(
        tmp_path,
        {
            "ticker": "BABA",
            "event_type": "news",
            "time": "13.01.2026 14:42:04",
            "timezone": "Europe/Berlin",
            "move_pct": 10,
            "headline": '=HYPERLINK("http://evil.example","click")',
            "source": "@evil",
        },
    )
    code, out, err = run_cli(["run", path], capsys, monkeypatch)
    assert code == 0, err
    folder = Path(out.split("results:")[-1].strip())
    text = (folder / "events.csv").read_text()
    assert "'=HYPERLINK(" in text and ",=HYPERLINK" not in text and ",'@evil" in text


PLANT = "import pathlib; pathlib.Path({marker!r}).write_text('ran')\n"


def test_h17_verify_never_imports_a_module_planted_in_the_results_folder(
    tmp_path, capsys, monkeypatch
):
    code, out, err = run_cli(["run", config(tmp_path)], capsys, monkeypatch)
    assert code == 0, err
    folder = Path(out.split("results:")[-1].strip())
    marker = tmp_path / "planted_ran"
    (folder / "evil_plugin_h17.py").write_text(PLANT.format(marker=str(marker)))
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    cfg["plugins"] = ["evil_plugin_h17"]
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    code, out, err = run_cli(["run", "--verify", folder], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, "evil_plugin_h17", "results folder")
    assert not marker.exists() and "reproduces" not in out
    code, _, err = run_cli(["events", folder / "config.yaml", "--check"], capsys, monkeypatch)
    assert code == 2 and not marker.exists()


def test_h17_a_config_that_fails_validation_imports_no_plugin(tmp_path, capsys, monkeypatch):
    marker = tmp_path / "plugin_ran"
    (tmp_path / "plugin_h17b.py").write_text(PLANT.format(marker=str(marker)))
    path = config(tmp_path, plugins=["plugin_h17b"], engine={"fees_bps": -1})
    code, _, err = run_cli(["run", path], capsys, monkeypatch)
    assert_one_line_exit_2(code, err, "engine.fees_bps")
    assert not marker.exists()


def test_h17_a_valid_config_still_imports_its_plugin_next_to_it(tmp_path):
    from backtest.config.model import load_config

    marker = tmp_path / "plugin_ran"
    (tmp_path / "plugin_h17c.py").write_text(PLANT.format(marker=str(marker)))
    load_config(config(tmp_path, plugins=["plugin_h17c"]))
    assert marker.read_text() == "ran"


def test_h17_plugins_are_documented_as_code_that_runs():
    readme = (REPO / "README.md").read_text()
    example = (REPO / "configs" / "example.yaml").read_text()
    for text in (readme, example):
        assert "plugin is Python code" in text and "runs" in text


def test_h18_an_unexpected_exception_is_one_line_asking_for_a_report(capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(commands, "_verify", broken)
    code, _, err = run_cli(["run", "--verify", "x"], capsys, monkeypatch)
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "ZeroDivisionError: boom" in err and "--debug" in err


def test_h19_infinite_or_absurd_equity_is_an_error_not_blank_metrics():
    from backtest.core.errors import DataIntegrityError
    from backtest.run.runner import check_finite_equity

    with pytest.raises(DataIntegrityError, match="equity of x"):
        check_finite_equity(pd.DataFrame({"x": [1.0, 1e300]}))
