"""Unit tests for secret masking: streams split anywhere, overlapping secrets, one-shot text, throughput."""

from __future__ import annotations

import random
import time

import pytest

from fleetdeck.core.runner.masking import SecretMasker, mask_text


def reference(data: bytes, secrets: list[bytes], replacement: bytes = b"***") -> bytes:
    """Mask by brute force: every occurrence of every secret, strictly overlapping spans merged."""
    spans: list[tuple[int, int]] = []
    for secret in {s for s in secrets if s}:
        index = data.find(secret)
        while index != -1:
            spans.append((index, index + len(secret)))
            index = data.find(secret, index + 1)
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, pos = b"", 0
    for start, end in merged:
        out += data[pos:start] + replacement
        pos = end
    return out + data[pos:]


def stream(masker: SecretMasker, chunks: list[bytes], expected: bytes | None = None) -> bytes:
    """Feed chunks; when ``expected`` is given, check that nothing emitted ever has to be taken back."""
    out = b""
    for chunk in chunks:
        out += masker.feed(chunk)
        if expected is not None:
            assert expected.startswith(out), (chunks, out, expected)
    return out + masker.flush()


def test_masks_every_occurrence() -> None:
    masker = SecretMasker(["hunter2"])
    assert stream(masker, [b"pw=hunter2 again hunter2\n"]) == b"pw=*** again ***\n"


def test_str_secrets_are_matched_as_utf8() -> None:
    masker = SecretMasker(["pässwörd"])
    assert stream(masker, ["x pässwörd y".encode()]) == b"x *** y"


def test_custom_replacement() -> None:
    assert stream(SecretMasker([b"tok"], replacement=b"[masked]"), [b"a tok b"]) == b"a [masked] b"


def test_no_secrets_is_a_passthrough() -> None:
    masker = SecretMasker([])
    data = b"anything at all"
    assert not masker.active
    assert masker.feed(data) is data
    assert masker.flush() == b""


def test_empty_secrets_are_ignored() -> None:
    masker = SecretMasker(["", b""])
    assert not masker.active
    masker = SecretMasker(["", "abc"])
    assert stream(masker, [b"xabcx"]) == b"x***x"


@pytest.mark.parametrize("text", [b"pw=hunter2;", b"hunter2", b"hunter2hunter2", b"xhunter2hunter"])
def test_secret_split_at_every_position_across_two_chunks(text: bytes) -> None:
    expected = reference(text, [b"hunter2"])
    for cut in range(len(text) + 1):
        assert stream(SecretMasker(["hunter2"]), [text[:cut], text[cut:]], expected) == expected


def test_secret_split_at_every_position_across_three_chunks() -> None:
    text = b"before hunter2 after"
    expected = b"before *** after"
    for first in range(len(text) + 1):
        for second in range(first, len(text) + 1):
            chunks = [text[:first], text[first:second], text[second:]]
            assert stream(SecretMasker(["hunter2"]), chunks, expected) == expected


def test_prefix_is_held_until_the_secret_completes() -> None:
    masker = SecretMasker(["hunter2"])
    assert masker.feed(b"pw=hunt") == b"pw="
    assert masker.feed(b"er") == b""
    assert masker.feed(b"2!") == b"***!"
    assert masker.flush() == b""


def test_prefix_that_does_not_complete_is_released() -> None:
    masker = SecretMasker(["hunter2"])
    assert masker.feed(b"hunte") == b""
    assert masker.feed(b"d down") == b"hunted down"
    assert masker.feed(b" by hun") == b" by "
    assert masker.flush() == b"hun"


def test_holds_back_at_most_longest_minus_one_bytes() -> None:
    masker = SecretMasker(["aaaa", "ac"])
    assert masker.feed(b"xaaaab" + b"aaa") == b"x***b"
    # Three "a"s remain: the start of another "aaaa" or of "ac".
    assert masker.feed(b"") == b""
    assert masker.flush() == b"aaa"


def test_a_run_of_overlapping_occurrences_is_one_span() -> None:
    masker = SecretMasker(["aaaa"])
    assert masker.feed(b"x" + b"a" * 10) == b"x***"
    assert masker.feed(b"aab") == b"b"
    assert masker.flush() == b""


