"""Short after an earnings gap down of more than 5%: bad news is under-priced at the open."""

from backtest.strategy import Skip, StrategyParams, Trade, at_close, register_event_strategy


class GapDown(StrategyParams):
    min_gap_pct: float = 5.0  # only gaps down larger than this (%)
    hold: int = 3  # sessions held after the reaction close


REASONS = {"no_gap_down": "the opening gap is not below -min_gap_pct"}


@register_event_strategy("gap_down_short", GapDown, ("earnings",), REASONS)
def decide(event, market, p):
    """Short the reaction session's close after an earnings gap down; cover p.hold sessions later."""
    gap = market.gap_pct()  # open of the reaction session vs the close before, in %
    if not gap < -p.min_gap_pct:
        return Skip("no_gap_down", f"opening gap {gap:+.1f}% is not below -{p.min_gap_pct}%")
    return Trade("short", enter=at_close(0), exit=at_close(p.hold))
