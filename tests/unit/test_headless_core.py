"""The engine stays headless: importing every ``fleetdeck.core`` module loads neither textual nor rich."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import fleetdeck.core

CONFIGS = Path(__file__).parents[2] / "configs"


def core_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(fleetdeck.core.__path__, "fleetdeck.core."))


def test_core_has_modules_to_check() -> None:
    mods = core_modules()
    assert "fleetdeck.core.inventory" in mods and "fleetdeck.core.config.loader" in mods


def test_core_never_imports_textual_or_rich() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported: {out.stdout.strip()}"


def test_headless_cli_commands_do_not_load_the_ui() -> None:
    code = (
        "import sys\n"
        "from fleetdeck.cli import main\n"
        f"main(['--config', {str(CONFIGS)!r}, 'check'])\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "", out.stdout
