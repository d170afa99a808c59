"""Unit tests for gathering identical host output into clush-style groups."""

from __future__ import annotations

from fleetdeck.core.runner.events import FinalStatus, HostFinished, HostQueued, Output, RunStarted, Stream
from fleetdeck.core.runner.gather import Gatherer, OutputGroup, host_error

RUN = "r42"


def started(hosts: list[str]) -> RunStarted:
    return RunStarted(RUN, "uptime", ",".join(hosts), tuple(hosts))


def out(host: str, data: bytes, stream: Stream = "stdout") -> Output:
    return Output(RUN, host, stream, data)


def done(
    host: str, status: FinalStatus = "ok", rc: int | None = 0, error: str | None = None, duration: float = 1.0
) -> HostFinished:
    return HostFinished(RUN, host, status, rc, duration, error=error)


def headers(groups: list[OutputGroup]) -> list[str]:
    return [group.header for group in groups]


def test_twenty_hosts_gather_into_three_groups_largest_first() -> None:
    hosts = [f"web{i:02d}" for i in range(1, 21)]
    gatherer = Gatherer()
    gatherer.handle(started(hosts))
    for host in hosts[:17]:
        gatherer.handle(out(host, b" 10:00 up 3 days\n"))
        gatherer.handle(done(host))
    gatherer.handle(out("web18", b" 10:00 up 1 min\n"))
    gatherer.handle(done("web18"))
    for host in ("web20", "web19"):
        gatherer.handle(out(host, b"partial"))
        gatherer.handle(done(host, "timeout", None, "step uptime ran longer than 30s (killed on host)"))
    groups = gatherer.groups()
    assert headers(groups) == [
        "web[01-17] (rc=0, 17 hosts)",
        "web[19-20] (timeout, 2 hosts)",
        "web18 (rc=0, 1 host)",
    ]
    assert groups[0].hosts == tuple(hosts[:17])
    assert groups[0].text == " 10:00 up 3 days\n"
    assert groups[1].hosts == ("web19", "web20")
    assert groups[1].nodeset == "web[19-20]"
    assert groups[1].outcome == "timeout, 2 hosts"
    assert groups[2].text == " 10:00 up 1 min\n"
    assert gatherer.pending() == []


def test_non_contiguous_hosts_fold_into_one_header() -> None:
    gatherer = Gatherer()
    for host in [*(f"web{i:02d}" for i in range(1, 18)), "web19"]:
        gatherer.handle(out(host, b"same\n"))
        gatherer.handle(done(host))
    assert headers(gatherer.groups()) == ["web[01-17,19] (rc=0, 18 hosts)"]


def test_groups_of_equal_size_follow_natural_host_order() -> None:
    gatherer = Gatherer()
    for index, host in enumerate(["web10", "db2", "web9"]):
        gatherer.handle(out(host, f"output {index}\n".encode()))
        gatherer.handle(done(host))
    assert [group.hosts[0] for group in gatherer.groups()] == ["db2", "web9", "web10"]


def test_hosts_in_a_group_are_naturally_sorted() -> None:
    gatherer = Gatherer()
    for host in ["n10", "n2", "n1"]:
        gatherer.handle(done(host))
    (group,) = gatherer.groups()
    assert group.hosts == ("n1", "n2", "n10")
    assert group.text == ""
    assert group.header == "n[1-2,10] (rc=0, 3 hosts)"


def test_chunking_does_not_change_the_group() -> None:
    gatherer = Gatherer()
    gatherer.handle(out("a1", b"hello world\n"))
    for piece in (b"hel", b"lo wor", b"ld\n"):
        gatherer.handle(out("a2", piece))
    gatherer.handle(out("a2", b""))
    for host in ("a1", "a2"):
        gatherer.handle(done(host))
    (group,) = gatherer.groups()
    assert group.hosts == ("a1", "a2")


def test_same_text_on_another_stream_is_another_group() -> None:
    gatherer = Gatherer()
    gatherer.handle(out("a1", b"warning\n", "stdout"))
    gatherer.handle(out("a2", b"warning\n", "stderr"))
    for host in ("a1", "a2"):
        gatherer.handle(done(host))
    assert len(gatherer.groups()) == 2


def test_interleaving_of_streams_counts() -> None:
    gatherer = Gatherer()
    gatherer.handle(out("a1", b"one\n", "stdout"))
    gatherer.handle(out("a1", b"two\n", "stderr"))
    gatherer.handle(out("a2", b"two\n", "stderr"))
    gatherer.handle(out("a2", b"one\n", "stdout"))
    gatherer.handle(out("a3", b"one\n", "stdout"))
    gatherer.handle(out("a3", b"two\n", "stderr"))
    for host in ("a1", "a2", "a3"):
        gatherer.handle(done(host))
    groups = gatherer.groups()
    assert [group.hosts for group in groups] == [("a1", "a3"), ("a2",)]
    assert groups[0].text == "one\ntwo\n"