def test_one_byte_secret_needs_no_holding_back() -> None:
    masker = SecretMasker(["%"])
    assert masker.feed(b"100%") == b"100***"
    assert masker.feed(b"%%") == b"******"
    assert masker.flush() == b""


def test_longest_secret_wins_where_secrets_share_a_start() -> None:
    assert mask_text("password=password1", ["password", "password1", "pass"]) == "***=***"


def test_overlapping_secrets_are_masked_as_one_span() -> None:
    assert stream(SecretMasker(["abc", "cde"]), [b"xabcdex"]) == b"x***x"
    assert stream(SecretMasker(["abc", "cde"]), [b"xabc", b"dex"]) == b"x***x"
    assert stream(SecretMasker(["abc", "cde"]), [b"xabc", b"zz"]) == b"x***zz"
    assert stream(SecretMasker(["aa"]), [b"aaa"]) == b"***"


def test_adjacent_occurrences_are_masked_separately() -> None:
    assert stream(SecretMasker(["abc"]), [b"abcabc"]) == b"******"


def test_many_secrets() -> None:
    secrets = [f"secret-{i:03d}-{'x' * (i % 7)}" for i in range(300)]
    text = " ".join(secrets[::-1]).encode()
    masker = SecretMasker(secrets)
    chunks = [text[i : i + 13] for i in range(0, len(text), 13)]
    assert stream(masker, chunks) == b" ".join([b"***"] * 300)


def test_random_splits_match_one_shot_masking() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        secrets = [bytes(rng.choice(b"abc") for _ in range(rng.randint(1, 5))) for _ in range(rng.randint(1, 4))]
        data = bytes(rng.choice(b"abcxy") for _ in range(rng.randint(0, 40)))
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, rng.randint(0, 6))))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        expected = reference(data, secrets)
        assert stream(SecretMasker(secrets), chunks, expected) == expected


def test_byte_by_byte_never_emits_a_secret_prefix() -> None:
    secret = b"s3cr3t-t0ken"
    data = b"key: s3cr3t-t0ken, again s3cr3t-t0ken\n"
    masker = SecretMasker([secret])
    emitted = b""
    for byte in data:
        emitted += masker.feed(bytes([byte]))
        assert b"s" not in emitted.replace(b"again", b"")
    assert emitted + masker.flush() == b"key: ***, again ***\n"


def test_flush_resets_for_reuse() -> None:
    masker = SecretMasker(["abc"])
    assert masker.feed(b"xab") == b"x"
    assert masker.flush() == b"ab"
    assert masker.feed(b"c") == b"c"
    assert masker.flush() == b""


def test_ten_megabytes_stream_quickly() -> None:
    masker = SecretMasker(["hunter2", "s3cr3t-t0ken", "-----BEGIN KEY-----" + "A" * 2000])
    chunk = (b"x" * 120 + b" hunter2\n") * 500
    expected_chunk = chunk.replace(b"hunter2", b"***")
    total = 0
    started = time.perf_counter()
    out = bytearray()
    while total < 10_000_000:
        out += masker.feed(chunk)
        total += len(chunk)
    out += masker.flush()
    elapsed = time.perf_counter() - started
    assert bytes(out) == expected_chunk * (total // len(chunk))
    assert elapsed < 5.0


# --- mask_text ----------------------------------------------------------------------------------


def test_mask_text_replaces_secrets_in_strings() -> None:
    assert mask_text("login failed for hunter2 (hunter2)", ["hunter2"]) == "login failed for *** (***)"


def test_mask_text_keeps_other_characters_intact() -> None:
    assert mask_text("é🙂 tök 🙂é", ["tök"]) == "é🙂 *** 🙂é"


def test_mask_text_accepts_bytes_and_skips_undecodable_ones() -> None:
    assert mask_text("a pw b", [b"pw", b"\xff\xfe"]) == "a *** b"


def test_mask_text_without_matches_returns_the_same_string() -> None:
    text = "nothing secret"
    assert mask_text(text, ["hunter2", ""]) is text
    assert mask_text(text, []) is text


def test_mask_text_custom_replacement() -> None:
    assert mask_text("token=abc", ["abc"], replacement="<redacted>") == "token=<redacted>"
