"""Shared fixtures.

``tests/`` has no ``__init__.py``, so pytest puts it on ``sys.path`` when it loads this file; that is
what makes ``from fleet import SshFleet`` work here and in the test modules.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet import SSHD_MISSING, FleetFactory, SshFleet, find_sshd

# -- SSH test fleet ------------------------------------------------------------------------------


def _require_sshd() -> Path:
    """Skip SSH tests on machines without sshd, but never silently on CI."""
    sshd = find_sshd()
    if sshd is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(SSHD_MISSING, pytrace=False)
        pytest.skip(SSHD_MISSING)
    return sshd


@pytest.fixture(scope="session")
def ssh_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshFleet]:
    """Four hosts shared by the whole session; tests that stop sshd should use ``make_fleet``."""
    sshd = _require_sshd()
    with SshFleet(tmp_path_factory.mktemp("ssh-fleet"), 4, sshd_path=sshd) as fleet:
        yield fleet


@pytest.fixture
def make_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetFactory]:
    """Start extra fleets (``make_fleet(40)``) that are stopped when the test ends."""
    sshd = _require_sshd()
    fleets: list[SshFleet] = []

    def make(n_hosts: int, base: str = "127.0.1.") -> SshFleet:
        fleet = SshFleet(tmp_path_factory.mktemp(f"ssh-fleet-{n_hosts}-"), n_hosts, base, sshd_path=sshd)
        fleets.append(fleet)
        return fleet.start()

    yield make
    for fleet in fleets:
        fleet.stop()
