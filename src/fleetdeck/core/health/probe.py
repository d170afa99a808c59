"""The remote half of agentless health: a POSIX `sh` loop that prints `/proc` between frame markers.

One long-lived SSH exec channel per host runs `probe_command(interval_s, fs_every)`, that is `sh -c
'<PROBE_SCRIPT>' fleetdeck-probe <interval_s> <fs_every>`, under dash, BusyBox ash or any POSIX shell. Every
tick it prints one frame (the layout is under `PROBE_SCRIPT`) and sleeps. As the design asks, the loop forks
nothing per tick but its sleep: files are read with the shell's `read` builtin, never `cat`,
so a plain tick starts `FORKS_PER_TICK` process, a df tick `FORKS_PER_FS_TICK` more, and start-up
`FORKS_AT_START` (the test suite counts them with strace). The loop ends when a write to stdout fails (the
channel closed: SIGPIPE, or EPIPE where SIGPIPE is ignored), when its parent exits (the sshd session went
away while something still holds the pipe), or when its sleep is killed; nothing outlives the channel by more
than one interval. The script is sent as a single line without `!`, because the user's login shell parses
the command first and csh rejects a newline inside quotes and expands `!` as history.
"""

from __future__ import annotations

import shlex

PROBE_NAME = "fleetdeck-probe"
"""`$0` of the probe, so `ps` on the host shows what the process is."""

FORKS_PER_TICK = 1
"""Processes a tick without df starts: the `sleep`."""

FORKS_PER_FS_TICK = 2
"""Extra processes on a df tick: `df -P -k [-T]` and `df -P -i`."""

FORKS_AT_START = 1
"""Processes started once, before the first frame: `df -P -k -T /` to see whether `-T` works."""

