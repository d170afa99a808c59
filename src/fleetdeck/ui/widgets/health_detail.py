"""The detail pane under the fleet table: everything known about the selected host.

Where the table has one number per concern, this pane spells them out: state (with the reason when a
host is stale or down), OS and kernel, the CPU split and every core, all three load averages, memory
totals, I/O rates and every filesystem with its inode use. Styles are theme variables in the content
itself (`$health-crit`, `$muted`), so a theme switch recolours it as is.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from fleetdeck.core.health import HealthSample
from fleetdeck.ui.widgets.health_format import (
    MISSING,
    Level,
    human_bytes,
    human_duration,
    human_rate,
    load_level,
    pct,
    pct_level,
)
from fleetdeck.ui.widgets.sparkline_text import sparkline

_LEVEL_STYLE: dict[Level, str] = {"ok": "", "warn": "$health-warn", "crit": "$health-crit bold"}
_STATUS_STYLE = {"up": "$health-ok", "stale": "$health-warn", "down": "$host-down bold"}
_LABEL_WIDTH = 6
_SEP = (" · ", "$muted")

Part = str | tuple[str, str]


class HealthDetail(Static):
    """A multi-line summary of one host's latest sample."""

    _shown: Content | None = None

    def show(self, sample: HealthSample | None, now: float, *, waiting_for: str | None = None) -> None:
        """Replace the pane's content; the screen is laid out again only when the number of lines changed.

        Unchanged content is not redrawn at all: a relayout of the whole screen costs many times the redraw
        of one widget, and the redraw of this one (every line wrapped to the width) is among the dearest.

        Args:
            sample: The host's latest sample, or `None` when none has arrived yet.
            now: Epoch seconds, for the sample's age.
            waiting_for: The host being waited for when `sample` is `None`.
        """
        content = describe(sample, now, waiting_for=waiting_for)
        shown = self._shown
        if shown is not None and content.plain == shown.plain and content.spans == shown.spans:
            return
        same_height = shown is not None and content.plain.count("\n") == shown.plain.count("\n")
        self._shown = content
        self.update(content, layout=not same_height)


def describe(sample: HealthSample | None, now: float, *, waiting_for: str | None = None) -> Content:
    """The pane's content for `sample`, as styled lines."""
    if sample is None:
        if waiting_for is None:
            return Content.styled("No hosts to show.", "$muted")
        return Content.styled(f"Waiting for the first sample from {waiting_for}…", "$muted")
    # An `up` sample is fresh by definition (the collector marks a host stale once its samples stop), so its
    # age is left out: the pane then changes only when the numbers do, not every second.
    age: list[Part] = []
    if sample.status != "up":
        age = [_SEP, (f"sampled {human_duration(now - sample.time)} ago", "$muted")]
    state: list[Part] = [_label("state"), (sample.status, _STATUS_STYLE[sample.status])]
    if sample.reason:
        state += [": ", sample.reason.removeprefix(f"{sample.host}: ")]  # the pane's title names the host
    if sample.status == "down":
        return _lines([[*state, *age]])
    if sample.uptime_s is not None:
        state += [_SEP, ("uptime ", "$muted"), human_duration(sample.uptime_s)]
    if sample.procs:
        state += [_SEP, str(sample.procs), (" procs", "$muted")]
    state += age
    system: list[Part] = [_label("os"), sample.os_name or MISSING]
    if sample.kernel:
        system += [_SEP, ("kernel ", "$muted"), sample.kernel]
    return _lines(
        [
            state,
            system,
            _cpu(sample),
            _cores(sample),
            _load(sample),
            _memory(sample),
            _io(sample),
            *_filesystems(sample),
        ]
    )


