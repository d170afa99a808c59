"""Configuration: find the config directory, read its TOML files, validate them into typed models."""

from __future__ import annotations

from fleetdeck.core.config.loader import Config, load_config

__all__ = ["Config", "load_config"]
