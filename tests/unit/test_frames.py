"""Frame splitting and sample building: chunk boundaries, broken frames, resync, rates and counter resets.

Streams are built from the golden `/proc` captures in `data/proc/` or from small synthetic sections whose
deltas are known, so every rate below is checked against arithmetic done by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Mapping
from pathlib import Path

import pytest

from fleetdeck.core.health.frames import (
    MAX_SECTION_BYTES,
    WAIT_FOR_FRAME_BYTES,
    Frame,
    FrameError,
    FrameSplitter,
    SampleBuilder,
    per_core_percents,
    read_samples,
)
from fleetdeck.core.health.proc_parse import CpuStat, CpuTimes, ProbeParseError, parse_tick
from probe_capture import probe_frame

CASES = Path(__file__).parent / "data" / "proc"


def encode(tick: int, epoch: int, sections: Mapping[str, str]) -> bytes:
    """One frame exactly as the probe prints it."""
    body = "".join(f"@@{name}\n{text}" for name, text in sections.items())
    return f"@@FD1 {tick} {epoch}\n{body}@@END {tick}\n".encode()


def case_sections(case: str) -> dict[str, str]:
    """The sections the probe prints for a captured host (see `probe_capture`)."""
    return dict(probe_frame(case).sections)


def fast(
    uptime: float = 1000.0,
    cpu: tuple[int, ...] = (1000, 0, 500, 8000, 100, 0, 50, 20),
    rx: int = 10_000,
    tx: int = 5_000,
    read_sectors: int = 400,
    write_sectors: int = 800,
    extra_nics: str = "",
    btime: int = 1_700_000_000,
    mem: str = "m 1000 - 250 - - 400 300",
) -> dict[str, str]:
    """A synthetic `tick` section with the counters a rate test needs to control."""
    cols = " ".join(str(c) for c in cpu)
    return {
        "tick": (
            f"u {uptime:.2f} 1.00\ncpu  {cols} 0 0\ncpu0 {cols} 0 0\nb {btime} 42\n{mem}\n"
            "l 0.50 0.25 0.10 1/100 999\n"
            f"n     lo 99999 99999\nn   eth0 {rx} {tx}\n{extra_nics}"
            f"d sda {read_sectors} {write_sectors}\nd sda1 {read_sectors} {write_sectors}\n"
        )
    }


def frames_of(items: list[Frame | FrameError]) -> list[Frame]:
    return [item for item in items if isinstance(item, Frame)]


def errors_of(items: list[Frame | FrameError]) -> list[str]:
    return [str(item) for item in items if isinstance(item, FrameError)]


# -- splitting ------------------------------------------------------------------------------------


def test_a_frame_round_trips_with_its_sections_verbatim() -> None:
    sections = case_sections("debian12-6.1")
    (frame,) = FrameSplitter().feed(encode(1, 1717480266, sections))
    assert isinstance(frame, Frame)
    assert (frame.tick, frame.epoch) == (1, 1717480266)
    assert frame.sections == sections


def test_every_chunk_boundary_of_a_two_frame_stream_gives_the_same_frames() -> None:
    stream = encode(1, 100, fast()) + encode(2, 102, fast(uptime=1002.0))
    whole = FrameSplitter().feed(stream)
    assert [f.tick for f in frames_of(whole)] == [1, 2] and not errors_of(whole)
    for cut in range(len(stream) + 1):
        splitter = FrameSplitter()
        got = splitter.feed(stream[:cut]) + splitter.feed(stream[cut:]) + list(splitter.close())
        assert got == whole, cut


def test_byte_at_a_time_including_inside_utf8_sequences() -> None:
    sections = fast()
    sections["osrelease"] = 'PRETTY_NAME="Débian ☃"\n'
    stream = encode(7, 100, sections)
    splitter = FrameSplitter()
    got: list[Frame | FrameError] = []
    for i in range(len(stream)):
        got += splitter.feed(stream[i : i + 1])
    (frame,) = got
    assert isinstance(frame, Frame) and frame.sections["osrelease"] == 'PRETTY_NAME="Débian ☃"\n'


def test_crlf_line_endings_from_a_pty_are_accepted() -> None:
    stream = encode(1, 100, fast()).replace(b"\n", b"\r\n")
    (frame,) = FrameSplitter().feed(stream)
    assert isinstance(frame, Frame) and frame.sections == fast()


def test_junk_before_the_first_header_is_one_error_then_frames_flow() -> None:
    stream = b"stdin: is not a tty\nWelcome to web01!\n\n" + encode(1, 100, fast()) + encode(2, 102, fast())
    got = FrameSplitter().feed(stream)
    assert errors_of(got) == ["probe output outside a frame: 'stdin: is not a tty'"]
    assert [f.tick for f in frames_of(got)] == [1, 2]


def test_a_frame_without_end_is_reported_and_the_next_header_resyncs() -> None:
    broken = encode(1, 100, fast()).replace(b"@@END 1\n", b"")
    got = FrameSplitter().feed(broken + encode(2, 102, fast()))
    assert errors_of(got) == ["probe frame 1 dropped: no @@END before the next frame header"]
    assert [f.tick for f in frames_of(got)] == [2]


def test_a_frame_cut_mid_line_by_a_restarted_probe_resyncs() -> None:
    first = encode(5, 100, fast())
    stream = first[: len(first) // 2] + b"\n" + encode(1, 103, fast())
    got = FrameSplitter().feed(stream)
    assert errors_of(got) == ["probe frame 5 dropped: no @@END before the next frame header"]
    assert [f.tick for f in frames_of(got)] == [1]


def test_an_oversized_section_drops_the_frame_and_resyncs() -> None:
    huge = dict(fast(), osrelease="x" * 100 + "\n" * 1 + ("y" * 1023 + "\n") * 1025)
    splitter = FrameSplitter()
    got = splitter.feed(encode(1, 100, huge)) + splitter.feed(encode(2, 102, fast()))
    assert errors_of(got) == [f"probe frame 1 dropped: section osrelease is larger than {MAX_SECTION_BYTES} bytes"]
    assert [f.tick for f in frames_of(got)] == [2]


def test_an_endless_line_is_bounded_reported_once_and_resyncs() -> None:
    splitter = FrameSplitter()
    got = splitter.feed(b"@@FD1 1 100\n@@stat\n")
    for _ in range(5):
        got += splitter.feed(b"z" * (MAX_SECTION_BYTES // 2))
    assert len(splitter._buffer) <= MAX_SECTION_BYTES  # memory stays bounded
    got += splitter.feed(b"zzz\n" + encode(2, 102, fast()))
    assert errors_of(got) == [f"probe frame 1 dropped: a line of more than {MAX_SECTION_BYTES} bytes"]
    assert [f.tick for f in frames_of(got)] == [2]


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (b"@@FD1 one 100\n@@stat\n@@END 1\n", "probe output dropped: malformed frame header '@@FD1 one 100'"),
        (
            b"@@FD1 1 100\n@@stat\ncpu 1\n@@END 2\n",
            "probe frame 1 dropped: trailer '@@END 2' does not match the header",
        ),
        (b"@@FD1 1 100\n@@stat\n@@stat\n@@END 1\n", "probe frame 1 dropped: section stat appears twice"),
        (b"@@FD1 1 100\nloose line\n@@END 1\n", "probe frame 1 dropped: data before the first section: 'loose line'"),
    ],
)
def test_malformed_frames_are_reported_and_the_next_frame_still_arrives(stream: bytes, message: str) -> None:
    got = FrameSplitter().feed(stream + encode(3, 104, fast()))
    assert errors_of(got) == [message]
    assert [f.tick for f in frames_of(got)] == [3]


def test_too_many_sections_drop_the_frame() -> None:
    sections = {f"s{i}": "x\n" for i in range(40)}
    got = FrameSplitter().feed(encode(1, 100, sections))
    assert errors_of(got) == ["probe frame 1 dropped: more than 32 sections"]


def test_end_of_stream_inside_a_frame_is_reported() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(encode(1, 100, fast())[:50]) == []
    assert [str(e) for e in splitter.close()] == ["probe frame 1 dropped: the stream ended inside frame 1 (no @@END)"]
    assert splitter.close() == []


def test_a_frame_in_pieces_is_cut_whole_once_its_trailer_arrives(monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame larger than a packet waits for its rest instead of going through the line-by-line machine."""
    lines: list[bytes] = []
    original = FrameSplitter._line

    def spy(self: FrameSplitter, line: bytes, out: list[Frame | FrameError]) -> None:
        lines.append(line)
        original(self, line, out)

    monkeypatch.setattr(FrameSplitter, "_line", spy)
    whole = encode(1, 100, fast()) + encode(2, 102, fast())
    splitter = FrameSplitter()
    got: list[Frame | FrameError] = []
    at = 0
    for cut in (40, 41, len(whole) // 2 - 3, len(whole) // 2 + 5, len(whole) - 1, len(whole)):  # trailer's newline last
        got += splitter.feed(whole[at:cut])
        at = cut
    assert got == FrameSplitter().feed(whole) and [f.tick for f in got if isinstance(f, Frame)] == [1, 2]
    assert lines == [], "no line went the slow way"

    # Past WAIT_FOR_FRAME_BYTES the line-by-line machine takes over (and keeps its limits): nothing waits unbounded.
    big = encode(3, 104, {**fast(), "big": "x" * 60 + "\n" + ("y" * 60 + "\n") * 2000})
    half = WAIT_FOR_FRAME_BYTES + 100
    assert len(big) > half
    splitter = FrameSplitter()
    got = splitter.feed(big[:half]) + splitter.feed(big[half:])
    (frame,) = got
    assert isinstance(frame, Frame) and frame.sections["big"].count("\n") == 2001
    assert len(lines) > 2000


def test_a_frame_cut_short_is_reported_at_the_end_with_what_was_wrong_in_it() -> None:
    splitter = FrameSplitter()
    broken = b"@@FD1 7 100\nno section yet\n@@uptime\n1.0 2.0\n"
    assert splitter.feed(broken) == []
    assert [str(e) for e in splitter.close()] == [
        "probe frame 7 dropped: data before the first section: 'no section yet'"
    ]


def test_end_of_stream_after_junk_without_newline_is_reported() -> None:
    splitter = FrameSplitter()
    assert splitter.feed(b"sh: 1: sleep: not found") == []
    assert [str(e) for e in splitter.close()] == ["probe output outside a frame: 'sh: 1: sleep: not found'"]


def test_random_garbage_never_raises() -> None:
    rng = random.Random(1234)
    valid = encode(1, 100, fast())
    for _ in range(300):
        blob = bytearray(valid * 2)
        for _ in range(rng.randint(1, 20)):
            blob[rng.randrange(len(blob))] = rng.choice(b"@\n#xF1 D")
        splitter = FrameSplitter()
        for frame in frames_of(splitter.feed(bytes(blob))):
            with contextlib.suppress(ProbeParseError):
                SampleBuilder("h").update(frame)
        splitter.close()


# -- samples --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir()))
def test_golden_frame_becomes_a_first_sample(case: str) -> None:
    (frame,) = FrameSplitter().feed(encode(1, 1700000000, case_sections(case)))
    assert isinstance(frame, Frame)
    sample = SampleBuilder("web01").update(frame)
    assert (sample.host, sample.time, sample.status) == ("web01", 1700000000.0, "up")
    assert sample.cpu_pct is None and sample.net_rx_bps is None and sample.disk_write_bps is None
    assert sample.mem_total_bytes and sample.mem_available_bytes is not None
    assert sample.mem_used_pct == pytest.approx(
        (sample.mem_total_bytes - sample.mem_available_bytes) * 100 / sample.mem_total_bytes
    )
    assert sample.cores >= 2 and sample.procs >= 1 and sample.kernel.startswith("Linux ")
    assert sample.filesystems and sample.filesystems[0].mount == "/"


def test_golden_values_of_one_case_in_the_sample() -> None:
    (frame,) = FrameSplitter().feed(encode(1, 1700000000, case_sections("ubuntu2204-5.15")))
    assert isinstance(frame, Frame)
    s = SampleBuilder("web01").update(frame)
    assert (s.load1, s.load5, s.load15, s.cores, s.procs, s.uptime_s) == (1.12, 0.86, 0.74, 2, 218, 282155.37)
    assert s.mem_total_bytes == 8139440 * 1024 and s.mem_available_bytes == 4986344 * 1024
    assert s.swap_used_pct == pytest.approx((2097148 - 1835004) * 100 / 2097148)
    assert (s.kernel, s.os_name) == ("Linux 5.15.0-1061-aws", "Ubuntu 22.04.4 LTS")
    assert [(fs.mount, fs.inodes_used_pct) for fs in s.filesystems] == [
        ("/", pytest.approx(512842 * 100 / 6451200)),
        ("/boot/efi", None),
        ("/data", 50.0),
    ]
    assert s.worst_disk_pct == pytest.approx(61408812 * 100 / (61408812 + 36412200))


def test_os_name_falls_back_to_the_kernel_without_os_release() -> None:
    (frame,) = FrameSplitter().feed(encode(1, 1455113204, case_sections("rhel5-2.6.18")))
    assert isinstance(frame, Frame)
    sample = SampleBuilder("old").update(frame)
    assert sample.os_name == "Linux 2.6.18-398.el5"
    assert sample.swap_used_pct == pytest.approx((4128760 - 4128596) * 100 / 4128760)
    assert sample.cpu_iowait_pct is None and sample.cpu_steal_pct is None  # still no delta


def test_no_swap_is_none_and_missing_slow_sections_keep_defaults() -> None:
    sections = fast(mem="m 1000 - 250 - - 0 0")
    sample = SampleBuilder("h").update(Frame(1, 100, sections))
    assert sample.swap_used_pct is None and sample.mem_used_pct == 75.0
    assert sample.filesystems == () and sample.kernel == "" and sample.os_name == ""


def test_rates_and_cpu_from_known_deltas() -> None:
    builder = SampleBuilder("h")
    first = builder.update(Frame(1, 100, fast()))
    assert first.cpu_pct is None and first.net_rx_bps is None
    # Over exactly 2.00 s of uptime: user +50, system +25, idle +100, iowait +10, softirq +0, steal +15.
    second = builder.update(
        Frame(
            2,
            101,  # the whole-second epoch is deliberately off by one: rates must use uptime
            fast(
                uptime=1002.0,
                cpu=(1050, 0, 525, 8100, 110, 0, 50, 35),
                rx=12_000,
                tx=5_500,
                read_sectors=440,
                write_sectors=1_000,
            ),
        )
    )
    assert second.cpu_pct == pytest.approx(45.0)  # (200 - 100 - 10) / 200
    assert second.cpu_user_pct == pytest.approx(25.0)
    assert second.cpu_system_pct == pytest.approx(12.5)
    assert second.cpu_iowait_pct == pytest.approx(5.0)
    assert second.cpu_steal_pct == pytest.approx(7.5)
    assert second.net_rx_bps == pytest.approx(1000.0)  # lo's counters never count
    assert second.net_tx_bps == pytest.approx(250.0)
    assert second.disk_read_bps == pytest.approx(40 * 512 / 2)  # sda only, not sda1 again
    assert second.disk_write_bps == pytest.approx(200 * 512 / 2)
    assert second.mem_used_pct == 75.0 and second.swap_used_pct == 25.0 and second.procs == 42
    assert second.time == 101.0
    assert second.cpu_per_core_pct == pytest.approx((45.0,))  # cpu0 carries the same counters here
    assert [(n.name, n.rx_bps, n.tx_bps) for n in second.net_interfaces] == [("eth0", 1000.0, 250.0)]
    assert first.cpu_per_core_pct == () and first.net_interfaces == ()


def test_a_counter_that_goes_backwards_gives_none_for_that_tick_only() -> None:
    builder = SampleBuilder("h")
    builder.update(Frame(1, 100, fast(rx=5_000_000_000, write_sectors=900)))
    busier = (1100, 0, 500, 8100, 100, 0, 50, 20)
    wrapped = builder.update(Frame(2, 102, fast(uptime=1002.0, cpu=busier, rx=1_000, tx=5_400, write_sectors=100)))
    assert wrapped.net_rx_bps is None and wrapped.disk_write_bps is None
    assert wrapped.net_tx_bps == pytest.approx(200.0) and wrapped.disk_read_bps == 0.0
    assert wrapped.cpu_pct == pytest.approx(50.0)  # other counters are unaffected
    after = builder.update(Frame(3, 104, fast(uptime=1004.0, rx=3_000, tx=5_400, write_sectors=140)))
    assert after.net_rx_bps == pytest.approx(1000.0) and after.disk_write_bps == pytest.approx(40 * 512 / 2)


def test_an_interface_that_appears_does_not_make_a_spike() -> None:
    builder = SampleBuilder("h")
    builder.update(Frame(1, 100, fast()))
    veth = "n vethabc 900000000 900000000\n"
    sample = builder.update(Frame(2, 102, fast(uptime=1002.0, rx=10_200, extra_nics=veth)))
    assert sample.net_rx_bps == pytest.approx(100.0)


def test_a_reboot_starts_over() -> None:
    builder = SampleBuilder("h")
    builder.update(Frame(1, 100, fast(uptime=5000.0)))
    rebooted = builder.update(Frame(2, 160, fast(uptime=30.0, cpu=(10, 0, 5, 80, 1, 0, 0, 0), rx=10)))
    assert rebooted.cpu_pct is None and rebooted.net_rx_bps is None and rebooted.disk_read_bps is None
    again = builder.update(Frame(3, 162, fast(uptime=32.0, cpu=(20, 0, 10, 170, 1, 0, 0, 0), rx=30)))
    assert again.cpu_pct == pytest.approx(15 * 100 / 105) and again.net_rx_bps == pytest.approx(10.0)


def test_a_reboot_seen_only_in_btime_starts_over_but_a_one_second_wobble_does_not() -> None:
    builder = SampleBuilder("h")
    builder.update(Frame(1, 100, fast()))
    wobble = fast(uptime=1002.0, rx=12_000, btime=1_700_000_001)
    assert builder.update(Frame(2, 102, wobble)).net_rx_bps == pytest.approx(1000.0)
    # Rebooted while the channel was away and has been up longer since: counters are unrelated.
    later = fast(uptime=90_000.0, rx=14_000, btime=1_700_090_000)
    assert builder.update(Frame(3, 1790000, later)).net_rx_bps is None


def test_cpu_columns_that_step_backwards_are_floored_at_zero() -> None:
    builder = SampleBuilder("h")
    builder.update(Frame(1, 100, fast(cpu=(1000, 0, 500, 8000, 100, 0, 50, 20))))
    sample = builder.update(Frame(2, 102, fast(uptime=1002.0, cpu=(1100, 0, 500, 8100, 90, 0, 50, 20))))
    assert sample.cpu_pct == pytest.approx(50.0) and sample.cpu_iowait_pct == 0.0


def test_filesystems_are_kept_until_the_next_df_frame() -> None:
    builder = SampleBuilder("h")
    df = "Filesystem Type 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 ext4 1000 100 900 10% /\n"
    with_df = dict(fast(), df=df, dfi="", kernel="Linux 6.1.0\n", osrelease='PRETTY_NAME="Debian"\n')
    first = builder.update(Frame(1, 100, with_df))
    second = builder.update(Frame(2, 102, fast(uptime=1002.0)))
    assert first.filesystems == second.filesystems and second.filesystems[0].used_pct == 10.0
    assert second.filesystems[0].inodes_used_pct is None
    assert (second.kernel, second.os_name) == ("Linux 6.1.0", "Debian")
    fuller = df.replace("100 900 10%", "500 500 50%")
    third = builder.update(Frame(3, 104, dict(fast(uptime=1004.0), df=fuller)))
    assert third.filesystems[0].used_pct == 50.0


def test_a_bad_frame_raises_and_the_next_good_one_rates_against_the_last_good() -> None:
    builder = SampleBuilder("h")
    builder.update(Frame(1, 100, fast()))
    with pytest.raises(ProbeParseError, match=r"^meminfo: no MemTotal line$"):
        builder.update(Frame(2, 102, fast(uptime=1002.0, rx=11_000, mem="m - 1 2 3 4 5 6")))
    with pytest.raises(ProbeParseError, match=r"^frame 3: no tick section$"):
        builder.update(Frame(3, 104, {"kernel": "Linux 6.1.0\n"}))
    sample = builder.update(Frame(4, 106, fast(uptime=1006.0, rx=16_000)))
    assert sample.net_rx_bps == pytest.approx(1000.0)


# -- the async reader -----------------------------------------------------------------------------


async def test_read_samples_yields_samples_and_errors_until_eof() -> None:
    chunks = [
        b"Last login: yesterday\n",
        encode(1, 100, fast())[:33],
        encode(1, 100, fast())[33:],
        encode(2, 102, fast(uptime=1002.0, rx=12_000, mem="garbage")),
        encode(3, 104, fast(uptime=1004.0, rx=14_000)),
        encode(4, 106, fast(uptime=1006.0))[:20],
    ]

    async def read(n: int) -> bytes:
        await asyncio.sleep(0)
        return chunks.pop(0) if chunks else b""

    got = [item async for item in read_samples(read, "web01")]
    kinds = [type(item).__name__ for item in got]
    assert kinds == ["FrameError", "HealthSample", "ProbeParseError", "HealthSample", "FrameError"]
    assert str(got[2]) == "tick: unknown line 'garbage'"
    third = got[3]
    assert not isinstance(third, (FrameError, ProbeParseError))
    assert third.host == "web01" and third.net_rx_bps == pytest.approx(1000.0)
    assert str(got[4]) == "probe frame 4 dropped: the stream ended inside frame 4 (no @@END)"


def test_per_core_percents_floor_each_column_and_match_the_column_by_column_rule() -> None:
    def reference(b: CpuTimes, a: CpuTimes) -> float:
        deltas = [max(0, x - y) for x, y in zip(a, b, strict=True)]
        total = sum(deltas)
        return 100.0 * (total - deltas[3] - deltas[4]) / total if total else 0.0

    before = [CpuTimes(100 * i, 5, 50, 1000, 40, 3, 2, 1) for i in range(64)]
    after = [CpuTimes(100 * i + i, 5, 50 + 2 * i, 1000 + 70, 40 + 5, 3, 2, 1) for i in range(64)]
    after[7] = before[7]._replace(idle=before[7].idle + 10, iowait=before[7].iowait - 30)  # iowait stepped back
    after[9] = before[9]  # no time passed on that core

    def stat(cores: list[CpuTimes]) -> CpuStat:
        return CpuStat(total=cores[0], per_core=tuple(cores), columns=8)

    got = per_core_percents(stat(before), stat(after))
    assert got == pytest.approx([reference(b, a) for b, a in zip(before, after, strict=True)])
    assert got[7] == 0.0 and got[9] == 0.0 and all(0.0 <= v <= 100.0 for v in got)
    assert per_core_percents(stat(before), stat(after[:63])) == ()  # a core went offline: no honest numbers


def test_stat_lines_with_fewer_than_eight_columns_read_the_rest_as_zero() -> None:
    body = fast()["tick"].split("\n")
    body[1:3] = ["cpu  1 2 3 4 5", "cpu0 1 2 3 4", "cpu1 9 8 7 6 5 4 3 2 1 0"]
    stat = parse_tick("\n".join(body)).cpu
    assert stat.total == CpuTimes(1, 2, 3, 4, 5, 0, 0, 0) and stat.columns == 5
    assert stat.per_core == (CpuTimes(1, 2, 3, 4), CpuTimes(9, 8, 7, 6, 5, 4, 3, 2))
