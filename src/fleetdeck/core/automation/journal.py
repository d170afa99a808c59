"""Log lines for the daemon that read well both under systemd's journal and in a terminal.

Under systemd (``JOURNAL_STREAM`` is set) each line starts with a ``<N>`` syslog priority prefix, which
journald turns into the entry's priority and strips; elsewhere lines carry a UTC timestamp and level.
One line per event, no multi-line messages, so ``journalctl -p warning`` and ``grep`` both work.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

PRIORITIES = {"error": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}


def make_logger(stream: TextIO | None = None, *, journald: bool | None = None) -> Callable[[str, str], None]:
    """A ``log(level, message)`` function writing one line per call."""
    out = stream if stream is not None else sys.stderr
    to_journal = bool(os.environ.get("JOURNAL_STREAM")) if journald is None else journald
    lock = threading.Lock()

    def log(level: str, message: str) -> None:
        text = " ".join(message.split("\n"))
        if to_journal:
            line = f"<{PRIORITIES.get(level, 6)}>{text}\n"
        else:
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            line = f"{stamp} {level.upper():<7} {text}\n"
        with lock:
            out.write(line)
            out.flush()

    return log