def test_same_output_with_another_exit_status_is_another_group() -> None:
    gatherer = Gatherer()
    for host, rc in (("h1", 0), ("h2", 1), ("h3", 1)):
        gatherer.handle(out(host, b"x\n"))
        gatherer.handle(done(host, "ok" if rc == 0 else "failed", rc))
    assert headers(gatherer.groups()) == ["h[2-3] (rc=1, 2 hosts)", "h1 (rc=0, 1 host)"]


def test_unreachable_header_names_the_error_without_the_host() -> None:
    gatherer = Gatherer()
    gatherer.handle(done("web03", "unreachable", None, "web03: Connection refused"))
    gatherer.handle(done("web04", "unreachable", None, "web04: Connection refused"))
    gatherer.handle(done("db1", "auth_failed", None, "permission denied (publickey)\nno more keys"))
    assert headers(gatherer.groups()) == [
        "web[03-04] (unreachable: Connection refused, 2 hosts)",
        "db1 (auth_failed: permission denied (publickey); no more keys, 1 host)",
    ]


def test_differing_errors_are_counted_not_listed() -> None:
    gatherer = Gatherer()
    gatherer.handle(done("web03", "unreachable", None, "Connection refused"))
    gatherer.handle(done("web04", "unreachable", None, "No route to host"))
    assert headers(gatherer.groups()) == ["web[03-04] (unreachable: 2 different errors, 2 hosts)"]


def test_timeout_with_an_exit_status_shows_both() -> None:
    gatherer = Gatherer()
    gatherer.handle(done("db1", "timeout", 143))
    assert headers(gatherer.groups()) == ["db1 (timeout, rc=143, 1 host)"]


def test_live_groups_cover_finished_hosts_only() -> None:
    gatherer = Gatherer()
    gatherer.handle(started(["web1", "web2", "web3", "web10"]))
    gatherer.handle(out("web1", b"done\n"))
    gatherer.handle(out("web2", b"still going"))
    gatherer.handle(done("web1"))
    assert headers(gatherer.groups()) == ["web1 (rc=0, 1 host)"]
    assert gatherer.pending() == ["web2", "web3", "web10"]
    gatherer.handle(out("web2", b"\n"))
    gatherer.handle(done("web2", "failed", 3))
    assert headers(gatherer.groups()) == ["web1 (rc=0, 1 host)", "web2 (rc=3, 1 host)"]
    assert gatherer.groups()[1].text == "still going\n"
    assert gatherer.pending() == ["web3", "web10"]


def test_hosts_seen_only_through_events_are_pending() -> None:
    gatherer = Gatherer()
    gatherer.handle(HostQueued(RUN, "late"))
    assert gatherer.pending() == ["late"]
    assert gatherer.groups() == []


def test_output_after_a_host_finished_is_ignored() -> None:
    gatherer = Gatherer()
    gatherer.handle(out("a", b"x"))
    gatherer.handle(done("a"))
    gatherer.handle(out("a", b"late"))
    gatherer.handle(done("a", "failed", 1))
    (group,) = gatherer.groups()
    assert group.text == "x"
    assert group.exit_status == 0


def test_output_beyond_the_head_is_counted_and_noted() -> None:
    gatherer = Gatherer(head_bytes=10)
    gatherer.handle(started(["web2", "web1"]))
    for host in ("web2", "web1"):
        gatherer.handle(out(host, b"line 1\nline 2\n"))
        gatherer.handle(out(host, b"x" * 11))
        gatherer.handle(done(host))
    (group,) = gatherer.groups()
    assert group.total_bytes == 25
    assert group.truncated_bytes == 15
    assert group.text == "line 1\nlin\n… 15 more bytes: fleetdeck history r42 --host web1"


def test_a_character_cut_by_the_head_counts_as_not_shown() -> None:
    gatherer = Gatherer(head_bytes=4)
    gatherer.handle(out("h", "abcé\n".encode()))
    gatherer.handle(done("h"))
    (group,) = gatherer.groups()
    assert group.truncated_bytes == 3
    assert group.text == "abc\n… 3 more bytes: fleetdeck history r42 --host h"


def test_memory_is_bounded_by_the_head() -> None:
    gatherer = Gatherer(head_bytes=1024)
    for _ in range(100):
        gatherer.handle(out("big", b"y" * 10_000))
    gatherer.handle(done("big"))
    (group,) = gatherer.groups()
    assert group.total_bytes == 1_000_000
    assert group.truncated_bytes == 1_000_000 - 1024
    assert group.text.startswith("y" * 1024 + "\n… ")


def test_invalid_utf8_is_replaced_in_text() -> None:
    gatherer = Gatherer()
    gatherer.handle(out("h", b"ok \xff\n"))
    gatherer.handle(done("h"))
    assert gatherer.groups()[0].text == "ok \ufffd\n"


def test_unfoldable_names_are_listed() -> None:
    gatherer = Gatherer()
    gatherer.handle(done("odd[name]"))
    assert headers(gatherer.groups()) == ["odd[name] (rc=0, 1 host)"]


def test_host_error_strips_the_repeated_host_name() -> None:
    assert host_error("web03", "web03: Connection refused") == "Connection refused"
    assert host_error("web03", "web030: Connection refused") == "web030: Connection refused"
    assert host_error("db", "first\n  second\n") == "first; second"
