"""Built-in strategies, one per module; importing this package registers them all."""

from strategies import earnings_hold, news_momentum

__all__ = ["earnings_hold", "news_momentum"]
