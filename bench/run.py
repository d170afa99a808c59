"""Run every fleetdeck benchmark in turn: ``make bench`` or ``python bench/run.py``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHES = ["inventory_load.py", "fanout.py", "health_watch.py", "console.py"]


def main() -> int:
    here = Path(__file__).parent
    status = 0
    for bench in BENCHES:
        print(f"== {bench}", flush=True)
        status |= subprocess.run([sys.executable, str(here / bench), *sys.argv[1:]], check=False).returncode
    return status


if __name__ == "__main__":
    raise SystemExit(main())
