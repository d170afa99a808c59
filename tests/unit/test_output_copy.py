"""What the copy keys put on the clipboard: whole lines, the newest that fit, and an honest message."""

from __future__ import annotations

from fleetdeck.ui.output_copy import Clip, clip_lines, copy_message


def test_lines_are_joined_with_newlines_and_counted_in_utf8_bytes() -> None:
    clip = clip_lines(["héllo", "", "wörld"])
    assert clip.text == "héllo\n\nwörld\n"
    assert (clip.lines, clip.size, clip.dropped) == (3, len(clip.text.encode()), 0)


def test_the_newest_lines_that_fit_are_kept() -> None:
    lines = [f"line {n:03d}" for n in range(100)]  # 9 bytes each with the newline
    clip = clip_lines(lines, limit=90)
    assert clip.lines == 10 and clip.dropped == 90
    assert clip.text.splitlines() == lines[-10:]
    assert clip.size <= 90


def test_one_huge_line_is_cut_not_dropped() -> None:
    clip = clip_lines(["ä" * 100], limit=11)
    assert clip.lines == 1 and clip.text == "ä" * 5 + "\n"
    assert clip.size <= 11


def test_nothing_to_copy() -> None:
    assert clip_lines([]) == Clip("", 0, 0, 0)


def test_message_says_lines_bytes_and_what_is_missing() -> None:
    assert copy_message(Clip("a\n", 1, 2), "web01's output") == "Copied 1 line (2 bytes) of web01's output."
    message = copy_message(Clip("x\n" * 3, 3, 6, dropped=2), "web01's output", not_held=1200)
    assert message.startswith("Copied 3 lines (6 bytes) of web01's output.")
    assert "2 older lines over the 512 KiB limit" in message
    assert "1,200 earlier lines the console no longer holds" in message
