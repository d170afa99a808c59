"""`PrometheusSource` against canned `/api/v1/query` answers: mapping, statuses, errors and batching."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import pytest

import fleetdeck.core.config  # noqa: F401  # the inventory cannot be imported before the config package
from fleetdeck.core.health.prometheus import (
    QUERY_NAMES,
    PrometheusSource,
    build_queries,
    node_exporter_instance,
    node_exporter_instances,
)
from fleetdeck.core.inventory import Host

URL = "http://prom.test:9090"
EVAL_TS = 1_700_000_100.0
WEB = "10.0.0.5:9100"


def _vector(*series: tuple[Mapping[str, str], str]) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": dict(m), "value": [EVAL_TS, v]} for m, v in series]},
    }


def _fs(instance: str, mount: str, device: str, fstype: str, **values: str) -> list[tuple[dict[str, str], str]]:
    names = {
        "size": "node_filesystem_size_bytes",
        "avail": "node_filesystem_avail_bytes",
        "free": "node_filesystem_free_bytes",
        "files": "node_filesystem_files",
        "files_free": "node_filesystem_files_free",
    }
    labels = {"instance": instance, "job": "node", "mountpoint": mount, "device": device, "fstype": fstype}
    return [({"__name__": names[key], **labels}, value) for key, value in values.items()]


def _healthy(instance: str = WEB) -> dict[str, dict[str, Any]]:
    """A full set of answers for one healthy two-core instance."""
    i = {"instance": instance}
    g = {"instance": instance, "job": "node"}
    cpu = {"idle": "1.2", "iowait": "0.2", "user": "0.4", "system": "0.1", "steal": "0.1", "nice": "0"}
    return {
        "cpu": _vector(*(({**i, "mode": mode}, value) for mode, value in cpu.items())),
        "cores": _vector((i, "2")),
        "gauges": _vector(
            ({"__name__": "up", **g}, "1"),
            ({"__name__": "node_load1", **g}, "0.5"),
            ({"__name__": "node_load5", **g}, "0.25"),
            ({"__name__": "node_load15", **g}, "0.125"),
            ({"__name__": "node_memory_MemTotal_bytes", **g}, "8000000000"),
            ({"__name__": "node_memory_MemAvailable_bytes", **g}, "6000000000"),
            ({"__name__": "node_memory_SwapTotal_bytes", **g}, "1000"),
            ({"__name__": "node_memory_SwapFree_bytes", **g}, "750"),
            ({"__name__": "node_boot_time_seconds", **g}, str(EVAL_TS - 3600)),
            ({"__name__": "node_processes_pids", **g}, "123"),
            ({"__name__": "node_uname_info", **g, "sysname": "Linux", "release": "6.1.0-18-amd64"}, "1"),
            ({"__name__": "node_os_info", **g, "pretty_name": "Debian GNU/Linux 12 (bookworm)"}, "1"),
        ),
        "filesystems": _vector(
            # ext4 with 5% reserved: size 1000, free 300, avail 250 -> used 700, df 700/(700+250).
            *_fs(
                instance, "/", "/dev/sda1", "ext4", size="1000", avail="250", free="300", files="100", files_free="25"
            ),
            # A bind mount of the same device: the shorter mount point wins.
            *_fs(
                instance,
                "/srv/data",
                "/dev/sda1",
                "ext4",
                size="1000",
                avail="250",
                free="300",
                files="100",
                files_free="25",
            ),
            # No fixed inode table.
            *_fs(
                instance, "/data", "pool/data", "zfs", size="2000", avail="1000", free="1000", files="0", files_free="0"
            ),
        ),
        "net_rx": _vector((i, "1500.5")),
        "net_tx": _vector((i, "250")),
        "disk_read": _vector((i, "4096")),
        "disk_write": _vector((i, "NaN")),
    }


class FakePrometheus:
    """An httpx transport answering each of the source's queries from `answers` by query name."""

    def __init__(self, answers: Mapping[str, Any], status: int = 200) -> None:
        self.answers = dict(answers)
        self.status = status
        self.requests: list[httpx.Request] = []
        self.queries: Mapping[str, str] = {}
        self.delay = 0.0
        self.fail: Callable[[httpx.Request], None] | None = None

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fail is not None:
            self.fail(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        promql = urllib.parse.parse_qs(request.content.decode())["query"][0]
        name = next(n for n, q in self.queries.items() if q == promql)
        answer = self.answers.get(name, _vector())
        body = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        return httpx.Response(self.status, content=body)


def _source(fake: FakePrometheus, hosts: Mapping[str, str] | None = None, **kwargs: Any) -> PrometheusSource:
    source = PrometheusSource(URL, hosts if hosts is not None else {"web01": WEB}, client=fake.client(), **kwargs)
    fake.queries = source.queries
    return source


async def test_answers_map_to_a_sample_like_the_local_source() -> None:
    fake = FakePrometheus(_healthy())
    sample = await _source(fake).sample("web01")

    assert sample.status == "up" and sample.reason is None and sample.host == "web01"
    # Shares of all modes (2.0 CPU-seconds per second): busy excludes idle and iowait.
    assert sample.cpu_pct == pytest.approx(100 * (2.0 - 1.2 - 0.2) / 2.0)
    assert sample.cpu_user_pct == pytest.approx(20.0)
    assert sample.cpu_system_pct == pytest.approx(5.0)
    assert sample.cpu_iowait_pct == pytest.approx(10.0)
    assert sample.cpu_steal_pct == pytest.approx(5.0)
    assert sample.cores == 2
    assert (sample.load1, sample.load5, sample.load15) == (0.5, 0.25, 0.125)
    assert sample.mem_total_bytes == 8_000_000_000 and sample.mem_available_bytes == 6_000_000_000
    assert sample.mem_used_pct == pytest.approx(25.0)
    assert sample.swap_used_pct == pytest.approx(25.0)
    assert sample.uptime_s == pytest.approx(3600)
    assert sample.procs == 123
    assert sample.kernel == "6.1.0-18-amd64" and sample.os_name == "Debian GNU/Linux 12 (bookworm)"
    assert sample.net_rx_bps == 1500.5 and sample.net_tx_bps == 250
    assert sample.disk_read_bps == 4096 and sample.disk_write_bps is None  # NaN is no number

    assert [fs.mount for fs in sample.filesystems] == ["/", "/data"]
    root, data = sample.filesystems
    assert (root.fstype, root.size_bytes, root.used_bytes) == ("ext4", 1000, 700)
    assert root.used_pct == pytest.approx(100 * 700 / 950)
    assert root.inodes_used_pct == pytest.approx(75.0)
    assert data.used_pct == pytest.approx(50.0) and data.inodes_used_pct is None
    assert sample.worst_disk_pct == root.used_pct


async def test_optional_metrics_missing_leave_unknowns() -> None:
    answers = _healthy()
    g = {"instance": WEB, "job": "node"}
    answers["gauges"] = _vector(
        ({"__name__": "up", **g}, "1"),
        ({"__name__": "node_memory_MemTotal_bytes", **g}, "1000"),
        ({"__name__": "node_memory_MemAvailable_bytes", **g}, "400"),
        ({"__name__": "node_memory_SwapTotal_bytes", **g}, "0"),
        ({"__name__": "node_memory_SwapFree_bytes", **g}, "0"),
        ({"__name__": "node_uname_info", **g, "sysname": "Linux", "release": "5.10.0"}, "1"),
    )
    answers["cpu"] = _vector()  # one scrape so far: no rate yet
    sample = await _source(FakePrometheus(answers)).sample("web01")

    assert sample.status == "up"
    assert sample.cpu_pct is None and sample.cpu_steal_pct is None
    assert sample.swap_used_pct is None  # no swap configured
    assert sample.procs == 0  # processes collector off
    assert sample.uptime_s is None and sample.load1 is None
    assert sample.os_name == "Linux 5.10.0"  # no os collector: uname stands in
    assert sample.mem_used_pct == pytest.approx(60.0)


async def test_hosts_without_series_or_with_failing_scrapes_are_down() -> None:
    answers = _healthy()
    answers["gauges"]["data"]["result"] += [
        {"metric": {"__name__": "up", "instance": "10.0.0.6:9100", "job": "node"}, "value": [EVAL_TS, "0"]},
        {"metric": {"__name__": "up", "instance": "10.0.0.7:9100", "job": "blackbox"}, "value": [EVAL_TS, "1"]},
    ]
    hosts = {"web01": WEB, "web02": "10.0.0.6:9100", "probe": "10.0.0.7:9100", "ghost": "10.0.0.99:9100"}
    batch = await _source(FakePrometheus(answers), hosts).sample_all()

    assert list(batch) == ["web01", "web02", "probe", "ghost"]
    assert batch["web01"].status == "up"
    assert batch["web02"].status == "down"
    assert batch["web02"].reason == "Prometheus scrape of 10.0.0.6:9100 is failing (up == 0)"
    assert batch["probe"].status == "down" and "no node_exporter metrics" in (batch["probe"].reason or "")
    assert batch["ghost"].status == "down"
    assert batch["ghost"].reason == "no data from Prometheus for instance 10.0.0.99:9100"


async def test_a_host_not_in_the_mapping_is_down_not_an_error() -> None:
    sample = await _source(FakePrometheus(_healthy())).sample("nobody")
    assert sample.status == "down" and sample.reason == "nobody has no Prometheus instance configured"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            400,
            {"status": "error", "errorType": "bad_data", "error": 'parse error: unexpected "}"'},
            f'Prometheus at {URL} (cpu query) answered bad_data: parse error: unexpected "}}"',
        ),
        (
            503,
            {"status": "error", "errorType": "unavailable", "error": "TSDB not ready"},
            "answered unavailable: TSDB not ready",
        ),
        (502, b"<html>Bad Gateway</html>", "answered HTTP 502: <html>Bad Gateway</html>"),
        (200, b"<html>login</html>", "malformed answer from Prometheus at"),
        (200, b'{"status": "success", "data": {"resultType": "matrix", "result": []}}', "not an instant vector"),
        (
            200,
            b'{"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "x"]}]}}',
            'bad sample value [1, "x"]',
        ),
        (200, b'{"status": "success", "data": {"resultType": "vector", "result": [42]}}', "bad vector element 42"),
    ],
)
async def test_error_answers_make_every_host_stale_with_the_reason(status: int, body: Any, expected: str) -> None:
    answers = dict.fromkeys(QUERY_NAMES, body)
    hosts = {"web01": WEB, "web02": "10.0.0.6:9100"}
    batch = await _source(FakePrometheus(answers, status), hosts).sample_all()

    for sample in batch.values():
        assert sample.status == "stale"
        assert sample.reason is not None and expected in sample.reason and URL in sample.reason
        assert sample.cpu_pct is None  # never had numbers


