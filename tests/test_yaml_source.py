"""The YAML reading layer: precise locations for every config mistake (RELIABILITY 4.1)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from backtest.config.yaml_source import (
    YamlDocument,
    allowed_keys_for,
    dotted,
    format_validation_error,
    load_yaml,
    location,
    suggest,
)
from backtest.core.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    return str(info.value)


# ---------------------------------------------------------------- C1: syntax errors


def test_syntax_error_quotes_file_line_column_and_problem(tmp_path):
    path = write(tmp_path, "data:\n  source: bundled\n  tickers: a: b\n")
    message = config_error(path)
    assert message.startswith(f"{path}:3:13: YAML syntax error:")
    assert "mapping values are not allowed here" in message


def test_unclosed_flow_sequence_names_the_line_it_started(tmp_path):
    path = write(tmp_path, "tickers: [AAPL, MSFT\nfees_bps: 10\n")
    message = config_error(path)
    assert f"{path}:2:" in message
    assert "while parsing a flow sequence at line 1" in message


def test_tab_indentation_is_a_located_syntax_error(tmp_path):
    path = write(tmp_path, "data:\n\tsource: bundled\n")
    message = config_error(path)
    assert f"{path}:2:1:" in message
    assert "'\\t'" in message


def test_unsafe_tag_is_rejected_with_location(tmp_path):
    path = write(tmp_path, "a: 1\nb: !!python/object/apply:os.system ['true']\n")
    message = config_error(path)
    assert message.startswith(f"{path}:2:4: YAML error: could not determine a constructor")


# ---------------------------------------------------------------- file-level problems


def test_missing_file_reports_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    message = config_error(Path("nowhere.yaml"))
    assert message == f"config file not found: {tmp_path / 'nowhere.yaml'}"


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file_is_an_error_naming_the_file(tmp_path, text):
    path = write(tmp_path, text)
    message = config_error(path)
    assert str(path) in message
    assert "empty" in message


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("just text\n", "str")])
def test_top_level_must_be_a_mapping(tmp_path, text, kind):
    path = write(tmp_path, text)
    message = config_error(path)
    assert message.startswith(f"{path}: the top level is a {kind}")


def test_document_path_is_absolute(tmp_path, monkeypatch):
    write(tmp_path, "a: 1\n")
    monkeypatch.chdir(tmp_path)
    doc = load_yaml(Path("run.yaml"))
    assert doc.path == tmp_path / "run.yaml"
    assert doc.path.is_absolute()


# ---------------------------------------------------------------- C3: duplicate keys


def test_duplicate_key_at_nested_level_names_both_lines(tmp_path):
    path = write(
        tmp_path,
        (
            "strategies:\n"
            "  - name: pead\n"
            "    params:\n"
            "      hold_days: 1\n"
            "      side: long\n"
            "      hold_days: 3\n"
        ),
    )
    message = config_error(path)
    assert message == f"{path}:6:7: duplicate key 'hold_days' (first at line 4)"


def test_every_duplicate_is_listed(tmp_path):
    path = write(tmp_path, "a: 1\nb: {x: 1, x: 2}\na: 3\n")
    lines = config_error(path).splitlines()
    assert lines == [
        f"{path}:2:11: duplicate key 'x' (first at line 2)",
        f"{path}:3:1: duplicate key 'a' (first at line 1)",
    ]


def test_duplicates_are_not_confused_by_merge_keys(tmp_path):
    path = write(
        tmp_path,
        ("base: &base {fees_bps: 10, slippage_bps: 5}\nengine:\n  <<: *base\n  fees_bps: 0\n"),
    )
    doc = load_yaml(path)
    assert doc.data["engine"] == {"fees_bps": 0, "slippage_bps": 5}
    assert doc.marks[("engine", "fees_bps")] == (4, 3)
    assert doc.marks[("engine", "slippage_bps")] == (1, 28)  # where the merged key is written


def test_global_safe_loader_is_untouched(tmp_path):
    load_yaml(write(tmp_path, "a: 1\n"))
    assert yaml.safe_load("a: 1\na: 2\n") == {"a": 2}


# ---------------------------------------------------------------- C4: YAML 1.1 coercions


def test_yaml11_coercions_are_recorded_with_original_text(tmp_path):
    path = write(
        tmp_path,
        (
            "tickers: [AAPL, NO, 'NO', on, Y]\n"
            "hold_days: 010\n"
            "threshold: 1e-3\n"
            "proper: 1.0e-3\n"
            "flag: true\n"
            "at: 9:30\n"
            "octal12: 0o17\n"
        ),
    )
    doc = load_yaml(path)
    assert doc.data["tickers"] == ["AAPL", False, "NO", True, "Y"]  # PyYAML keeps Y a string
    assert doc.data["hold_days"] == 8
    assert doc.data["threshold"] == "1e-3"
    assert doc.data["proper"] == pytest.approx(0.001)
    assert doc.data["at"] == 570
    assert doc.coerced == {
        ("tickers", 1): "NO",
        ("tickers", 3): "on",
        ("hold_days",): "010",
        ("threshold",): "1e-3",
        ("at",): "9:30",
        ("octal12",): "0o17",
    }


def test_quoted_and_block_scalars_are_never_coerced(tmp_path):
    path = write(tmp_path, 'a: "010"\nb: |\n  NO\nc: 10\nd: off_peak\n')
    assert load_yaml(path).coerced == {}


# ---------------------------------------------------------------- marks and location()


MARKS_YAML = (
    "name: demo\n"  # 1
    "strategies:\n"  # 2
    "  - name: pead\n"  # 3
    "    params:\n"  # 4
    "      hold_days: 3\n"  # 5
    "    tickers: [AAPL, MSFT]\n"  # 6
    "  - {name: drift, params: {}}\n"  # 7
)


def test_marks_for_nested_keys_and_list_items(tmp_path):
    doc = load_yaml(write(tmp_path, MARKS_YAML))
    assert doc.marks[("name",)] == (1, 1)
    assert doc.marks[("strategies",)] == (2, 1)
    assert doc.marks[("strategies", 0)] == (3, 5)
    assert doc.marks[("strategies", 0, "name")] == (3, 5)
    assert doc.marks[("strategies", 0, "params")] == (4, 5)
    assert doc.marks[("strategies", 0, "params", "hold_days")] == (5, 7)
    assert doc.marks[("strategies", 0, "tickers", 1)] == (6, 21)
    assert doc.marks[("strategies", 1)] == (7, 5)
    assert doc.marks[("strategies", 1, "params")] == (7, 19)


def test_location_picks_deepest_present_prefix(tmp_path):
    doc = load_yaml(write(tmp_path, MARKS_YAML))
    path = doc.path
    assert location(doc, ("strategies", 0, "params", "hold_days")) == f"{path}:5:7"
    assert location(doc, ("strategies", 0, "params", "missing_key")) == f"{path}:4:5"
    assert location(doc, ("strategies", 0, "tickers", 7)) == f"{path}:6:5"
    assert location(doc, ("strategies", 0, "pead", "params", "hold_days")) == f"{path}:5:7"
    assert location(doc, ("strategies", 0, "tickers", "list[str]", 1)) == f"{path}:6:21"
    assert location(doc, ("name", "str")) == f"{path}:1:1"
    assert location(doc, ("nothing_here",)) == str(path)
    assert location(doc, ()) == str(path)


def test_dotted_paths():
    assert dotted(("strategies", 0, "params", "hold_dyas")) == "strategies[0].params.hold_dyas"
    assert dotted((0, "a")) == "[0].a"
    assert dotted(("odd key",)) == "['odd key']"


def test_suggest_uses_difflib_cutoff():
    assert suggest("hold_dyas", ["hold_days", "side", "exit_at"]) == "hold_days"
    assert suggest("entry_ofset", ["entry_offset", "exit_offset"]) == "entry_offset"
    assert suggest("colour", ["hold_days"]) is None
    assert suggest("x", []) is None


# ---------------------------------------------------------------- format_validation_error


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Params(Frozen):
    hold_days: int = Field(5, ge=1)
    entry: Literal["open", "close"] = "close"


class Strategy(Frozen):
    name: StrictStr
    tickers: list[StrictStr]
    params: Params = Params()


class Config(Frozen):
    start: StrictStr
    end: StrictStr
    fee_bps: float = 10.0
    strategies: list[Strategy]


BAD_CONFIG = (
    "fee_bps: ten\n"  # 1
    "strategies:\n"  # 2
    "  - name: pead\n"  # 3
    "    tickers: [AAPL, NO]\n"  # 4
    "    params:\n"  # 5
    "      hold_dyas: 3\n"  # 6
    "      entry: opne\n"  # 7
)


def validation_message(doc: YamlDocument, model: type[BaseModel], **kwargs) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(doc.data)
    return format_validation_error(doc, info.value, **kwargs)


def test_every_error_gets_one_located_line(tmp_path):
    doc = load_yaml(write(tmp_path, BAD_CONFIG, "bad.yaml"))
    lines = validation_message(doc, Config, allowed_keys=allowed_keys_for(Config)).splitlines()
    f = doc.path
    assert lines == [
        f"{f}: start: required key missing",
        f"{f}: end: required key missing",
        f"{f}:1:1: fee_bps: Input should be a valid number, unable to parse string as a number,"
        " got 'ten'",
        f"{f}:4:21: strategies[0].tickers[1]: Input should be a valid string, got False"
        " — YAML 1.1 reads the unquoted word NO as a boolean; quote it: 'NO'",
        f"{f}:7:7: strategies[0].params.entry: got 'opne'; did you mean 'open'?;"
        " allowed: 'open' or 'close'",
        f"{f}:6:7: strategies[0].params.hold_dyas: unknown key 'hold_dyas';"
        " did you mean 'hold_days'?; allowed: entry, hold_days",
    ]


def test_message_parts_without_allowed_keys(tmp_path):
    doc = load_yaml(write(tmp_path, BAD_CONFIG, "bad.yaml"))
    message = validation_message(doc, Config)
    assert "bad.yaml:6:7: strategies[0].params.hold_dyas: unknown key 'hold_dyas'" in message
    assert "did you mean 'hold_days'" not in message
    assert "'open' or 'close'" in message
    assert "got 'ten'" in message


def test_missing_nested_keys_point_at_their_parent(tmp_path):
    doc = load_yaml(write(tmp_path, "start: a\nend: b\nstrategies:\n  - params: {}\n"))
    message = validation_message(doc, Config)
    assert f"{doc.path}:4:5: strategies[0].name: required key missing" in message
    assert f"{doc.path}:4:5: strategies[0].tickers: required key missing" in message


def test_range_error_has_value(tmp_path):
    text = "start: a\nend: b\nstrategies:\n  - {name: x, tickers: [A], params: {hold_days: 0}}\n"
    doc = load_yaml(write(tmp_path, text))
    message = validation_message(doc, Config)
    assert message == (
        f"{doc.path}:4:38: strategies[0].params.hold_days:"
        " Input should be greater than or equal to 1, got 0"
    )


def test_number_like_string_is_explained(tmp_path):
    class Strict(Frozen):
        threshold: float = Field(strict=True)

    doc = load_yaml(write(tmp_path, "threshold: 1e-3\n"))
    message = validation_message(doc, Strict)
    assert message.startswith(f"{doc.path}:1:1: threshold: ")
    assert "got '1e-3'" in message
    assert (
        "YAML 1.1 reads the unquoted 1e-3 as a string (its floats need a dot); write 1.0e-3"
        in message
    )


# ---------------------------------------------------------------- tagged unions in loc


class Pead(Frozen):
    name: Literal["pead"]
    hold_days: int = 5


class Drift(Frozen):
    name: Literal["drift"]
    lookback: int


class Run(Frozen):
    strategies: list[Annotated[Pead | Drift, Field(discriminator="name")]]


def test_discriminated_union_tags_are_dropped_from_paths(tmp_path):
    doc = load_yaml(
        write(
            tmp_path,
            ("strategies:\n  - name: pead\n    hold_dyas: 3\n  - name: drift\n  - name: peed\n"),
        )
    )
    lines = validation_message(doc, Run, allowed_keys=allowed_keys_for(Run)).splitlines()
    f = doc.path
    assert lines == [
        f"{f}:3:5: strategies[0].hold_dyas: unknown key 'hold_dyas'; did you mean 'hold_days'?;"
        " allowed: hold_days, name",
        f"{f}:4:5: strategies[1].lookback: required key missing",
        f"{f}:5:5: strategies[2]: unknown name 'peed'; did you mean 'pead'?;"
        " available: 'pead', 'drift'",
    ]


def test_allowed_keys_for_follows_tags_lists_and_optionals():
    class Outer(Frozen):
        run: Run | None = None

    allowed = allowed_keys_for(Outer)
    assert allowed(("run", "strategies", 0, "drift")) == ["lookback", "name"]
    assert allowed(("run",)) == ["strategies"]
    assert allowed(()) == ["run"]
    assert allowed(("run", "nope")) == []
