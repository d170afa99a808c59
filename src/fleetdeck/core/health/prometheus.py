"""`PrometheusSource`: host health read from an existing Prometheus that scrapes node_exporter.

For fleets too big to poll over SSH the numbers already exist in Prometheus, so one poll is a fixed set of
`QUERY_NAMES` instant queries (POSTed to `/api/v1/query`, because the instance filter of a large fleet
makes long queries) whose results are grouped by the instance label; 1,000 hosts cost as many requests as
one. `sample(host)` serves every host from the latest batch while it is younger than `max_age`, so a
dashboard that asks for each host in turn still triggers one batch per refresh. Numbers follow
`LocalHealthSource`: busy CPU excludes idle and iowait, filesystem percent is `df`'s used/(used+avail), and
pseudo filesystems other than `/` are left out. A host without series is `down`, as is one whose scrape
fails (`up == 0`). When Prometheus itself cannot be read every host becomes `stale`, keeping its last
numbers if it had any: we lost our view of the fleet, which says nothing about the hosts, and calling them
all down would raise a fleet-wide outage that did not happen. No remote failure raises out of `sample` or
`sample_all`. Nothing here imports textual or rich.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx

from fleetdeck.core.health.sample import PSEUDO_FSTYPES, FsUsage, HealthSample

if TYPE_CHECKING:
    # Annotations only: importing the inventory before the config package trips their import cycle.
    from fleetdeck.core.inventory import Host

NODE_EXPORTER_PORT = 9100
"""node_exporter's registered port, used by `node_exporter_instance`."""

QUERY_NAMES = ("cpu", "cores", "gauges", "filesystems", "net_rx", "net_tx", "disk_read", "disk_write")
"""The queries of one poll, independent of the number of hosts."""

GAUGE_METRICS = (
    "up",
    "node_load1",
    "node_load5",
    "node_load15",
    "node_memory_MemTotal_bytes",
    "node_memory_MemAvailable_bytes",
    "node_memory_SwapTotal_bytes",
    "node_memory_SwapFree_bytes",
    "node_boot_time_seconds",
    "node_processes_pids",
    "node_uname_info",
    "node_os_info",
)
"""Series read as they are, in one query; the two `_info` metrics carry their data in labels.

`node_processes_pids` is the process count (what psutil and the SSH probe count); it comes from the
`processes` collector, which node_exporter leaves off by default, so `procs` is 0 (unknown) without it.
`node_procs_running`/`node_procs_blocked` only count runnable and blocked tasks.
"""

FS_METRICS = (
    "node_filesystem_size_bytes",
    "node_filesystem_avail_bytes",
    "node_filesystem_free_bytes",
    "node_filesystem_files",
    "node_filesystem_files_free",
)

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


def node_exporter_instance(address: str, port: int = NODE_EXPORTER_PORT) -> str:
    """The `instance` label Prometheus gives an exporter at `address`: `host:port`, IPv6 in brackets."""
    if ":" in address and not address.startswith("["):
        address = f"[{address}]"
    return f"{address}:{port}"


def node_exporter_instances(hosts: Iterable[Host], port: int = NODE_EXPORTER_PORT) -> dict[str, str]:
    """The default `hosts` mapping: each host's address with node_exporter's port.

    Use your own mapping where relabeling gives instances other values (a hostname without a port, say).
    """
    return {host.name: node_exporter_instance(host.address, port) for host in hosts}


class PrometheusError(Exception):
    """Prometheus could not be read; the message names the URL and is shown to operators as a reason."""


@dataclass(frozen=True, slots=True)
class Series:
    """One element of an instant vector."""

    labels: Mapping[str, str]
    value: float | None
    """`None` for NaN and infinities, which no health number can be."""
    at: float
    """Evaluation timestamp, in Prometheus' clock."""


@dataclass(slots=True)
class _Instance:
    """Everything one poll learned about one instance, gathered from all queries."""

    cpu_modes: dict[str, float] = field(default_factory=dict)
    cores: int = 0
    gauges: dict[str, Series] = field(default_factory=dict)
    filesystems: dict[tuple[str, str, str], dict[str, float]] = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=dict)
    up: list[float] = field(default_factory=list)

    @property
    def has_node_data(self) -> bool:
        """Whether any node_exporter series arrived, as opposed to only `up`."""
        return bool(self.cpu_modes or self.cores or self.filesystems or self.rates or self.gauges)


