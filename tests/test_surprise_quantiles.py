"""Surprise quantiles known at the event: breakpoints from earlier events only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.config.model import config_hash, load_config
from backtest.eventstudy import EventStudyConfig
from backtest.eventstudy.groups import group_labels, point_in_time_quantiles
from tests.conftest import REPO

T0 = pd.Timestamp("2020-01-01", tz="UTC")


def _events(hours: list[int], surprises: list[float | None], prefix: str = "e") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": [f"{prefix}{i}" for i in range(len(hours))],
            "event_time": [T0 + pd.Timedelta(hours=h) for h in hours],
            "surprise_pct": [np.nan if s is None else s for s in surprises],
        }
    )


surprise = st.one_of(st.none(), st.floats(-50, 50, allow_nan=False).map(lambda x: round(x, 2)))


@settings(max_examples=60, deadline=None)
@given(
    past=st.lists(st.tuples(st.integers(0, 200), surprise), min_size=0, max_size=40),
    future=st.lists(st.tuples(st.integers(0, 400), surprise), min_size=1, max_size=40),
    n=st.integers(2, 6),
    min_history=st.integers(1, 8),
)
def test_adding_later_events_never_changes_an_earlier_events_quantile(past, future, n, min_history):
    base = _events([h for h, _ in past], [s for _, s in past])
    labels = point_in_time_quantiles(base, n, min_history)
    cutoff = max((h for h, _ in past), default=-1)
    later = [(cutoff + h, s) for h, s in future]  # at or after every event above
    more = pd.concat([base, _events([h for h, _ in later], [s for _, s in later], "f")])
    more = more.sample(frac=1.0, random_state=0).reset_index(drop=True)  # order must not matter
    again = point_in_time_quantiles(more, n, min_history)
    pd.testing.assert_series_equal(
        again.loc[base["event_id"]].reset_index(drop=True),
        labels.loc[base["event_id"]].reset_index(drop=True),
        check_names=False,
    )


def test_breakpoints_use_only_strictly_earlier_surprises():
    # Four events: the 4th sees 1, 2, 3 (median 2) and is above it; the 5th shares the
    # 4th's instant and so does not see its 100.
    ev = _events([0, 1, 2, 3, 3], [1.0, 2.0, 3.0, 100.0, 1.5])
    got = point_in_time_quantiles(ev, 2, 3)
    assert got.tolist() == [np.nan, np.nan, np.nan, "Q2", "Q1"]
    # A value equal to a breakpoint goes up; unknown surprises get no label.
    ev = _events([0, 1, 2, 3, 4], [1.0, 2.0, 3.0, 2.0, None])
    assert point_in_time_quantiles(ev, 2, 3).tolist()[3:] == ["Q2", np.nan]


def test_quantiles_differ_from_hindsight_terciles_on_a_trending_series():
    # Surprises that grow over time: with hindsight the early events are all "low";
    # known at the event, each new one is the highest so far.
    ev = _events(list(range(30)), [float(i) for i in range(30)])
    pit = point_in_time_quantiles(ev, 3, 5)
    assert set(pit.dropna()) == {"Q3"} and pit.notna().sum() == 25


def test_group_labels_put_quantiles_in_their_own_grouping_in_natural_order():
    ev = _events([0, 1, 2], [1.0, 2.0, 3.0]).assign(timing="amc", event_type="earnings")
    quantiles = pd.Series(["Q3", "Q1", None], index=ev["event_id"])
    out = group_labels(ev, None, ("surprise_quantile",), quantiles)
    part = out[out["group_by"] == "surprise_quantile"]
    assert part[["event_id", "group"]].values.tolist() == [["e1", "Q1"], ["e0", "Q3"]]
    assert set(out["group_by"]) == {"all", "surprise_quantile"}


def test_settings_reject_a_repeated_grouping_and_too_few_quantiles():
    with pytest.raises(ValueError, match="names a grouping twice"):
        EventStudyConfig(group_by=("timing", "timing"))
    with pytest.raises(ValueError, match="greater than or equal to 2"):
        EventStudyConfig(surprise_quantiles=1)


def test_new_study_keys_at_their_defaults_keep_run_ids():
    loaded = load_config(REPO / "configs" / "baba_2026.yaml")
    same = load_config(
        REPO / "configs" / "baba_2026.yaml",
        ["event_study.group_by=[timing, event_type, surprise]", "event_study.surprise_quantiles=5"],
    )
    moved = load_config(REPO / "configs" / "baba_2026.yaml", ["event_study.surprise_quantiles=4"])
    assert config_hash(loaded.config) == config_hash(same.config)
    assert config_hash(loaded.config) != config_hash(moved.config)
