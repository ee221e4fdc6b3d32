"""Events: load from any source into one table, then align each to a tradable session.

Import what you need from its module (``backtest.events.loaders``, ``.news``,
``.align``, ``.table``...): this package imports nothing on its own, so the
strategy API's use of :mod:`backtest.events.align` does not load every source.
"""
