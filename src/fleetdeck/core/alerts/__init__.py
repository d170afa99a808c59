"""Alerts: rules over health samples, a state machine per alert, silences, acknowledgements and their store.

Rules come from ``alerts.toml`` (:func:`load_alerts`, or :data:`DEFAULT_RULES` without one); the
:class:`AlertEngine` turns each :class:`~fleetdeck.core.health.sample.HealthSample` into
:class:`AlertChanged` and :class:`AlertFlapping` events; the :class:`AlertStore` keeps alert states,
silences and acknowledgements in SQLite so other processes see them; :class:`AlertService` wires the
two for whoever owns the alerts (the daemon or the console). Notification, remediation and display are
other packages' business: they consume the events and records defined here. Pure core: no textual, no rich.
"""

from __future__ import annotations

from fleetdeck.core.alerts.engine import AlertEngine
from fleetdeck.core.alerts.expr import Condition, ExprError, parse_expr
from fleetdeck.core.alerts.rules import (
    ALERTS_FILE,
    DEFAULT_RULES,
    AlertsConfig,
    FlapSettings,
    Remediation,
    Rule,
    load_alerts,
)
from fleetdeck.core.alerts.schema import Severity, format_duration, parse_duration
from fleetdeck.core.alerts.service import AlertService
from fleetdeck.core.alerts.silences import Matcher, MatcherError, Silence, parse_matcher, parse_matchers
from fleetdeck.core.alerts.state import (
    AlertChanged,
    AlertEvent,
    AlertFlapping,
    AlertRecord,
    AlertState,
    UnknownAlertError,
    alert_key,
)
from fleetdeck.core.alerts.store import AlertStore, UnknownSilenceError

__all__ = [
    "ALERTS_FILE",
    "DEFAULT_RULES",
    "AlertChanged",
    "AlertEngine",
    "AlertEvent",
    "AlertFlapping",
    "AlertRecord",
    "AlertService",
    "AlertState",
    "AlertStore",
    "AlertsConfig",
    "Condition",
    "ExprError",
    "FlapSettings",
    "Matcher",
    "MatcherError",
    "Remediation",
    "Rule",
    "Severity",
    "Silence",
    "UnknownAlertError",
    "UnknownSilenceError",
    "alert_key",
    "format_duration",
    "load_alerts",
    "parse_duration",
    "parse_expr",
    "parse_matcher",
    "parse_matchers",
]