class PrometheusSource:
    """Health of many hosts from one Prometheus, fetched in batches.

    Args:
        base_url: Prometheus' URL, with any path prefix, e.g. `http://prom:9090` or `https://ops/prometheus`.
        hosts: fleetdeck host name to the value of its instance label, in display order; see
            `node_exporter_instances` for the usual `<address>:9100`.
        client: A client to use (for auth, TLS or proxies); it is left open. One is made and owned otherwise.
        timeout: Seconds for a whole poll; beyond it every host is stale.
        instance_label: The label that tells hosts apart in node_exporter series.
        rate_window: PromQL range for the rates; it must cover at least two scrapes (four is safer).
        max_age: Seconds a batch serves `sample` calls before the next call polls again.
        matchers: Extra label matchers for every selector, e.g. `job="node"` where other jobs carry the
            same instance labels and would double the sums.

    Raises:
        ValueError: A URL that is not http(s), or an invalid label name or rate window.
    """

    def __init__(
        self,
        base_url: str,
        hosts: Mapping[str, str],
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
        instance_label: str = "instance",
        rate_window: str = "1m",
        max_age: float = 1.0,
        matchers: str = "",
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"Prometheus URL must be http(s)://host[:port][/path], got {base_url!r}")
        if not _LABEL_NAME.match(instance_label):
            raise ValueError(f"not a Prometheus label name: {instance_label!r}")
        if not _DURATION.match(rate_window):
            raise ValueError(f"not a PromQL duration: {rate_window!r} (e.g. 1m, 90s)")
        self._base_url = base_url.rstrip("/")
        self._query_url = f"{self._base_url}/api/v1/query"
        self._hosts = dict(hosts)
        self._client = client
        self._owns_client = client is None
        self._timeout = timeout
        self._label = instance_label
        self._max_age = max_age
        self._queries = build_queries(self._hosts.values(), instance_label, rate_window, matchers)
        self._lock = asyncio.Lock()
        self._batch: dict[str, HealthSample] = {}
        self._batch_at: float | None = None
        self._last_up: dict[str, HealthSample] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def hosts(self) -> Sequence[str]:
        """The configured host names, in the order given."""
        return tuple(self._hosts)

    @property
    def base_url(self) -> str:
        """The Prometheus URL that reasons name."""
        return self._base_url

    @property
    def queries(self) -> Mapping[str, str]:
        """The PromQL of one poll by name, for logs and for checking by hand."""
        return dict(self._queries)

    async def aclose(self) -> None:
        """Close the HTTP client if this source made it."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def sample(self, host: str) -> HealthSample:
        """`host` from the latest batch, polling first when it is older than `max_age`.

        Concurrent calls share one poll, so the dashboard asking for every host at once costs one batch.
        """
        async with self._lock:
            if self._batch_at is None or time.monotonic() - self._batch_at >= self._max_age:
                await self._poll()
            batch = self._batch
        found = batch.get(host)
        if found is not None:
            return found
        return HealthSample(
            host=host, time=time.time(), status="down", reason=f"{host} has no Prometheus instance configured"
        )

    async def sample_all(self) -> dict[str, HealthSample]:
        """Poll now and return a sample for every configured host."""
        async with self._lock:
            await self._poll()
            return dict(self._batch)

    async def _poll(self) -> None:
        """Run every query and replace the batch; failures become stale samples, never exceptions."""
        if self._hosts:
            try:
                answers = await self._fetch()
                now = time.time()
                # Decoding and mapping a large fleet's answers takes a while; keep it off the event loop.
                self._batch = await asyncio.to_thread(self._build, answers, now)
            except PrometheusError as error:
                self._batch = self._stale(str(error))
            self._last_up.update((h, s) for h, s in self._batch.items() if s.status == "up")
        self._batch_at = time.monotonic()

    async def _fetch(self) -> dict[str, httpx.Response]:
        """All queries concurrently; the first failure cancels the rest."""
        try:
            async with asyncio.timeout(self._timeout), asyncio.TaskGroup() as group:
                tasks = {name: group.create_task(self._query(promql)) for name, promql in self._queries.items()}
        except TimeoutError:
            raise PrometheusError(f"Prometheus at {self._base_url} did not answer within {self._timeout:g}s") from None
        except ExceptionGroup as failed:
            first = failed.exceptions[0]
            if isinstance(first, PrometheusError):
                raise first from None
            raise
        return {name: task.result() for name, task in tasks.items()}

    async def _query(self, promql: str) -> httpx.Response:
        """POST one instant query; the form body has no length limit, unlike a URL."""
        if self._client is None:
            self._client = httpx.AsyncClient()
        try:
            return await self._client.post(self._query_url, data={"query": promql}, timeout=self._timeout)
        except httpx.TimeoutException:
            raise PrometheusError(f"Prometheus at {self._base_url} did not answer within {self._timeout:g}s") from None
        except httpx.HTTPError as error:
            raise PrometheusError(f"cannot reach Prometheus at {self._base_url}: {_describe(error)}") from None

    def _build(self, answers: Mapping[str, httpx.Response], now: float) -> dict[str, HealthSample]:
        """Decode every answer and map them to samples; runs in a worker thread."""
        where = f"Prometheus at {self._base_url}"
        results = {
            name: decode_vector(answer.status_code, answer.content, where=f"{where} ({name} query)")
            for name, answer in answers.items()
        }
        return build_samples(self._hosts, results, self._label, now)

    def _stale(self, reason: str) -> dict[str, HealthSample]:
        """Every host marked stale with `reason`, keeping the last numbers it had."""
        now = time.time()
        batch: dict[str, HealthSample] = {}
        for host in self._hosts:
            last = self._last_up.get(host)
            if last is not None:
                batch[host] = replace(last, status="stale", reason=reason)
            else:
                batch[host] = HealthSample(host=host, time=now, status="stale", reason=reason)
        return batch


# -- queries -------------------------------------------------------------------------------------


def build_queries(instances: Iterable[str], label: str, window: str, matchers: str = "") -> dict[str, str]:
    """The PromQL of one poll, each limited to `instances` so a shared Prometheus sends only our hosts.

    Args:
        instances: Instance label values to ask for.
        label: The instance label's name.
        window: Range of the `rate()`s.
        matchers: Extra matchers added to every selector.
    """
    wanted = "|".join(re.escape(value) for value in sorted(set(instances)))
    sel = f"{label}=~{_promql_string(wanted)}"
    if matchers.strip():
        sel = f"{sel},{matchers.strip().strip(',')}"
    pseudo = _promql_string("|".join(sorted(PSEUDO_FSTYPES)))
    fs_names = _promql_string("|".join(FS_METRICS))
    return {
        "cpu": f"sum by ({label}, mode) (rate(node_cpu_seconds_total{{{sel}}}[{window}]))",
        "cores": f'count by ({label}) (node_cpu_seconds_total{{{sel},mode="idle"}})',
        "gauges": f"{{{sel},__name__=~{_promql_string('|'.join(GAUGE_METRICS))}}}",
        # The root filesystem is kept whatever its type, as an overlay inside a container.
        "filesystems": (
            f'{{{sel},__name__=~{fs_names},fstype!~{pseudo}}} or {{{sel},__name__=~{fs_names},mountpoint="/"}}'
        ),
        "net_rx": f'sum by ({label}) (rate(node_network_receive_bytes_total{{{sel},device!="lo"}}[{window}]))',
        "net_tx": f'sum by ({label}) (rate(node_network_transmit_bytes_total{{{sel},device!="lo"}}[{window}]))',
        "disk_read": f"sum by ({label}) (rate(node_disk_read_bytes_total{{{sel}}}[{window}]))",
        "disk_write": f"sum by ({label}) (rate(node_disk_written_bytes_total{{{sel}}}[{window}]))",
    }


def _promql_string(text: str) -> str:
    """`text` as a PromQL double-quoted string; JSON's escapes are a subset of Go's, which PromQL uses."""
    return json.dumps(text, ensure_ascii=False)


# -- decoding ------------------------------------------------------------------------------------


def decode_vector(status_code: int, body: bytes, *, where: str) -> list[Series]:
    """An `/api/v1/query` answer as its instant vector.

    Args:
        status_code: The HTTP status.
        body: The response body.
        where: How reasons name the server, e.g. `Prometheus at http://prom:9090`.

    Raises:
        PrometheusError: An HTTP or API error, or an answer that is not an instant vector.
    """
    try:
        document: Any = json.loads(body)
    except ValueError:
        document = None
    if status_code >= 400 or not isinstance(document, dict) or document.get("status") != "success":
        raise PrometheusError(_error_reason(status_code, body, document, where))
    data = document.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
        raise PrometheusError(f"malformed answer from {where}: data is not an instant vector")
    series: list[Series] = []
    for item in data["result"]:
        labels = item.get("metric") if isinstance(item, dict) else None
        pair = item.get("value") if isinstance(item, dict) else None
        if (
            not isinstance(labels, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())
            or not isinstance(pair, list)
            or len(pair) != 2
        ):
            raise PrometheusError(f"malformed answer from {where}: bad vector element {_clip(json.dumps(item))}")
        try:
            at, value = float(pair[0]), float(pair[1])
        except (TypeError, ValueError):
            raise PrometheusError(
                f"malformed answer from {where}: bad sample value {_clip(json.dumps(pair))}"
            ) from None
        series.append(Series(labels=labels, value=value if math.isfinite(value) else None, at=at))
    return series


def _error_reason(status_code: int, body: bytes, document: object, where: str) -> str:
    """Why an answer is not a result, in the words Prometheus used where it gave any."""
    if isinstance(document, dict) and document.get("status") == "error":
        kind = document.get("errorType") or "error"
        return f"{where} answered {kind}: {_clip(str(document.get('error', '')))}"
    if status_code >= 400:
        text = body.decode("utf-8", errors="replace").strip()
        return f"{where} answered HTTP {status_code}" + (f": {_clip(text)}" if text else "")
    return f"malformed answer from {where}: not a Prometheus API response ({_clip(body.decode('utf-8', 'replace'))})"


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(error: Exception) -> str:
    return str(error) or type(error).__name__


# -- mapping -------------------------------------------------------------------------------------


def build_samples(
    hosts: Mapping[str, str], results: Mapping[str, Sequence[Series]], label: str, now: float
) -> dict[str, HealthSample]:
    """One sample per host from one poll's results.

    Args:
        hosts: Host name to instance label value.
        results: Decoded vectors by query name (`QUERY_NAMES`); a missing name counts as empty.
        label: The instance label's name.
        now: Epoch seconds the samples carry.
    """
    instances = _group(results, label)
    samples: dict[str, HealthSample] = {}
    for host, instance in hosts.items():
        found = instances.get(instance)
        samples[host] = _sample(host, instance, found, now)
    return samples


def _group(results: Mapping[str, Sequence[Series]], label: str) -> dict[str, _Instance]:
    """Sort every series into its instance."""
    instances: dict[str, _Instance] = {}

    def of(series: Series) -> _Instance | None:
        name = series.labels.get(label)
        return None if name is None else instances.setdefault(name, _Instance())

    for series in results.get("cpu", ()):
        inst, mode = of(series), series.labels.get("mode")
        if inst is not None and mode is not None and series.value is not None:
            inst.cpu_modes[mode] = inst.cpu_modes.get(mode, 0.0) + series.value
    for series in results.get("cores", ()):
        inst = of(series)
        if inst is not None and series.value is not None:
            inst.cores = int(series.value)
    for series in results.get("gauges", ()):
        inst, metric = of(series), series.labels.get("__name__")
        if inst is None or metric is None:
            continue
        if metric == "up":
            if series.value is not None:
                inst.up.append(series.value)
        else:
            inst.gauges.setdefault(metric, series)
    for series in results.get("filesystems", ()):
        inst, metric = of(series), series.labels.get("__name__")
        if inst is None or metric is None or series.value is None:
            continue
        key = (series.labels.get("mountpoint", ""), series.labels.get("device", ""), series.labels.get("fstype", ""))
        inst.filesystems.setdefault(key, {})[metric] = series.value
    for name in ("net_rx", "net_tx", "disk_read", "disk_write"):
        for series in results.get(name, ()):
            inst = of(series)
            if inst is not None and series.value is not None:
                inst.rates[name] = series.value
    return instances


def _sample(host: str, instance: str, data: _Instance | None, now: float) -> HealthSample:
    """One host's sample, or why there is none."""
    if data is None or (not data.has_node_data and not data.up):
        return HealthSample(host, now, "down", reason=f"no data from Prometheus for instance {instance}")
    if data.up and max(data.up) == 0:
        return HealthSample(host, now, "down", reason=f"Prometheus scrape of {instance} is failing (up == 0)")
    if not data.has_node_data:
        return HealthSample(
            host, now, "down", reason=f"Prometheus scrapes {instance} but has no node_exporter metrics for it"
        )
    gauge = data.gauges

    def value(metric: str) -> float | None:
        series = gauge.get(metric)
        return series.value if series is not None else None

    cpu = _cpu_percents(data.cpu_modes)
    mem_total, mem_avail = value("node_memory_MemTotal_bytes"), value("node_memory_MemAvailable_bytes")
    swap_total, swap_free = value("node_memory_SwapTotal_bytes"), value("node_memory_SwapFree_bytes")
    boot = gauge.get("node_boot_time_seconds")
    uname = gauge.get("node_uname_info")
    os_info = gauge.get("node_os_info")
    kernel = uname.labels.get("release", "") if uname is not None else ""
    os_name = ""
    if os_info is not None:
        os_name = os_info.labels.get("pretty_name") or os_info.labels.get("name", "")
    if not os_name and uname is not None:
        os_name = f"{uname.labels.get('sysname', '')} {kernel}".strip()
    procs = value("node_processes_pids")
    return HealthSample(
        host=host,
        time=now,
        status="up",
        cpu_pct=cpu[0],
        cpu_user_pct=cpu[1],
        cpu_system_pct=cpu[2],
        cpu_iowait_pct=cpu[3],
        cpu_steal_pct=cpu[4],
        load1=value("node_load1"),
        load5=value("node_load5"),
        load15=value("node_load15"),
        cores=data.cores,
        mem_used_pct=_pct(mem_total - mem_avail, mem_total) if mem_total and mem_avail is not None else None,
        mem_total_bytes=int(mem_total) if mem_total is not None else None,
        mem_available_bytes=int(mem_avail) if mem_avail is not None else None,
        swap_used_pct=_pct(swap_total - swap_free, swap_total) if swap_total and swap_free is not None else None,
        filesystems=_filesystems(data.filesystems),
        net_rx_bps=data.rates.get("net_rx"),
        net_tx_bps=data.rates.get("net_tx"),
        disk_read_bps=data.rates.get("disk_read"),
        disk_write_bps=data.rates.get("disk_write"),
        # Both times are Prometheus' and the host's, so a skewed local clock does not bend uptime.
        uptime_s=max(0.0, boot.at - boot.value) if boot is not None and boot.value is not None else None,
        procs=int(procs) if procs is not None else 0,
        kernel=kernel,
        os_name=os_name,
    )