PROBE_SCRIPT = r"""
iv=$1 fe=$2 tick=0 n=0 bt=0 nc=0 np=0 pp=$PPID ck=1 T= nl=${IFS#??} f= ;
# Learn once whether df can print filesystem types (GNU and BusyBox can; some old builds cannot).
df -P -k -T / >/dev/null 2>&1 && T=-T ;
# Whether the parent may be signalled; where it may not, its death is seen in /proc/$$/stat instead.
kill -0 "$pp" 2>/dev/null || ck= ;
# Append a file to the frame line by line with builtins; the last line may lack a newline.
add() { while IFS= read -r l || [ -n "$l" ]; do f=$f$l$nl; done < "$1"; } 2>/dev/null ;
# Count the cpu lines and take btime: a plain tick then reads only those lines, never the long intr line.
count() {
  nc=0 ; while IFS= read -r l; do case $l in cpu*) nc=$((nc + 1)) ;; btime*) bt=${l#btime } ;; esac; done < /proc/stat ;
  set -- /proc/[0-9]* ; np=$# ;
} ;
while : ; do
  tick=$((tick + 1)) ;
  n=$((n - 1)) ;
  if [ "$n" -le 0 ] ; then count ; fi ;
  up= ; read -r up idle < /proc/uptime ; up=${up:-0} ;
  f="@@FD1 $tick $((bt + ${up%%.*}))$nl@@uptime$nl$up $idle$nl@@stat$nl" ;
  j=0 ; while [ "$j" -lt "$nc" ] && IFS= read -r l; do j=$((j + 1)) ; f=$f$l$nl ; done < /proc/stat ;
  f="${f}btime $bt$nl@@procs$nl$np$nl@@meminfo$nl" ;
  # meminfo's order is fixed; nothing after SwapFree is used.
  while IFS= read -r l; do f=$f$l$nl ; case $l in SwapFree*) break ;; esac; done < /proc/meminfo ;
  f=$f@@loadavg$nl ; add /proc/loadavg ;
  f=$f@@netdev$nl ; add /proc/net/dev ;
  f=$f@@diskstats$nl ; add /proc/diskstats ;
  if [ "$tick" -eq 1 ] ; then
    { read -r a < /proc/sys/kernel/ostype ; read -r b < /proc/sys/kernel/osrelease ; } 2>/dev/null ;
    f="$f@@kernel$nl$a $b$nl@@osrelease$nl" ;
    if [ -r /etc/os-release ] ; then add /etc/os-release ; else add /usr/lib/os-release ; fi ;
  fi ;
  if [ "$n" -le 0 ] ; then
    n=$fe ;
    printf '%s@@df\n' "$f" || exit 0 ;
    df -P -k $T 2>/dev/null ;
    printf '@@dfi\n' ; df -P -i 2>/dev/null ;
    f= ;
  fi ;
  printf '%s@@END %s\n' "$f" "$tick" || exit 0 ;
  # The sshd session that started us is gone (we were reparented) even if stdout still looks open.
  if [ -n "$ck" ] ; then kill -0 "$pp" 2>/dev/null || exit 0 ;
  else read -r l < /proc/$$/stat ; l=${l##*) } ; l=${l#* } ; [ "${l%% *}" = "$pp" ] || exit 0 ; fi ;
  sleep "$iv" || exit 0 ;
done
"""
"""What the probe runs, one command per line. Each tick prints:

    @@FD1 <tick> <epoch seconds>
    @@uptime      /proc/uptime
    @@stat        the `cpu` lines of /proc/stat, then `btime <s>`
    @@procs       number of processes (numeric entries of /proc), counted on df ticks
    @@meminfo     /proc/meminfo up to and including `SwapFree`
    @@loadavg     /proc/loadavg
    @@netdev      /proc/net/dev
    @@diskstats   /proc/diskstats
    @@kernel      what `uname -sr` prints, from /proc/sys/kernel   (first tick only)
    @@osrelease   /etc/os-release, else /usr/lib/os-release        (first tick only; empty if neither)
    @@df          `df -P -k -T`, or `df -P -k` where -T fails      (first tick, then every fs_every ticks)
    @@dfi         `df -P -i`                                       (same ticks as df)
    @@END <tick>

The frame is built in a shell variable and written with one `printf` (a df tick adds the two `df` outputs
and two short writes), so each tick is one write, one SSH packet and one wakeup of the reader.

What a tick costs the host, measured on a 2-CPU VM (dash 0.5.12, BusyBox 1.35, 64 processes, kernel 6.1):
the shell's `read` takes one byte per system call (about 0.4 us each), so the probe reads as few bytes as it
can: the `cpu` lines of /proc/stat (the core count is learnt on df ticks, so the long `intr` line is never
read), meminfo only up to `SwapFree`, and the process count (a glob that cost 0.5 ms with 960 processes) on
df ticks only. The reads then take 0.73 ms per tick under dash and 1.4 ms under BusyBox ash, against
0.93 ms for a single `cat` of the same six files, and the `sleep` that cannot be avoided (dash has no
`read -t`) costs 0.76 ms to fork and exec; with builtins no `execve` but the sleep lands in an audit log every
interval on every host. The header's epoch is btime plus whole seconds of uptime, not `date +%s`, which
would be a second fork per tick; it may trail the host's clock by up to two seconds and is for display only,
rates use the centisecond `uptime` section. The process count expands the glob `/proc/[0-9]*` inside the
shell (one readdir, no fork) and so counts processes as psutil does; the `processes` line of `/proc/stat` is
forks since boot and `/proc/loadavg` counts threads, so neither is that number. The CPU count needs no
section: it is the number of `cpuN` lines, recounted on df ticks, which follows hotplug within a minute. The
parent check is `kill -0` on the parent's pid (a builtin); where signalling the parent is not allowed, the
probe reads its own `/proc/$$/stat` to see whether it was reparented. A `df` stuck on a hung NFS mount blocks
the loop; the collector then sees a silent channel and marks the host stale. Lines beginning with `#` are
comments and are dropped by `compact_script`; every other line ends where a space may follow (`;`, `do`,
`then`, `{`), so joining the lines with spaces keeps the program.
"""


def compact_script(script: str = PROBE_SCRIPT) -> str:
    """The script as one line: comment lines dropped, the rest joined with spaces.

    One line because the command passes through the user's login shell first, and csh refuses a newline
    inside a quoted argument.
    """
    lines = (line.strip() for line in script.splitlines())
    return " ".join(line for line in lines if line and not line.startswith("#"))


def probe_argv(interval_s: int, fs_every: int, shell: str = "sh") -> list[str]:
    """The probe as an argument vector, for running it without a login shell (locally, in tests).

    Args:
        interval_s: Seconds to sleep between frames; whole seconds because BusyBox `sleep` may not take
            fractions.
        fs_every: Print `df` every this many ticks (and on the first).
        shell: The POSIX shell to run it with.

    Raises:
        ValueError: An interval or period below 1, or not an integer.
    """
    for name, value in (("interval_s", interval_s), ("fs_every", fs_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    return [shell, "-c", compact_script(), PROBE_NAME, str(interval_s), str(fs_every)]


def probe_command(interval_s: int, fs_every: int) -> str:
    """The command line to run on a host's exec channel: `sh -c '<script>' fleetdeck-probe 2 30`.

    Args:
        interval_s: Seconds between frames (whole seconds, at least 1).
        fs_every: Print filesystems every this many ticks, e.g. 30 ticks of 2 s for once a minute.

    Raises:
        ValueError: An interval or period below 1, or not an integer.
    """
    return shlex.join(probe_argv(interval_s, fs_every))
