"""The remote half of agentless health: a POSIX `sh` loop that prints `/proc` between frame markers.

One long-lived SSH exec channel per host runs `probe_command(fs_every)`, that is `sh -c '<PROBE_SCRIPT>'
fleetdeck-probe <fs_every>`, under dash, BusyBox ash or any POSIX shell. It prints its first frame at once
(the layout is under `PROBE_SCRIPT`) and then one more for every line the client writes to its stdin: the
client keeps the clock. That way the loop forks nothing on a plain tick (not even a `sleep`; files are read
with the shell's `read` builtin, never `cat`), so a plain tick starts `FORKS_PER_TICK` processes, a df tick
`FORKS_PER_FS_TICK`, and start-up `FORKS_AT_START` (the test suite counts them with strace). And the client
can ask many hosts at the same moment, so their frames reach it together and are handled in one warm pass
instead of a hundred scattered wakeups a second (see `fleetdeck.core.health.probe_ticker`). The loop ends
at end of input (the channel closed), when a write to stdout fails (SIGPIPE, or EPIPE where SIGPIPE is
ignored), or when its parent exits (the sshd session went away while something still holds the pipes).
The script is sent as a single line without `!`, because the user's login shell parses the command first
and csh rejects a newline inside quotes and expands `!` as history.
"""

from __future__ import annotations

import shlex

PROBE_NAME = "fleetdeck-probe"
"""`$0` of the probe, so `ps` on the host shows what the process is."""

FORKS_PER_TICK = 0
"""Processes a tick without df starts: none, the loop waits on its stdin with the `read` builtin."""

FORKS_PER_FS_TICK = 2
"""Extra processes on a df tick: `df -P -k [-T]` and `df -P -i`."""

FORKS_AT_START = 1
"""Processes started once, before the first frame: `df -P -k -T /` to see whether `-T` works."""

