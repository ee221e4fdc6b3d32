"""Config mistakes get one located, fixable line each (RELIABILITY C1-C10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtest.config.model import config_hash, load_config
from backtest.core.errors import ConfigError
from tests.conftest import REPO

SEED = (REPO / "configs" / "baba_2026.yaml").read_text()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str, overrides: list[str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), overrides)
    return str(info.value)


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_c1_yaml_syntax_error_quotes_line_and_column(tmp_path):
    msg = error_of(tmp_path, "data:\n  tickers: [BABA\nevents: x\n")
    assert "cfg.yaml:3:7: YAML syntax error" in msg


def test_c2_typo_in_strategy_params_suggests_the_key(tmp_path):
    text = SEED.replace("hold_sessions: 3", "hold_sesions: 3")
    msg = error_of(tmp_path, text)
    assert f"cfg.yaml:{line_of(text, 'hold_sesions')}:" in msg
    assert "strategies[1].params.hold_sesions: unknown key 'hold_sesions'" in msg
    assert "did you mean 'hold_sessions'?" in msg


def test_c3_duplicate_key_is_an_error(tmp_path):
    msg = error_of(tmp_path, SEED.replace("  fees_bps: 10\n", "  fees_bps: 10\n  fees_bps: 0\n"))
    assert "duplicate key 'fees_bps'" in msg and "first at line" in msg


def test_c4_unquoted_no_as_a_ticker_is_explained(tmp_path):
    msg = error_of(
        tmp_path, SEED.replace("tickers: [BABA]\n  start", "tickers: [BABA, NO]\n  start")
    )
    assert "data.tickers[1]" in msg and "quote it: 'NO'" in msg


def test_c4_octal_number_is_rejected(tmp_path):
    msg = error_of(tmp_path, SEED.replace("hold_sessions: 3", "hold_sessions: 010"))
    assert "010 is read by YAML 1.1 as 8" in msg


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("fees_bps: 10", "fees_bps: ten", "engine.fees_bps: Input should be a valid number"),
        ("fees_bps: 10", "fees_bps: -1", "engine.fees_bps"),
        ("hold_sessions: 3", "hold_sessions: 0", "strategies[1].params.hold_sessions"),
        ("end: 2026-03-31", "end: 2025-01-01", "start 2025-10-01 is after end 2025-01-01"),
        (
            "entry_offset: 1, entry_at: close, exit_offset: 0, exit_at: close",
            "entry_offset: 0, entry_at: close, exit_offset: 0, exit_at: open",
            "entry must come before exit",
        ),
        (
            "side: catalyst",
            "side: sideways",
            "allowed: 'catalyst', 'contrarian', 'long' or 'short'",
        ),
    ],
)
def test_c5_wrong_type_or_range_names_path_and_allowed_values(tmp_path, old, new, expected):
    assert expected in error_of(tmp_path, SEED.replace(old, new))


def test_c6_every_missing_field_is_reported_at_once(tmp_path):
    msg = error_of(tmp_path, "name: x\n")
    for key in ("data", "events", "strategies"):
        assert f"{key}: required key missing" in msg


def test_c6_empty_ticker_list(tmp_path):
    assert "data.tickers" in error_of(
        tmp_path, SEED.replace("tickers: [BABA]\n  start", "tickers: []\n  start")
    )


def test_c7_unknown_strategy_lists_the_available_ones(tmp_path):
    msg = error_of(tmp_path, SEED.replace("name: news_momentum", "name: news_momentun"))
    assert "did you mean 'news_momentum'?" in msg and "'earnings_hold'" in msg


def test_c8_relative_paths_resolve_against_the_config_file(tmp_path):
    sub = tmp_path / "configs"
    sub.mkdir()
    (sub / "cfg.yaml").write_text(
        "data: {source: files, path: ../prices, tickers: [A]}\n"
        "events: {sources: [{type: csv, path: ev.csv}]}\n"
        "strategies: [{name: earnings_hold}]\n"
    )
    loaded = load_config(sub / "cfg.yaml")
    assert loaded.resolve(loaded.config.data.path) == (tmp_path / "prices").resolve()
    assert loaded.resolve(loaded.config.events.sources[0].path) == (sub / "ev.csv").resolve()


def test_c8_missing_config_file_is_reported_with_its_absolute_path(tmp_path):
    with pytest.raises(ConfigError, match=str(tmp_path / "nope.yaml")):
        load_config(tmp_path / "nope.yaml")


def test_c9_datetime_with_clock_time_for_a_session_date_is_rejected(tmp_path):
    msg = error_of(tmp_path, SEED.replace("start: 2025-10-01", "start: 2025-10-01 09:30:00"))
    assert "data.start" in msg


def test_c10_hash_changes_with_the_config_and_not_with_formatting(tmp_path):
    a = load_config(write(tmp_path, SEED)).config
    b = load_config(write(tmp_path, SEED.replace("fees_bps: 10", "fees_bps:    10  # same"))).config
    c = load_config(write(tmp_path, SEED.replace("fees_bps: 10", "fees_bps: 11"))).config
    assert config_hash(a) == config_hash(b) != config_hash(c)


def test_override_with_set_is_validated_like_the_file(tmp_path):
    msg = error_of(tmp_path, SEED, ["engine.fees_bps=ten"])
    assert "engine.fees_bps" in msg


def test_config_is_frozen(tmp_path):
    cfg = load_config(write(tmp_path, SEED)).config
    with pytest.raises(Exception, match="frozen"):
        cfg.engine.fees_bps = 0


def test_example_yaml_is_valid_and_documents_every_key():
    loaded = load_config(REPO / "configs" / "example.yaml")
    text = (REPO / "configs" / "example.yaml").read_text()
    dumped = loaded.config.model_dump()

    def keys(node):
        if isinstance(node, dict):
            for k, v in node.items():
                yield k
                yield from keys(v)
        elif isinstance(node, list):
            for v in node:
                yield from keys(v)

    missing = sorted({k for k in keys(dumped) if f"{k}:" not in text})
    assert missing == []
