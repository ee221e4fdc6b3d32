"""Config stage: the YAML file, its overrides and the frozen, typed settings it yields."""

from backtest.config.model import LoadedConfig, config_hash, load_config, resolved_dump

__all__ = ["LoadedConfig", "config_hash", "load_config", "resolved_dump"]