def _cpu_percents(
    modes: Mapping[str, float],
) -> tuple[float | None, float | None, float | None, float | None, float | None]:
    """Busy, user, system, iowait and steal percent from per-mode CPU-seconds per second.

    Each mode is taken as a share of all modes rather than of the core count, because `rate()`'s
    extrapolation makes the modes sum to slightly more or less than one second per second.
    """
    total = sum(max(0.0, v) for v in modes.values())
    if total <= 0:
        return None, None, None, None, None

    def share(mode: str) -> float | None:
        return _pct(max(0.0, modes[mode]), total) if mode in modes else None

    idle, iowait = max(0.0, modes.get("idle", 0.0)), max(0.0, modes.get("iowait", 0.0))
    return _pct(total - idle - iowait, total), share("user"), share("system"), share("iowait"), share("steal")


def _filesystems(found: Mapping[tuple[str, str, str], Mapping[str, float]]) -> tuple[FsUsage, ...]:
    """`FsUsage` per device, sorted by mount point; bind mounts keep their shortest mount point."""
    by_device: dict[str, FsUsage] = {}
    for (mount, device, fstype), metrics in found.items():
        size = metrics.get("node_filesystem_size_bytes")
        avail = metrics.get("node_filesystem_avail_bytes")
        if not size or avail is None:
            continue
        free = metrics.get("node_filesystem_free_bytes", avail)
        used = max(0.0, size - free)
        files, files_free = metrics.get("node_filesystem_files"), metrics.get("node_filesystem_files_free")
        usage = FsUsage(
            mount=mount,
            fstype=fstype,
            size_bytes=int(size),
            used_bytes=int(used),
            used_pct=_pct(used, used + avail),
            inodes_used_pct=_pct(files - files_free, files) if files and files_free is not None else None,
        )
        key = device or mount
        known = by_device.get(key)
        if known is None or len(mount) < len(known.mount):
            by_device[key] = usage
    return tuple(sorted(by_device.values(), key=lambda fs: fs.mount))


def _pct(part: float, whole: float) -> float:
    """`part` as a percent of `whole`, kept inside 0-100."""
    return min(100.0, max(0.0, part * 100.0 / whole)) if whole > 0 else 0.0


__all__ = [
    "NODE_EXPORTER_PORT",
    "QUERY_NAMES",
    "PrometheusError",
    "PrometheusSource",
    "Series",
    "build_queries",
    "build_samples",
    "decode_vector",
    "node_exporter_instance",
    "node_exporter_instances",
]