def _cpu(sample: HealthSample) -> list[Part]:
    return [
        _label("cpu"),
        _judged(pct(sample.cpu_pct), pct_level(sample.cpu_pct), width=4),
        ("   user ", "$muted"),
        pct(sample.cpu_user_pct),
        ("  system ", "$muted"),
        pct(sample.cpu_system_pct),
        ("  iowait ", "$muted"),
        pct(sample.cpu_iowait_pct),
        ("  steal ", "$muted"),
        pct(sample.cpu_steal_pct),
    ]


def _cores(sample: HealthSample) -> list[Part]:
    """One block per logical CPU on a 0-100 scale, so a single pegged core stands out of an idle average."""
    per_core = sample.cpu_per_core_pct
    if not per_core:
        return [_label("cores"), (MISSING, "$muted")]
    parts: list[Part] = [_label("cores")]
    for value in per_core:
        parts.append((sparkline([value], 1), _LEVEL_STYLE[pct_level(value)] or "$primary"))
    busiest = max(per_core)
    parts += [("  busiest ", "$muted"), _judged(pct(busiest), pct_level(busiest))]
    return parts


def _load(sample: HealthSample) -> list[Part]:
    parts: list[Part] = [_label("load")]
    for value in (sample.load1, sample.load5, sample.load15):
        text = MISSING if value is None else f"{value:.2f}"
        parts += [_judged(text, load_level(value, sample.cores)), " "]
    if sample.cores:
        parts.append((f" on {sample.cores} cores", "$muted"))
    return parts


def _memory(sample: HealthSample) -> list[Part]:
    used: float | None = None
    if sample.mem_total_bytes is not None and sample.mem_available_bytes is not None:
        used = sample.mem_total_bytes - sample.mem_available_bytes
    return [
        _label("mem"),
        _judged(pct(sample.mem_used_pct), pct_level(sample.mem_used_pct), width=4),
        "   ",
        human_bytes(used),
        (" of ", "$muted"),
        human_bytes(sample.mem_total_bytes),
        (" · ", "$muted"),
        human_bytes(sample.mem_available_bytes),
        (" free · swap ", "$muted"),
        _judged(pct(sample.swap_used_pct), pct_level(sample.swap_used_pct)),
    ]


def _io(sample: HealthSample) -> list[Part]:
    return [
        _label("net"),
        ("rx ", "$muted"),
        human_rate(sample.net_rx_bps),
        ("  tx ", "$muted"),
        human_rate(sample.net_tx_bps),
        ("   disk read ", "$muted"),
        human_rate(sample.disk_read_bps),
        ("  write ", "$muted"),
        human_rate(sample.disk_write_bps),
    ]


def _filesystems(sample: HealthSample) -> list[list[Part]]:
    if not sample.filesystems:
        return [[_label("fs"), ("no filesystems reported", "$muted")]]
    mount_width = max(len(fs.mount) for fs in sample.filesystems)
    type_width = max(len(fs.fstype) for fs in sample.filesystems)
    lines: list[list[Part]] = []
    for index, fs in enumerate(sample.filesystems):
        lines.append(
            [
                _label("fs" if index == 0 else ""),
                fs.mount.ljust(mount_width),
                " ",
                (fs.fstype.ljust(type_width), "$muted"),
                " ",
                _judged(pct(fs.used_pct), pct_level(fs.used_pct), width=4),
                "  ",
                human_bytes(fs.used_bytes),
                (" of ", "$muted"),
                human_bytes(fs.size_bytes),
                ("  inodes ", "$muted"),
                _judged(pct(fs.inodes_used_pct), pct_level(fs.inodes_used_pct)),
            ]
        )
    return lines


def _label(text: str) -> tuple[str, str]:
    return (text.ljust(_LABEL_WIDTH), "$muted")


def _judged(text: str, level: Level, *, width: int = 0) -> tuple[str, str]:
    """A number coloured by its level; `ok` stays in the plain foreground."""
    return (text.rjust(width), _LEVEL_STYLE[level])


def _lines(lines: list[list[Part]]) -> Content:
    return Content("\n").join(Content.assemble(*line) for line in lines)
