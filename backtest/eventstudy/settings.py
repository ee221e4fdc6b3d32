"""Settings of an event study: windows in sessions relative to day 0, benchmark, bootstrap.

Day 0 is the event's aligned reaction session (the ``session`` column of the
aligned events table): for a report before the open (bmo) it is the report's
own session; after the close (amc), unknown time or a weekend it is the next
session. Every window below counts trading sessions relative to day 0.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

__all__ = ["EventStudyConfig", "Window"]

Window = tuple[int, int]
GroupBy = Literal["timing", "event_type", "surprise", "surprise_quantile"]


class EventStudyConfig(BaseModel):
    """Frozen settings of :func:`backtest.eventstudy.run_event_study`.

    Parameters
    ----------
    estimation_window : (int, int)
        First and last session of the market-model estimation window, relative to
        day 0, inclusive. Must end before ``event_window`` starts so that the event
        itself never leaks into the normal-return model. Default ``(-250, -11)``.
    min_estimation_obs : int
        Fewest sessions with both returns present in the estimation window; an event
        with fewer is dropped (``estimation_too_short``). Default 120.
    event_window : (int, int)
        Sessions for which abnormal returns are reported, inclusive. Default ``(-10, 20)``.
    car_windows : list of (int, int)
        Windows (inside ``event_window``) for CAR per event and the tests.
    benchmark : str
        Ticker of the market index, SPY by default.
    confidence : float
        Level of the CAAR bands and the bootstrap interval, in (0, 1).
    bootstrap_reps : int
        Bootstrap resamples for the CAAR interval.
    seed : int
        Seed of the numpy Generator used by the bootstrap (results are reproducible).
    surprise_thresholds : list of float, optional
        Cut points of ``surprise_pct`` (percent) for the surprise buckets, ascending.
        ``None`` (default) uses terciles of the study's own events.
    group_by : list of str
        Groupings besides ``all``: ``timing``, ``event_type``, ``surprise`` (the
        buckets above) and ``surprise_quantile`` (quantiles known at the event, see
        :func:`backtest.eventstudy.groups.point_in_time_quantiles`). Default: the
        first three.
    surprise_quantiles : int
        Number of surprise quantiles of ``surprise_quantile`` (5: quintiles Q1..Q5).
    quantile_min_history : int
        Fewest surprises published before an event for it to get a quantile; earlier
        events are studied but not in the ``surprise_quantile`` grouping.
    cluster : {"same_ticker_day0", "none"}
        ``same_ticker_day0`` (default): events of one ticker with the same day 0 are
        one observation, the earliest published; the others are drops with reason
        ``clustered`` naming the kept event (:mod:`backtest.eventstudy.clusters`).
        ``none``: every event is an observation.

    Examples
    --------
    >>> EventStudyConfig().event_window
    (-10, 20)
    >>> EventStudyConfig(estimation_window=(-100, -5))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for EventStudyConfig
    ...estimation_window (-100, -5) must end before event_window (-10, 20) starts...
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    estimation_window: Window = (-250, -11)
    min_estimation_obs: int = Field(default=120, ge=5)
    event_window: Window = (-10, 20)
    car_windows: tuple[Window, ...] = ((0, 0), (-1, 1), (0, 1), (2, 20), (-10, 20))
    benchmark: StrictStr = "SPY"
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)
    bootstrap_reps: int = Field(default=2000, ge=100)
    seed: int = 0
    surprise_thresholds: tuple[float, ...] | None = None
    group_by: tuple[GroupBy, ...] = Field(
        default=("timing", "event_type", "surprise"), min_length=1
    )
    surprise_quantiles: int = Field(default=5, ge=2, le=20)
    quantile_min_history: int = Field(default=20, ge=1)
    cluster: Literal["same_ticker_day0", "none"] = "same_ticker_day0"

    @model_validator(mode="after")
    def _check_windows(self) -> EventStudyConfig:
        for name in ("estimation_window", "event_window"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"{name} ({lo}, {hi}) starts after it ends; write (first, last)")
        est, ev = self.estimation_window, self.event_window
        if est[1] >= ev[0]:
            raise ValueError(
                f"estimation_window {est} must end before event_window {ev} starts "
                f"(e.g. estimation_window: [{est[0]}, {ev[0] - 1}])"
            )
        if est[1] - est[0] + 1 < self.min_estimation_obs:
            raise ValueError(
                f"estimation_window {est} has fewer sessions than min_estimation_obs "
                f"{self.min_estimation_obs}"
            )
        self._check_car_windows()
        if len(set(self.group_by)) != len(self.group_by):
            raise ValueError(f"group_by {list(self.group_by)} names a grouping twice")
        thresholds = self.surprise_thresholds
        if thresholds is not None and list(thresholds) != sorted(set(thresholds)):
            raise ValueError(f"surprise_thresholds {list(thresholds)} must be strictly ascending")
        return self

    def _check_car_windows(self) -> None:
        lo, hi = self.event_window
        for first, last in self.car_windows:
            if first > last or first < lo or last > hi:
                raise ValueError(
                    f"car_windows entry ({first}, {last}) must satisfy {lo} <= first <= last "
                    f"<= {hi} (inside event_window)"
                )