PROBE_SCRIPT = r"""
fe=$1 r=${2:-} tick=0 n=0 bt=0 nc=0 np=0 pp=$PPID ck=1 T= nl=${IFS#??} f= ;
# Learn once whether df can print filesystem types (GNU and BusyBox can; some old builds cannot).
df -P -k -T / >/dev/null 2>&1 && T=-T ;
# Whether the parent may be signalled; where it may not, its death is seen in /proc/$$/stat instead.
kill -0 "$pp" 2>/dev/null || ck= ;
# Append a file to the frame line by line with builtins; the last line may lack a newline.
add() { while IFS= read -r l || [ -n "$l" ]; do f=$f$l$nl; done < "$1"; } 2>/dev/null ;
# Count the cpu lines and take btime: a plain tick then reads only those lines, never the long intr line.
count() {
  nc=0 ;
  while IFS= read -r l; do case $l in cpu*) nc=$((nc + 1)) ;; btime*) bt=${l#btime } ;; esac; done < $r/proc/stat ;
  set -- $r/proc/[0-9]* ; np=$# ;
} ;
while : ; do
  tick=$((tick + 1)) ;
  n=$((n - 1)) ;
  if [ "$n" -le 0 ] ; then count ; fi ;
  up= ; read -r up idle < $r/proc/uptime ; up=${up:-0} ;
  f="@@FD1 $tick $((bt + ${up%%.*}))$nl@@tick${nl}u $up $idle$nl" ;
  j=0 ; while [ "$j" -lt "$nc" ] && IFS= read -r l; do j=$((j + 1)) ; f=$f$l$nl ; done < $r/proc/stat ;
  f="${f}b $bt $np$nl" ;
  # meminfo's order is fixed; nothing after SwapFree is used. A line the kernel lacks stays "-".
  a=- b=- c=- d=- e=- g=- h=- ;
  while read -r k v l; do
    case $k in MemTotal:) a=$v ;; MemFree:) b=$v ;; MemAvailable:) c=$v ;; Buffers:) d=$v ;; Cached:) e=$v ;;
      SwapTotal:) g=$v ;; SwapFree:) h=$v ; break ;; esac ;
  done < $r/proc/meminfo ;
  f="${f}m $a $b $c $d $e $g $h$nl" ;
  read -r l < $r/proc/loadavg ; f="${f}l $l$nl" ;
  # Interfaces: name, received and transmitted bytes (the first and ninth counters after the colon).
  while IFS= read -r l; do
    case $l in *"|"*) ;; *) set -- ${l#*:} ; f="${f}n ${l%%:*} $1 $9$nl" ;; esac ;
  done < $r/proc/net/dev ;
  # Disks: name, sectors read and written. Memory-backed and stacked devices are never counted, nor the
  # 7-field partition lines of kernels before 2.6.25.
  while read -r a b c l; do
    case $c in loop[0-9]*|ram[0-9]*|zram[0-9]*|dm-[0-9]*|md[0-9]*) ;;
      *) set -- $l ; [ "$#" -eq 4 ] || f="${f}d $c $3 $7$nl" ;; esac ;
  done < $r/proc/diskstats ;
  if [ "$tick" -eq 1 ] ; then
    a= b= ; { read -r a < $r/proc/sys/kernel/ostype ; read -r b < $r/proc/sys/kernel/osrelease ; } 2>/dev/null ;
    f="$f@@kernel$nl$a $b$nl@@osrelease$nl" ;
    if [ -r $r/etc/os-release ] ; then add $r/etc/os-release ; else add $r/usr/lib/os-release ; fi ;
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
  # The next line from the client asks for the next frame; end of input means the channel closed.
  IFS= read -r l || exit 0 ;
done
"""
"""What the probe runs, one command per line. Each tick prints:

    @@FD1 <tick> <epoch seconds>
    @@tick        the numbers of /proc, one tagged line per source (see `proc_parse.parse_tick`):
                  `u` /proc/uptime, the `cpu` lines of /proc/stat verbatim, `b` btime and process count,
                  `m` the MemTotal, MemFree, MemAvailable, Buffers, Cached, SwapTotal and SwapFree of
                  /proc/meminfo (kB, `-` where the kernel has no such line), `l` /proc/loadavg, `n` each
                  interface's received and sent bytes, `d` each disk's sectors read and written (loop, ram,
                  zram, dm- and md devices and the 7-field partition lines of old kernels left out)
    @@kernel      what `uname -sr` prints, from /proc/sys/kernel   (first tick only)
    @@osrelease   /etc/os-release, else /usr/lib/os-release        (first tick only; empty if neither)
    @@df          `df -P -k -T`, or `df -P -k` where -T fails      (first tick, then every fs_every ticks)
    @@dfi         `df -P -i`                                       (same ticks as df)
    @@END <tick>

The first frame is printed at start; each later one when a line arrives on stdin. The frame is built in a
shell variable and written with one `printf` (a df tick adds the two `df` outputs and two short writes), so
each tick is one write and one SSH packet. The shell picks the numbers out itself (`read` and `set --` split
fields without a fork), so a plain tick is about 420 bytes on a two-CPU VM where the files' lines came to
1,350, and the client, which reads every host's tick, splits and parses a third as much text (21 to 8.5 us
to cut a frame, 95 to 60 us to build a sample, on the benchmark machine). The second argument, when given,
is a directory the `/proc` and `/etc` files are read under instead of `/` (tests feed captured files).

What a tick costs the host, measured on a 2-CPU VM (dash 0.5.12, BusyBox 1.35, 64 processes, kernel 6.1): the shell's
`read` takes one byte per system call (about 0.4 us each), so the probe reads as few bytes as it can: the `cpu` lines
of /proc/stat (the core count is learnt on df ticks, so the long `intr` line is never read), meminfo only up to
`SwapFree`, and the process count (a glob that cost 0.5 ms with 960 processes) on df ticks only. The reads then took
0.73 ms per tick under dash and 1.4 ms under BusyBox ash, against 0.93 ms for a single `cat` of the same six files.
Picking the numbers out (the `tick` section) costs the host about as much as copying the lines did: per tick on the
benchmark machine, medians of five runs of 3,000 ticks, 0.59 to 0.65 ms under dash and 1.15 to 1.04 ms under BusyBox,
for 1,362 to 432 bytes on the wire. A `sleep` between ticks cost 0.76 ms more to fork and exec (dash has no `read -t`),
which is why the client's line paces the loop instead; with builtins only, a plain tick leaves nothing in a host's
process accounting or audit log. The header's epoch is btime plus whole seconds of uptime, not `date +%s`, which would
be a second fork per tick; it may trail the host's clock by up to two seconds and is for display only, rates use the
centisecond uptime (the `u` line), so they stay right however unevenly the client asks. The process count expands the
glob `/proc/[0-9]*` inside the shell (one readdir, no fork) and so counts processes as psutil does; the `processes`
line of `/proc/stat` is forks since boot and `/proc/loadavg` counts threads, so neither is that number. The CPU count
needs no line of its own: it is the number of `cpuN` lines, recounted on df ticks, which follows hotplug within a
minute. The parent check is `kill -0` on the parent's pid (a builtin); where signalling the parent is not allowed, the
probe reads its own `/proc/$$/stat` to see whether it was reparented. A `df` stuck on a hung NFS mount blocks the loop;
the collector then sees its request go unanswered and marks the host stale. Lines beginning with `#` are comments and
are dropped by `compact_script`; every other line ends where a space may follow (`;`, `do`, `then`, `{`), so joining
the lines with spaces keeps the program.
"""


def compact_script(script: str = PROBE_SCRIPT) -> str:
    """The script as one line: comment lines dropped, the rest joined with spaces.

    One line because the command passes through the user's login shell first, and csh refuses a newline
    inside a quoted argument.
    """
    lines = (line.strip() for line in script.splitlines())
    return " ".join(line for line in lines if line and not line.startswith("#"))


def probe_argv(fs_every: int, shell: str = "sh", root: str | None = None) -> list[str]:
    """The probe as an argument vector, for running it without a login shell (locally, in tests).

    Args:
        fs_every: Print `df` every this many frames (and in the first).
        shell: The POSIX shell to run it with.
        root: Read `/proc` and `/etc` under this directory instead (captured files, in tests).

    Raises:
        ValueError: A period below 1, or not an integer.
    """
    if isinstance(fs_every, bool) or not isinstance(fs_every, int) or fs_every < 1:
        raise ValueError(f"fs_every must be a whole number of at least 1, got {fs_every!r}")
    argv = [shell, "-c", compact_script(), PROBE_NAME, str(fs_every)]
    return argv if root is None else [*argv, root]


def probe_command(fs_every: int) -> str:
    """The command line to run on a host's exec channel: `sh -c '<script>' fleetdeck-probe 15`.

    Args:
        fs_every: Print filesystems every this many frames, e.g. 15 frames 2 s apart for every 30 s.

    Raises:
        ValueError: A period below 1, or not an integer.
    """
    return shlex.join(probe_argv(fs_every))
