"""The whole-section fast paths of the /proc parsers agree with the careful line-by-line readers.

The fast paths only engage when every line is well formed, so each golden capture is parsed both ways and
compared; a malformed line must still reach the careful reader and its precise message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetdeck.core.health import proc_parse
from fleetdeck.core.health.frames import FrameSplitter

CASES = sorted((Path(__file__).parent / "data" / "proc").iterdir())


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_fast_and_careful_readings_agree(case: Path) -> None:
    meminfo = (case / "meminfo").read_text()
    assert proc_parse._MEMINFO_LINE.findall(meminfo), "the fast path should engage on a real capture"
    assert proc_parse.parse_meminfo(meminfo).total_bytes == proc_parse._meminfo_lines(meminfo)["MemTotal"] * 1024

    diskstats = (case / "diskstats").read_text()
    careful = proc_parse._diskstats_lines(diskstats)
    disks = proc_parse._whole_disks(tuple(careful))
    assert proc_parse.parse_diskstats(diskstats) == {n: c for n, c in careful.items() if n in disks}

    if case.name != "rhel5-2.6.18":  # its 7-field partition lines go the careful way
        assert proc_parse._diskstats_plain(diskstats) is not None, "the fast path should engage"

    netdev = (case / "netdev").read_text()
    assert proc_parse._netdev_plain(netdev) is not None, "the fast path should engage on a real capture"
    fast = proc_parse.parse_netdev(netdev)
    mangled = netdev.replace(":", ": ", 1)  # Still valid; compare against a reading of the same numbers.
    assert fast == proc_parse.parse_netdev(mangled)
    assert fast and "lo" not in fast


def test_a_bad_line_still_gets_the_careful_message() -> None:
    good = "MemTotal:  1000 kB\nMemAvailable:  500 kB\n"
    assert proc_parse.parse_meminfo(good).available_bytes == 500 * 1024
    with pytest.raises(proc_parse.ProbeParseError, match="MemAvailable is 'lots', not a whole number"):
        proc_parse.parse_meminfo("MemTotal:  1000 kB\nMemAvailable: lots\n")
    with pytest.raises(proc_parse.ProbeParseError, match="sda sectors read"):
        proc_parse.parse_diskstats("   8       0 sda 1 2 x 4 5 6 7 8 9 10 11\n")
    with pytest.raises(proc_parse.ProbeParseError, match="is negative"):
        proc_parse.parse_stat("cpu  1 2 3 -4\n")


def test_whole_frames_and_byte_by_byte_frames_are_the_same() -> None:
    case = CASES[0]
    body = "".join(f"@@{name}\n{(case / name).read_text()}" for name in ("uptime", "stat", "meminfo", "loadavg"))
    stream = f"@@FD1 1 100\n{body}@@END 1\n@@FD1 2 102\n{body}@@END 2\n".encode()
    whole = FrameSplitter().feed(stream)
    dribbled = []
    splitter = FrameSplitter()
    for i in range(len(stream)):
        dribbled.extend(splitter.feed(stream[i : i + 1]))
    assert len(whole) == 2
    assert whole == dribbled
