"""Write an event study's tables and charts into a folder."""

from __future__ import annotations

from pathlib import Path

from backtest.eventstudy.attribution import extreme_events
from backtest.report.eventstudy_charts import write_car_charts
from backtest.report.writer import write_csv

__all__ = ["TABLES", "write_event_study"]

TABLES = ("ar", "car", "caar", "tests", "attribution", "drops")
EXTREMES_PER_STRATEGY = 5


def write_event_study(result, folder: Path, charts: bool = True) -> list[Path]:
    """Write ``ar, car, caar, tests, attribution, drops`` CSVs, best/worst events and charts.

    Parameters
    ----------
    result : EventStudyResult
        Output of :func:`backtest.eventstudy.run_event_study`.
    folder : pathlib.Path
        Target folder, created if needed; charts go to ``folder/charts``.
    charts : bool
        Also draw the CAR charts.

    Returns
    -------
    list of pathlib.Path
        Every file written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in TABLES:
        write_csv(getattr(result, name), folder / f"{name}.csv")
        written.append(folder / f"{name}.csv")
    extremes = extreme_events(result.attribution, EXTREMES_PER_STRATEGY)
    write_csv(extremes, folder / "best_worst_events.csv")
    written.append(folder / "best_worst_events.csv")
    if charts:
        (folder / "charts").mkdir(exist_ok=True)
        written += write_car_charts(result, folder / "charts")
    return written
