"""Price sources behind one interface; the engine never fetches data.

A source is anything with ``load(ticker) -> DataFrame`` returning the prices
schema of :mod:`backtest.core.schema` (raw, unvalidated).
:func:`backtest.data.prices.load_prices` then validates, applies the price basis and
trims to the requested dates. Sources: :mod:`backtest.data.bundled`,
:mod:`backtest.data.files`, :mod:`backtest.data.universe`, :mod:`backtest.data.yahoo`.
This package imports nothing on its own; import from the modules.
"""
