"""`load_config(scope="engine")`: only the inventory and tasks are read, and the automation code is not loaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fleetdeck.core.alerts.rules import ALERTS_FILE, AlertsConfig
from fleetdeck.core.automation.remediation import FILE as REMEDIATION_FILE
from fleetdeck.core.automation.schedules import FILE as SCHEDULES_FILE
from fleetdeck.core.config import loader
from fleetdeck.core.errors import ConfigError
from fleetdeck.core.notify.config import NOTIFY_FILE


def write_config(root: Path) -> Path:
    (root / "hosts.toml").write_text('[hosts.localhost]\ntransport = "local"\n')
    (root / "tasks.toml").write_text('[tasks.up]\ndescription = "uptime"\ncommand = "uptime"\n')
    (root / ALERTS_FILE).write_text('[[rules]]\nname = "X"\nexpr = "cpu >"\n')  # broken on purpose
    return root


def test_engine_scope_skips_the_automation_files(tmp_path: Path) -> None:
    root = write_config(tmp_path)
    with pytest.raises(ConfigError, match=r"alerts\.toml"):
        loader.load_config(root)
    config = loader.load_config(root, scope="engine")
    assert config.scope == "engine"
    assert list(config.tasks) == ["up"]
    assert config.files == ("hosts.toml", "tasks.toml")
    assert config.alerts == AlertsConfig()  # the built-in defaults, as without an alerts.toml
    assert config.schedules == [] and not config.notify.channels


def test_engine_scope_does_not_import_the_alert_code(tmp_path: Path) -> None:
    root = write_config(tmp_path)
    probe = (
        "import sys; from fleetdeck.core.config import load_config; "
        f"load_config({str(root)!r}, scope='engine'); "
        "print(sorted(m for m in sys.modules if m.startswith(('fleetdeck.core.alerts', 'fleetdeck.core.notify', "
        "'fleetdeck.core.automation'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_file_names_agree_with_their_modules() -> None:
    assert loader.ALERTS_FILE == ALERTS_FILE
    assert loader.REMEDIATION_FILE == REMEDIATION_FILE
    assert loader.SCHEDULES_FILE == SCHEDULES_FILE
    assert loader.NOTIFY_FILE == NOTIFY_FILE
