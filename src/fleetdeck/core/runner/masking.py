"""Masking secret values in output streams and one-off strings, before anything is shown or stored.

Secrets reach hosts through stdin or the environment, but a command may still echo them, so every byte
a host sends passes through a :class:`SecretMasker` before the events carry it to sinks (printer, NDJSON,
store, console). Chunks arrive with arbitrary boundaries, so the masker holds back the few trailing bytes
that could be the start of a secret and decides once more data (or the end of the stream) shows whether
they were. Where occurrences of secrets overlap, the whole overlapping span is masked once, so no byte of
any secret ever gets out. :func:`mask_text` applies the same rules to whole strings such as parameters,
error messages and audit records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["SecretMasker", "mask_text"]


class SecretMasker:
    """Replaces every occurrence of the given secrets in one byte stream fed in chunks.

    One masker serves one stream (one host's stdout, say), because the bytes it holds back belong to
    that stream. Secrets given as ``str`` are matched in their UTF-8 form; empty secrets are ignored,
    and a masker without secrets passes data through untouched.

    Args:
        secrets: The secret values to hide.
        replacement: What each masked span becomes.
    """

    __slots__ = (
        "_by_first",
        "_covered",
        "_firsts",
        "_longest",
        "_pattern",
        "_pending",
        "_replacement",
        "_secrets",
    )

    def __init__(self, secrets: Iterable[str | bytes], replacement: bytes = b"***") -> None:
        encoded = {_encode(secret) for secret in secrets}
        encoded.discard(b"")
        # Longest first: a regex alternation takes the first alternative that matches at a position,
        # so this makes every match the longest secret starting there.
        self._secrets = tuple(sorted(encoded, key=lambda secret: (-len(secret), secret)))
        self._replacement = bytes(replacement)
        self._pending = b""
        # How many leading bytes of ``_pending`` lie inside a span whose replacement was already emitted.
        self._covered = 0
        self._pattern: re.Pattern[bytes] | None = None
        self._firsts: re.Pattern[bytes] | None = None
        self._longest = 0
        self._by_first: dict[int, tuple[bytes, ...]] = {}
        if self._secrets:
            self._pattern = re.compile(b"|".join(re.escape(secret) for secret in self._secrets))
            self._longest = len(self._secrets[0])
            by_first: dict[int, list[bytes]] = {}
            for secret in self._secrets:
                by_first.setdefault(secret[0], []).append(secret)
            self._by_first = {first: tuple(group) for first, group in by_first.items()}
            # Finds where a secret could begin without a Python-level loop over every byte of the tail.
            self._firsts = re.compile(b"[" + b"".join(re.escape(bytes((first,))) for first in by_first) + b"]")

    @property
    def active(self) -> bool:
        """Whether there is anything to mask; callers may skip the masker entirely when not."""
        return self._pattern is not None

    def feed(self, data: bytes) -> bytes:
        """Take the next chunk and return the masked bytes that are safe to emit now.

        At most ``len(longest secret) - 1`` bytes are held back, and only while they could still turn
        out to be the start of a secret.
        """
        if self._pattern is None:
            return data
        buf = self._pending + data if self._pending else bytes(data)
        hold = self._hold_from(buf)
        if hold == 0:
            self._pending = buf
            return b""
        return self._emit(buf, hold)

    def flush(self) -> bytes:
        """End the stream: return the masked remainder and start afresh for reuse."""
        if self._pattern is None or not self._pending:
            self._pending, self._covered = b"", 0
            return b""
        return self._emit(self._pending, len(self._pending))

    def _hold_from(self, buf: bytes) -> int:
        """Return where the held-back tail starts: the earliest position whose rest begins a secret."""
        size = len(buf)
        firsts = self._firsts
        assert firsts is not None
        for match in firsts.finditer(buf, max(0, size - self._longest + 1)):
            pos = match.start()
            tail = buf[pos:]
            for secret in self._by_first[buf[pos]]:
                if len(secret) > len(tail) and secret.startswith(tail):
                    return pos
        return size

    def _emit(self, buf: bytes, hold: int) -> bytes:
        """Mask ``buf[:hold]``, keep ``buf[hold:]`` pending, and return the masked part."""
        covered = self._covered
        spans = self._spans(buf, covered)
        self._covered = 0
        self._pending = buf[hold:]
        if not spans:
            return buf[:hold]
        out: list[bytes] = []
        pos = 0
        for start, end in spans:
            if start >= hold:
                break
            out.append(buf[pos:start])
            if not (start == 0 and covered):
                out.append(self._replacement)
            if end > hold:
                # The span runs into the held tail: remember that its replacement is already out.
                self._covered = end - hold
                pos = hold
                break
            pos = end
        out.append(buf[pos:hold])
        return b"".join(out)

    def _spans(self, buf: bytes, covered: int) -> list[tuple[int, int]]:
        """Find the masked spans of ``buf``: secret occurrences, with overlapping ones merged."""
        pattern = self._pattern
        assert pattern is not None
        spans: list[tuple[int, int]] = []
        pos = 0
        if covered:
            pos = self._extend(buf, 0, covered, 0)
            spans.append((0, pos))
        while (match := pattern.search(buf, pos)) is not None:
            start, end = match.span()
            pos = self._extend(buf, start, end, start + 1)
            spans.append((start, pos))
        return spans

    def _extend(self, buf: bytes, start: int, end: int, probe: int) -> int:
        """Grow the span ``[start, end)`` over every occurrence that starts inside it and reaches past it."""
        pattern = self._pattern
        assert pattern is not None
        by_first = self._by_first
        while probe < end:
            if buf[probe] in by_first:
                match = pattern.match(buf, probe)
                if match is not None and match.end() > end:
                    end = match.end()
            probe += 1
        return end


def mask_text(text: str, secrets: Iterable[str | bytes], replacement: str = "***") -> str:
    """Return ``text`` with every occurrence of every secret replaced, for one-shot strings.

    Used for parameters, error messages and audit records, which are whole strings rather than streams.
    Byte secrets that are not valid UTF-8 cannot occur in text and are skipped.
    """
    wanted: list[str] = []
    for secret in secrets:
        if isinstance(secret, bytes | bytearray):
            try:
                secret = bytes(secret).decode("utf-8")
            except UnicodeDecodeError:
                continue
        if secret and secret in text:
            wanted.append(secret)
    if not wanted:
        return text
    masker = SecretMasker(wanted, _encode(replacement))
    data = _encode(text)
    # UTF-8 is self-synchronising, so spans of whole encoded secrets always cut at character boundaries.
    return (masker.feed(data) + masker.flush()).decode("utf-8", "surrogatepass")


def _encode(value: str | bytes) -> bytes:
    """Encode like the rest of the engine, tolerating lone surrogates from undecodable file names."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return bytes(value)