async def test_stale_hosts_keep_their_last_numbers() -> None:
    fake = FakePrometheus(_healthy())
    source = _source(fake)
    good = await source.sample_all()

    def refuse(request: httpx.Request) -> None:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    fake.fail = refuse
    lost = (await source.sample_all())["web01"]

    assert lost.status == "stale"
    assert lost.reason == f"cannot reach Prometheus at {URL}: [Errno 111] Connection refused"
    assert lost.time == good["web01"].time and lost.cpu_pct == good["web01"].cpu_pct

    fake.fail = None
    assert (await source.sample_all())["web01"].status == "up"


async def test_a_slow_prometheus_becomes_stale_within_the_timeout() -> None:
    fake = FakePrometheus(_healthy())
    fake.delay = 5
    source = _source(fake, timeout=0.2)

    started = asyncio.get_running_loop().time()
    sample = await source.sample("web01")

    assert asyncio.get_running_loop().time() - started < 2
    assert sample.status == "stale" and sample.reason == f"Prometheus at {URL} did not answer within 0.2s"


async def test_one_batch_serves_every_concurrent_sample_call() -> None:
    hosts = {f"h{n:04d}": f"10.1.{n // 250}.{n % 250}:9100" for n in range(1000)}
    hosts["web01"] = WEB
    fake = FakePrometheus(_healthy())
    source = _source(fake, hosts, max_age=60)

    samples = await asyncio.gather(*(source.sample(h) for h in hosts))

    assert len(fake.requests) == len(QUERY_NAMES)
    assert {r.method for r in fake.requests} == {"POST"}
    assert {r.url.path for r in fake.requests} == {"/api/v1/query"}
    assert all(r.headers["content-type"] == "application/x-www-form-urlencoded" for r in fake.requests)
    assert [s.host for s in samples] == list(hosts)
    assert samples[-1].status == "up" and samples[0].status == "down"

    await source.sample_all()
    assert len(fake.requests) == 2 * len(QUERY_NAMES)


