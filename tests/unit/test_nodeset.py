"""Unit tests for node-set expansion, folding, natural sorting and bracket-aware splitting."""

from __future__ import annotations

import pickle
import random
import time

import pytest

from fleetdeck.core.nodeset import (
    MAX_EXPANSION,
    NodeSetError,
    expand,
    fold,
    natural_key,
    split_top_level,
)

# --- expand -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("web01", ["web01"]),
        ("db", ["db"]),
        ("  web01  ", ["web01"]),
        ("", []),
        ("   ", []),
        ("web[01-03]", ["web01", "web02", "web03"]),
        ("web[01-03,05]", ["web01", "web02", "web03", "web05"]),
        ("web[8-11]", ["web8", "web9", "web10", "web11"]),
        ("web[08-11]", ["web08", "web09", "web10", "web11"]),
        ("web[0-2]", ["web0", "web1", "web2"]),
        ("web[00-02]", ["web00", "web01", "web02"]),
        ("web[5]", ["web5"]),
        ("web[05]", ["web05"]),
        ("web[3,1,2]", ["web3", "web1", "web2"]),
        ("web[1-3,2-4]", ["web1", "web2", "web3", "web4"]),
        ("web[1-3],web2,web[0-1]", ["web1", "web2", "web3", "web0"]),
        ("web[1-2].example.com", ["web1.example.com", "web2.example.com"]),
        ("[1-3]", ["1", "2", "3"]),
        ("web[ 1 - 2 , 4 ]", ["web1", "web2", "web4"]),
        ("web[1-2], db1", ["web1", "web2", "db1"]),
        ("web[1-10/2]", ["web1", "web3", "web5", "web7", "web9"]),
        ("web[01-10/3]", ["web01", "web04", "web07", "web10"]),
        ("web[0-10/5,12]", ["web0", "web5", "web10", "web12"]),
        ("web[1-3/10]", ["web1"]),
        ("rack[1-2]-n[1-3]", ["rack1-n1", "rack1-n2", "rack1-n3", "rack2-n1", "rack2-n2", "rack2-n3"]),
        ("r[2,1]n[01-02]", ["r2n01", "r2n02", "r1n01", "r1n02"]),
        (
            "a[1-2]b[1-2]c[1-2]",
            ["a1b1c1", "a1b1c2", "a1b2c1", "a1b2c2", "a2b1c1", "a2b1c2", "a2b2c1", "a2b2c2"],
        ),
    ],
)
def test_expand(pattern: str, expected: list[str]) -> None:
    assert expand(pattern) == expected


def test_expand_unpadded_range_crossing_a_digit_boundary() -> None:
    names = expand("n[1-10]")
    assert names == [f"n{number}" for number in range(1, 11)]


def test_expand_padding_follows_the_written_width() -> None:
    names = expand("n[001-100]")
    assert len(names) == 100
    assert names[:3] == ["n001", "n002", "n003"]
    assert names[98:] == ["n099", "n100"]


def test_expand_padding_narrower_than_the_end_bound() -> None:
    names = expand("web[01-100]")
    assert names[0] == "web01"
    assert names[98:] == ["web99", "web100"]


