"""Automation: scheduled tasks, alert-triggered remediation under guard rails, and the unattended daemon."""

from __future__ import annotations
