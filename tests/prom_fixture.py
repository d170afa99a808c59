"""A real Prometheus scraping a real node_exporter on loopback, standing in for a monitored fleet.

`PromStack` starts ``prometheus-node-exporter`` and ``prometheus`` (the Debian packages of the same names)
on free 127.0.0.1 ports, with everything they write (config, TSDB, logs) in one work directory. The one
exporter is scraped every second under several ``instance`` labels, so Prometheus holds what looks like
several hosts and a health source can be tested per instance and in batches. ``start()`` returns once
Prometheus is ready and every target has a fresh ``up`` sample, or raises with both logs; ``stop()`` is
idempotent and also runs at interpreter exit. ``stop_prometheus()``/``start_prometheus()`` take Prometheus
away and bring it back on the same port and TSDB, for tests of a monitoring server that disappears. Test
modules build their fixture from `require_binaries` and `PromStack`, as ``conftest.py`` does for the SSH
fleet; bench scripts can use it with ``PYTHONPATH=tests``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest

PROMETHEUS_MISSING = (
    "prometheus or prometheus-node-exporter not found: install them "
    "(apt-get install prometheus prometheus-node-exporter) to run the Prometheus tests"
)
PROMETHEUS_LOCATIONS = ("/usr/bin/prometheus", "/usr/local/bin/prometheus")
EXPORTER_LOCATIONS = ("/usr/bin/prometheus-node-exporter", "/usr/local/bin/node_exporter")
#: The instance labels the one exporter is scraped under; each looks like a separate host to queries.
DEFAULT_INSTANCES = ("web01:9100", "web02:9100", "db01:9100")
#: Collectors behind every number a health sample needs; the rest are off to keep 1 s scrapes cheap.
EXPORTER_COLLECTORS = (
    "cpu",
    "diskstats",
    "filesystem",
    "loadavg",
    "meminfo",
    "netdev",
    "os",
    "processes",
    "stat",
    "uname",
)
#: node_exporter's default list minus ``overlay``, so a container's overlay root is still reported.
EXPORTER_FS_TYPES_EXCLUDE = (
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|"
    "proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$"
)


@dataclass(frozen=True, slots=True)
class Binaries:
    """Where the two programs are."""

    prometheus: Path
    exporter: Path


def find_binaries() -> Binaries | None:
    """Both binaries, or None when either is missing."""
    prometheus = _find("prometheus", PROMETHEUS_LOCATIONS)
    exporter = _find("prometheus-node-exporter", EXPORTER_LOCATIONS) or _find("node_exporter", ())
    if prometheus is None or exporter is None:
        return None
    return Binaries(prometheus, exporter)


def require_binaries() -> Binaries:
    """The binaries; skips the test where they are missing, but never silently on CI."""
    found = find_binaries()
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(PROMETHEUS_MISSING, pytrace=False)
        pytest.skip(PROMETHEUS_MISSING)
    return found


class PortInUseError(RuntimeError):
    """A server could not bind the port we picked (someone took it after we probed)."""


class PromStack:
    """node_exporter plus Prometheus on loopback, scraping every `scrape_interval_s` seconds.

    Args:
        workdir: Directory for the config, the TSDB and both logs; created if missing.
        instances: ``instance`` label values the exporter is scraped under.
        failing_instances: ``instance`` label values of targets on a port nobody listens on, so their
            ``up`` is 0: hosts whose scrape fails.
        binaries: The programs to run; found on the system when omitted.
        scrape_interval_s: Whole seconds between scrapes.
        ready_timeout: Seconds to wait for readiness and for the first samples.
        stop_timeout: Seconds to wait after SIGTERM before SIGKILL.
    """

    def __init__(
        self,
        workdir: Path,
        instances: Sequence[str] = DEFAULT_INSTANCES,
        *,
        failing_instances: Sequence[str] = (),
        binaries: Binaries | None = None,
        scrape_interval_s: int = 1,
        ready_timeout: float = 30.0,
        stop_timeout: float = 5.0,
    ) -> None:
        if not instances:
            raise ValueError("a stack needs at least one instance label")
        self.workdir = Path(workdir).absolute()
        self.instances = tuple(instances)
        self.failing_instances = tuple(failing_instances)
        self.binaries = binaries
        self.scrape_interval_s = scrape_interval_s
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.exporter_port = 0
        self.prometheus_port = 0
        self.dead_port = 0
        self.config_file = self.workdir / "prometheus.yml"
        self.tsdb_dir = self.workdir / "tsdb"
        self.exporter_log = self.workdir / "node-exporter.log"
        self.prometheus_log = self.workdir / "prometheus.log"
        self._exporter: subprocess.Popen[bytes] | None = None
        self._prometheus: subprocess.Popen[bytes] | None = None
        self._log_offsets: tuple[int, int] = (0, 0)

    def __repr__(self) -> str:
        return f"<PromStack {self.url} instances={len(self.instances)} running={self.prometheus_running}>"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Prometheus' base URL, what a health source is given."""
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def exporter_target(self) -> str:
        """The exporter's real ``host:port``, which is no instance label of ours."""
        return f"127.0.0.1:{self.exporter_port}"

    @property
    def prometheus_running(self) -> bool:
        return self._prometheus is not None and self._prometheus.poll() is None

    def log_text(self, limit: int = 4000, *, since_start: bool = False) -> str:
        """The tail of both logs, optionally only what was written since the last start."""
        chunks = []
        for log, offset in zip((self.exporter_log, self.prometheus_log), self._log_offsets, strict=True):
            data = log.read_bytes() if log.exists() else b""
            if since_start:
                data = data[offset:]
            chunks.append(f"--- {log} ---\n{data.decode(errors='replace')[-limit:] or '(empty)'}")
        return "\n".join(chunks)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the exporter, then Prometheus, each on a free port; wait until samples exist."""
        if self.prometheus_running:
            return self
        if self.binaries is None:
            self.binaries = find_binaries()
        if self.binaries is None:
            raise RuntimeError(PROMETHEUS_MISSING)
        atexit.register(self.stop)
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_exporter()
            self.start_prometheus()
        except BaseException:
            self.stop()
            raise
        return self

    def start_prometheus(self) -> None:
        """(Re)start Prometheus on its port and TSDB and wait for a fresh ``up`` sample of every target."""
        if self.prometheus_running:
            return
        for _attempt in range(5):
            if not self.prometheus_port:
                self.prometheus_port = _free_port()
            self._write_config()
            self._mark_logs()
            self._prometheus = self._launch(
                [
                    str(self._bins().prometheus),
                    f"--config.file={self.config_file}",
                    f"--storage.tsdb.path={self.tsdb_dir}",
                    f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
                    "--log.level=info",
                ],
                self.prometheus_log,
            )
            try:
                self._wait_prometheus()
                return
            except PortInUseError:
                self.stop_prometheus()
                self.prometheus_port = 0
            except BaseException:
                self.stop_prometheus()
                raise
        raise RuntimeError(f"prometheus kept failing to bind a free port\n{self.log_text()}")

    def stop_prometheus(self) -> None:
        """Stop Prometheus only; the exporter keeps running and the port stays reserved for a restart."""
        proc, self._prometheus = self._prometheus, None
        if proc is not None:
            _terminate(proc, self.stop_timeout)

    def stop(self) -> None:
        """Stop both servers; safe to call repeatedly."""
        self.stop_prometheus()
        proc, self._exporter = self._exporter, None
        if proc is not None:
            _terminate(proc, self.stop_timeout)
        atexit.unregister(self.stop)

    # -- queries -------------------------------------------------------------------------------

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Run an instant query and return its result list; raises on any error."""
        body = urllib.parse.urlencode({"query": promql}).encode()
        with urllib.request.urlopen(f"{self.url}/api/v1/query", data=body, timeout=5) as response:
            document = json.load(response)
        if document.get("status") != "success":
            raise RuntimeError(f"query {promql!r} failed: {document}")
        result: list[dict[str, Any]] = document["data"]["result"]
        return result

    # -- internals -----------------------------------------------------------------------------

    def _bins(self) -> Binaries:
        if self.binaries is None:
            raise RuntimeError("start() the stack first")
        return self.binaries

    def _start_exporter(self) -> None:
        for _attempt in range(5):
            self.exporter_port = _free_port()
            self._mark_logs()
            argv = [
                str(self._bins().exporter),
                f"--web.listen-address=127.0.0.1:{self.exporter_port}",
                "--collector.disable-defaults",
                *(f"--collector.{name}" for name in EXPORTER_COLLECTORS),
                f"--collector.filesystem.fs-types-exclude={EXPORTER_FS_TYPES_EXCLUDE}",
            ]
            self._exporter = self._launch(argv, self.exporter_log)
            deadline = time.monotonic() + self.ready_timeout
            while True:
                status = self._exporter.poll()
                if status is not None:
                    self._exporter = None
                    logs = self.log_text(since_start=True)
                    if "address already in use" in logs:
                        break
                    raise RuntimeError(f"node exporter exited with status {status}\n{logs}")
                if _http_ok(f"http://{self.exporter_target}/metrics"):
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"node exporter not serving on {self.exporter_target} after {self.ready_timeout:.0f}s\n"
                        f"{self.log_text(since_start=True)}"
                    )
                time.sleep(0.05)
        raise RuntimeError(f"node exporter kept failing to bind a free port\n{self.log_text()}")

    def _write_config(self) -> None:
        """One job, one static_config per instance label, all pointing at the same exporter or the dead port."""
        if self.failing_instances and not self.dead_port:
            self.dead_port = _free_port()
        interval = f"{self.scrape_interval_s}s"
        lines = [
            "# Generated by tests/prom_fixture.py: one node_exporter seen as several hosts.",
            "global:",
            f"  scrape_interval: {interval}",
            f"  scrape_timeout: {interval}",
            f"  evaluation_interval: {interval}",
            "scrape_configs:",
            "  - job_name: node",
            "    static_configs:",
        ]
        targets = [(self.exporter_target, i) for i in self.instances]
        targets += [(f"127.0.0.1:{self.dead_port}", i) for i in self.failing_instances]
        for target, instance in targets:
            lines += [
                f"      - targets: [{json.dumps(target)}]",
                "        labels:",
                f"          instance: {json.dumps(instance)}",
            ]
        self.config_file.write_text("\n".join(lines) + "\n")

    def _launch(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=self.workdir)

    def _mark_logs(self) -> None:
        sizes = [log.stat().st_size if log.exists() else 0 for log in (self.exporter_log, self.prometheus_log)]
        self._log_offsets = (sizes[0], sizes[1])

    def _wait_prometheus(self) -> None:
        """Ready endpoint first, then an ``up`` sample for every instance; fail with both logs."""
        assert self._prometheus is not None
        started_at = time.time()
        deadline = time.monotonic() + self.ready_timeout
        waiting_for = "/-/ready"
        while True:
            if self._prometheus.poll() is not None:
                logs = self.log_text(since_start=True)
                message = f"prometheus exited with status {self._prometheus.returncode}"
                if "address already in use" in logs:
                    raise PortInUseError(f"{message}\n{logs}")
                raise RuntimeError(f"{message}\n{logs}")
            if waiting_for == "/-/ready" and _http_ok(f"{self.url}/-/ready"):
                waiting_for = "fresh up samples for every instance"
            if waiting_for != "/-/ready" and self._all_scraped(since=started_at):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"prometheus on {self.url}: no {waiting_for} after {self.ready_timeout:.0f}s\n"
                    f"{self.log_text(since_start=True)}"
                )
            time.sleep(0.1)

    def _all_scraped(self, since: float) -> bool:
        """Whether every target was scraped after `since` (older samples survive a restart) as expected."""
        try:
            result = self.query(f'up{{job="node"}} and timestamp(up{{job="node"}}) > {since:.3f}')
        except (OSError, RuntimeError, ValueError):
            return False
        up = {series["metric"].get("instance"): series["value"][1] for series in result}
        return all(up.get(i) == "1" for i in self.instances) and all(up.get(i) == "0" for i in self.failing_instances)


# -- helpers -------------------------------------------------------------------------------------


def _find(name: str, locations: Sequence[str]) -> Path | None:
    found = shutil.which(name)
    for candidate in ([found] if found else []) + list(locations):
        path = Path(candidate)
        if path.is_file() and os.access(path, os.X_OK):
            return path.absolute()
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _terminate(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