def test_expand_accepts_exactly_the_maximum() -> None:
    names = expand("n[1-1000]-[1-1000]")
    assert len(names) == MAX_EXPANSION
    assert names[0] == "n1-1"
    assert names[-1] == "n1000-1000"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("web[05-01]", 'bad node set "web[05-01]": range start 05 is greater than end 01'),
        ("web[1,9-3]", 'bad node set "web[1,9-3]": range start 9 is greater than end 3'),
        ("web[01-03", "bad node set \"web[01-03\": unbalanced brackets: '[' at position 3 is never closed"),
        ("web01]", "bad node set \"web01]\": unbalanced brackets: ']' at position 5 has no matching '['"),
        ("a[1]-b[2", "bad node set \"a[1]-b[2\": unbalanced brackets: '[' at position 6 is never closed"),
        ("web[1[2]]", "bad node set \"web[1[2]]\": nested '[' at position 5"),
        ("web[]", 'bad node set "web[]": empty brackets at position 3'),
        ("web[ ]", 'bad node set "web[ ]": empty brackets at position 3'),
        ("web[1,,3]", 'bad node set "web[1,,3]": empty range in [1,,3]'),
        ("web[1,]", 'bad node set "web[1,]": empty range in [1,]'),
        ("web[a-b]", 'bad node set "web[a-b]": range "a-b" is not numeric'),
        ("web[1-]", 'bad node set "web[1-]": range "1-" is not numeric'),
        ("web[-3]", 'bad node set "web[-3]": range "-3" is not numeric'),
        ("web[1-3-5]", 'bad node set "web[1-3-5]": range "1-3-5" is not numeric'),
        ("web[x]", 'bad node set "web[x]": range "x" is not numeric'),
        ("web[1-9/0]", 'bad node set "web[1-9/0]": step in "1-9/0" must be a positive integer'),
        ("web[1-9/x]", 'bad node set "web[1-9/x]": step in "1-9/x" must be a positive integer'),
        ("web[5/2]", 'bad node set "web[5/2]": step in "5/2" needs a range (start-end/step)'),
        ("web[01-010]", 'bad node set "web[01-010]": padding mismatch between 01 and 010'),
        ("web[1-05]", 'bad node set "web[1-05]": padding mismatch between 1 and 05'),
        ("a,,b", 'bad node set "a,,b": empty element at position 2'),
        ("a, ,b", 'bad node set "a, ,b": empty element at position 2'),
        ("a,", 'bad node set "a,": empty element at position 2'),
        (
            "n[1-1000][1-1001]",
            'bad node set "n[1-1000][1-1001]": expands to 1,001,000 names, more than the limit of 1,000,000',
        ),
        (
            "n[1-99999999999]",
            'bad node set "n[1-99999999999]": expands to 99,999,999,999 names, more than the limit of 1,000,000',
        ),
        (
            "a[1-600000],b[1-600000]",
            'bad node set "a[1-600000],b[1-600000]": expands to 1,200,000 names, more than the limit of 1,000,000',
        ),
    ],
)
def test_expand_errors(pattern: str, message: str) -> None:
    with pytest.raises(NodeSetError) as caught:
        expand(pattern)
    assert str(caught.value) == message


def test_node_set_error_is_a_value_error_with_parts() -> None:
    with pytest.raises(ValueError, match="greater than") as caught:
        expand("n[3-1]")
    error = caught.value
    assert isinstance(error, NodeSetError)
    assert error.pattern == "n[3-1]"
    assert error.reason == "range start 3 is greater than end 1"


def test_node_set_error_survives_pickling() -> None:
    error = NodeSetError("n[3-1]", "range start 3 is greater than end 1")
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, NodeSetError)
    assert str(copy) == str(error)
    assert (copy.pattern, copy.reason) == (error.pattern, error.reason)


# --- fold ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], ""),
        (["web05"], "web05"),
        (["web01", "web02", "web03", "web05"], "web[01-03,05]"),
        (["web05", "web03", "web01", "web02"], "web[01-03,05]"),
        (["web1", "web2"], "web[1-2]"),
        (["web1", "web3"], "web[1,3]"),
        (["web1", "web1", "web2"], "web[1-2]"),
        (["web9", "web10", "web11"], "web[9-11]"),
        (["web08", "web09", "web10"], "web[08-10]"),
        (["web098", "web099", "web100"], "web[098-100]"),
        (["web05", "web10"], "web[05,10]"),
        (["n0", "n1"], "n[0-1]"),
        (["n00", "n01"], "n[00-01]"),
        # Different paddings are different hosts and are never merged into one range.
        (["web1", "web01"], "web01,web1"),
        (["web01", "web02", "web1", "web2"], "web[01-02],web[1-2]"),
        (["n0", "n00", "n1", "n01"], "n[0-1],n[00-01]"),
        (["web1", "web01", "web9", "web10"], "web01,web[1,9-10]"),
        # Names without numbers stay as they are, in natural order with the folded sets.
        (["db", "alpha"], "alpha,db"),
        (["web1", "db", "web2"], "db,web[1-2]"),
        (["web10", "web9", "db10", "db2"], "db[2,10],web[9-10]"),
        (["web2", "web10", "web1", "web11", "web3"], "web[1-3,10-11]"),
        # The text after the last number is part of the group.
        (["web1.lan", "web2.lan", "web3.dmz"], "web[1-2].lan,web3.dmz"),
        (["web1-a", "web2-a", "web1-b"], "web[1-2]-a,web1-b"),
        # Several numbers: folded from the last one back, like nodeset -f.
        (["rack1-n1", "rack1-n2", "rack2-n1"], "rack1-n[1-2],rack2-n1"),
        (["rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"], "rack[1-2]-n[1-2]"),
        (["web1-eth0", "web2-eth0"], "web[1-2]-eth0"),
        (["10.0.0.1", "10.0.0.2", "10.0.1.1", "10.0.1.2"], "10.0.[0-1].[1-2]"),
    ],
)
def test_fold(names: list[str], expected: str) -> None:
    assert fold(names) == expected


