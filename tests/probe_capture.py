"""The real probe run over a captured host: `/proc` and `/etc` files from `unit/data/proc/<case>/` under a fake root.

The captures hold each source file as a host printed it (RHEL 5 to Debian 12, an Alpine container); the probe's
own shell picks its `tick` section out of them, so the golden tests check the shell's field picking and the
parser together. `df` cannot be pointed at a capture, so its sections are the captured ones.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from pathlib import Path

from fleetdeck.core.health.frames import Frame, FrameSplitter
from fleetdeck.core.health.probe import probe_argv

CASES = Path(__file__).parent / "unit" / "data" / "proc"

PROC_FILES = {
    "uptime": "proc/uptime",
    "stat": "proc/stat",
    "meminfo": "proc/meminfo",
    "loadavg": "proc/loadavg",
    "netdev": "proc/net/dev",
    "diskstats": "proc/diskstats",
}


def capture(case: str, name: str) -> str:
    """One captured file of a case."""
    return (CASES / case / name).read_text(encoding="utf-8")


def build_root(case: str, root: Path) -> None:
    """Lay the case's files out under `root` as the probe reads them."""
    for name, where in PROC_FILES.items():
        path = root / where
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(capture(case, name), encoding="utf-8")
    ostype, _, release = capture(case, "kernel").strip().partition(" ")
    kernel = root / "proc" / "sys" / "kernel"
    kernel.mkdir(parents=True)
    (kernel / "ostype").write_text(ostype + "\n")
    (kernel / "osrelease").write_text(release + "\n")
    for pid in range(1, int(capture(case, "procs")) + 1):
        (root / "proc" / str(pid)).mkdir()
    os_release = capture(case, "osrelease")
    if os_release:
        (root / "etc").mkdir()
        (root / "etc" / "os-release").write_text(os_release, encoding="utf-8")


@functools.cache
def probe_frame(case: str, shell: tuple[str, ...] = ("sh",)) -> Frame:
    """The first frame the probe prints for the case (its df sections replaced by the captured ones).

    Args:
        case: The capture's directory name.
        shell: The command that runs the script (`("busybox", "sh")` for BusyBox ash).
    """
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_root(case, root)
        argv = [*shell, *probe_argv(1000, root=str(root))[1:]]
        proc = subprocess.run(argv, input=b"", capture_output=True, timeout=30, check=False)
    assert proc.stderr == b"", proc.stderr
    (frame,) = FrameSplitter().feed(proc.stdout)
    assert isinstance(frame, Frame), frame
    sections = dict(frame.sections)
    sections["df"], sections["dfi"] = capture(case, "df"), capture(case, "dfi")
    return Frame(tick=frame.tick, epoch=frame.epoch, sections=sections)


def tick_of(case: str) -> str:
    """The `tick` section the probe prints for the case."""
    return probe_frame(case).sections["tick"]
