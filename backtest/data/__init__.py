"""Price sources behind one interface; the engine never fetches data.

A source is anything with ``load(ticker) -> DataFrame`` returning the prices
schema of :mod:`backtest.core.schema` (raw, unvalidated). :func:`load_prices` then
validates, applies the price basis and trims to the requested dates.
"""

from __future__ import annotations

from backtest.data.bundled import BundledPrices, bundled_tickers
from backtest.data.files import FilePrices
from backtest.data.prices import PriceSource, load_prices
from backtest.data.universe import BundledUniverse, PanelPrices, load_us100, us100_tickers
from backtest.data.validate import ValidationReport, validate_prices

__all__ = [
    "BundledPrices",
    "BundledUniverse",
    "FilePrices",
    "PanelPrices",
    "PriceSource",
    "ValidationReport",
    "bundled_tickers",
    "load_prices",
    "load_us100",
    "us100_tickers",
    "validate_prices",
]
