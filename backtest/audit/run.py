"""Run every audit experiment on a config and collect one report."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from backtest.audit.decay import decay_table
from backtest.audit.decisions import Decisions, decide
from backtest.audit.future import FINDING_COLUMNS, choose_cuts, future_findings
from backtest.audit.sizes import SIZE_CHECKS, entry_cuts, run_entries, size_findings
from backtest.audit.timing import hour_only_flags, late_publication
from backtest.config.model import LoadedConfig, load_config
from backtest.core.progress import report
from backtest.run.runner import load_inputs

__all__ = ["AuditReport", "run_audit"]


@dataclass(frozen=True)
class AuditReport:
    """What the audit found.

    ``findings`` (strategy, check, cut, event_id, before, after): decisions
    that changed when they must not have; any row is a look-ahead bug.
    ``summary``: per strategy, decisions checked and findings per check.
    ``decay``: performance on time vs one session late. ``hour_flags``:
    whole-hour timestamps within an hour of the open or close. ``cuts``:
    the instants the future was changed after. ``size_cuts``: the entry instants
    the future was changed after to re-check estimates, costs and sizes
    (:mod:`~backtest.audit.sizes`).
    """

    findings: pd.DataFrame
    summary: pd.DataFrame
    decay: pd.DataFrame
    hour_flags: pd.DataFrame
    cuts: list
    size_cuts: list = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when no decision depended on the future."""
        return self.findings.empty


def _raised(base: Decisions) -> pd.DataFrame:
    rows = [
        {
            "strategy": k,
            "check": "signal_timing",
            "cut": pd.NaT,
            "event_id": "-",
            "before": "-",
            "after": str(v),
        }
        for k, v in base.items()
        if isinstance(v, Exception)
    ]
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def _summary(
    base: Decisions, findings: pd.DataFrame, n_cuts: int, entries: pd.DataFrame
) -> pd.DataFrame:
    rows = []
    for label, signals in base.items():
        mine = findings[findings["strategy"].isin([label, "-"])]
        rows.append(
            {
                "strategy": label,
                "decisions": len(signals) if isinstance(signals, pd.DataFrame) else 0,
                "cuts": n_cuts,
                "entries": int((entries["strategy"] == label).sum()) if len(entries) else 0,
                **{c: int((mine["check"] == c).sum()) for c in CHECKS},
            }
        )
    return pd.DataFrame(rows)


def _without_raised(loaded: LoadedConfig, base: Decisions) -> LoadedConfig:
    """The config minus strategies whose signals already failed the timing check."""
    ok = [s for s in loaded.config.strategies if not isinstance(base[s.label or s.name], Exception)]
    config = loaded.config.model_copy(update={"strategies": ok})
    return replace(loaded, config=config)


CHECKS = (
    "signal_timing",
    "future_prices_perturbed",
    "future_prices_truncated",
    "published_late",
    *SIZE_CHECKS,
)


def run_audit(config: str | Path | LoadedConfig, cuts: int = 25, seed: int = 0) -> AuditReport:
    """Audit every strategy of a config for look-ahead and information decay.

    Parameters
    ----------
    config : str, Path or LoadedConfig
        The run configuration to audit.
    cuts : int
        How many decision instants to change the future after.
    seed : int
        Seed of the random price perturbation.
    """
    loaded = config if isinstance(config, LoadedConfig) else load_config(config)
    inputs = load_inputs(loaded)
    report("deciding on the data as given")
    base = decide(loaded, inputs)
    instants = choose_cuts(base, cuts)
    parts = [
        _raised(base),
        future_findings(loaded, inputs, base, instants, seed),
    ]
    report("events published as late as their session allows")
    parts.append(late_publication(loaded, inputs, base))
    report("sizing every entry on the data as given")
    clean = _without_raised(loaded, base)
    entries = run_entries(clean, inputs) if clean.config.strategies else pd.DataFrame()
    size_cuts = entry_cuts(entries, cuts, inputs.cal)
    parts.append(size_findings(clean, inputs, entries, size_cuts, seed))
    found = [p for p in parts if len(p)]
    findings = pd.concat(found, ignore_index=True) if found else pd.DataFrame()
    findings = findings.reindex(columns=FINDING_COLUMNS)
    report("information decay: every event one session late")
    return AuditReport(
        findings=findings,
        summary=_summary(base, findings, len(instants), entries),
        decay=decay_table(clean, inputs),
        hour_flags=hour_only_flags(inputs.events, inputs.cal),
        cuts=instants,
        size_cuts=size_cuts,
    )