def test_fold_accepts_any_iterable() -> None:
    assert fold(name for name in ("n2", "n1")) == "n[1-2]"
    assert fold({"n3", "n1"}) == "n[1,3]"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "bad node set \"\": a name to fold must be non-empty and contain no '[', ']' or ','"),
        (
            "web[1]",
            "bad node set \"web[1]\": a name to fold must be non-empty and contain no '[', ']' or ','",
        ),
        ("a,b", "bad node set \"a,b\": a name to fold must be non-empty and contain no '[', ']' or ','"),
    ],
)
def test_fold_rejects_names_that_cannot_be_written_as_a_node_set(name: str, message: str) -> None:
    with pytest.raises(NodeSetError) as caught:
        fold(["web1", name])
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "pattern",
    [
        "web01",
        "db",
        "web[01-20,30]",
        "web[1-10]",
        "web[001-100]",
        "web[01-100]",
        "web[0-9,11,13-14]",
        "n[098-100,200]",
        "web[1-3].example.com",
        "rack[1-2]-n[1-3]",
        "10.0.[0-1].[1-254]",
    ],
)
def test_fold_round_trips_expand(pattern: str) -> None:
    assert fold(expand(pattern)) == pattern


def test_expand_of_fold_gives_back_the_same_names() -> None:
    rng = random.Random(20240611)
    prefixes = ["web", "db", "n", "rack1-n", "x", ""]
    names: set[str] = set()
    for _ in range(2000):
        prefix = rng.choice(prefixes)
        number = rng.randrange(0, 300)
        width = rng.choice([0, 2, 3])
        suffix = rng.choice(["", ".lan", "-b"])
        names.add(f"{prefix}{str(number).zfill(width)}{suffix}")
    names |= {"alpha", "beta"}
    folded = fold(names)
    assert len(folded) < sum(len(name) + 1 for name in names)
    again = expand(folded)
    assert sorted(again) == sorted(names)
    assert len(again) == len(names)


def test_fold_of_ten_thousand_names_is_fast() -> None:
    names = [f"node{number:05d}" for number in range(10_000) if number != 5000]
    names += [f"web{number}" for number in range(1, 500)]
    random.Random(7).shuffle(names)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        folded = fold(names)
        timings.append(time.perf_counter() - started)
    assert folded == "node[00000-04999,05001-09999],web[1-499]"
    assert min(timings) < 0.05


def test_expand_of_ten_thousand_names_is_fast() -> None:
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        names = expand("node[00001-10000]")
        timings.append(time.perf_counter() - started)
    assert len(names) == 10_000
    assert names[-1] == "node10000"
    assert min(timings) < 0.05


# --- natural_key --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["web10", "web2", "web1"], ["web1", "web2", "web10"]),
        (["db10", "web2", "db9"], ["db9", "db10", "web2"]),
        (["a1b10", "a1b2", "a2b1"], ["a1b2", "a1b10", "a2b1"]),
        (["10.0.0.10", "10.0.0.9", "9.0.0.1"], ["9.0.0.1", "10.0.0.9", "10.0.0.10"]),
        (["a1", "a", "a0"], ["a", "a0", "a1"]),
        (["web1", "web01", "web001"], ["web001", "web01", "web1"]),
        (["2", "10", "1b", "b"], ["1b", "2", "10", "b"]),
    ],
)
def test_natural_key_sorts_numbers_by_value(names: list[str], expected: list[str]) -> None:
    assert sorted(names, key=natural_key) == expected


def test_natural_key_shape() -> None:
    assert natural_key("web10.lan") == (("web", 10, ".lan"), "web10.lan")
    assert natural_key("db") == (("db",), "db")


# --- split_top_level ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seps", "expected"),
    [
        ("a,b", ",", ["a", "b"]),
        ("web[1,3],db[2-4,6]", ",", ["web[1,3]", "db[2-4,6]"]),
        ("a:b,c", ",:", ["a", "b", "c"]),
        ("a:b,c", ",", ["a:b", "c"]),
        ("a[1:2]:b", ":", ["a[1:2]", "b"]),
        ("a,,b,", ",", ["a", "", "b", ""]),
        ("", ",", [""]),
        ("plain", ",", ["plain"]),
    ],
)
def test_split_top_level(text: str, seps: str, expected: list[str]) -> None:
    assert split_top_level(text, seps) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a[1,2", "bad node set \"a[1,2\": unbalanced brackets: '[' at position 1 is never closed"),
        ("a],b", "bad node set \"a],b\": unbalanced brackets: ']' at position 1 has no matching '['"),
    ],
)
def test_split_top_level_rejects_unbalanced_brackets(text: str, message: str) -> None:
    with pytest.raises(NodeSetError) as caught:
        split_top_level(text)
    assert str(caught.value) == message