async def test_a_batch_older_than_max_age_is_refreshed() -> None:
    fake = FakePrometheus(_healthy())
    source = _source(fake, max_age=0.05)
    await source.sample("web01")
    await source.sample("web01")
    assert len(fake.requests) == len(QUERY_NAMES)
    await asyncio.sleep(0.1)
    await source.sample("web01")
    assert len(fake.requests) == 2 * len(QUERY_NAMES)


def test_queries_select_only_the_configured_instances_quoted_for_promql() -> None:
    queries = build_queries(["a.example:9100", 'odd"name\\x', "[::1]:9100"], "instance", "2m", 'job="node"')

    assert set(queries) == set(QUERY_NAMES)
    selector = 'instance=~"\\\\[::1\\\\]:9100|a\\\\.example:9100|odd\\"name\\\\\\\\x",job="node"'
    for promql in queries.values():
        assert selector in promql
    assert "[2m]" in queries["cpu"]
    assert queries["cores"].startswith("count by (instance) (node_cpu_seconds_total{")
    assert 'mountpoint="/"' in queries["filesystems"] and "tmpfs" in queries["filesystems"]


def test_invalid_settings_are_refused_up_front() -> None:
    with pytest.raises(ValueError, match="http"):
        PrometheusSource("prom:9090", {})
    with pytest.raises(ValueError, match="label name"):
        PrometheusSource(URL, {}, instance_label="in-stance")
    with pytest.raises(ValueError, match="duration"):
        PrometheusSource(URL, {}, rate_window="1 minute")


def test_default_instances_are_address_and_node_exporter_port() -> None:
    hosts = [Host("web01", "10.0.0.5", "ops"), Host("db01", "db01.example", "ops"), Host("v6", "fd00::5", "ops")]
    assert node_exporter_instances(hosts) == {
        "web01": "10.0.0.5:9100",
        "db01": "db01.example:9100",
        "v6": "[fd00::5]:9100",
    }
    assert node_exporter_instance("10.0.0.5", 9200) == "10.0.0.5:9200"


async def test_an_empty_fleet_sends_nothing() -> None:
    fake = FakePrometheus(_healthy())
    assert await _source(fake, {}).sample_all() == {}
    assert fake.requests == []
