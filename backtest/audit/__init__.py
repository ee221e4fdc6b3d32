"""``backtest check``: a look-ahead audit users can run on any config.

Three experiments, each a small module:

* :mod:`~backtest.audit.future` -- perturb or truncate every price after a cut
  instant and check that no decision made at or before the cut changed
  (RELIABILITY I1, I2). A change is a look-ahead bug.
* :mod:`~backtest.audit.timing` -- move every event to the last instant before
  its aligned session (a decision must not depend on earlier publication), and
  flag hour-only timestamps within an hour of the open or close.
* :mod:`~backtest.audit.decay` -- delay every event by one session and report
  how much performance falls (information decay; reported, not an error).

:func:`~backtest.audit.run.run_audit` runs all three.
"""

from backtest.audit.run import AuditReport, run_audit

__all__ = ["AuditReport", "run_audit"]
