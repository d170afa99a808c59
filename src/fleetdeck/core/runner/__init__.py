"""Running tasks and ad-hoc commands on many hosts: events, sinks, the runner and its results."""

from __future__ import annotations
