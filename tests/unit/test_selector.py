"""Unit tests for the host selector language: terms, operators, atoms, errors and speed."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from fleetdeck.core.selector import Selectable, SelectorError, select


@dataclass(frozen=True)
class Host:
    name: str
    groups: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


# Deliberately not in name order, so tests prove results follow inventory order.
HOSTS: tuple[Host, ...] = (
    Host("web01", ("web", "prod"), {"env": "prod", "role": "frontend"}),
    Host("web02", ("web", "prod"), {"env": "prod", "role": "frontend"}),
    Host("db01", ("db", "prod"), {"env": "prod", "role": "database"}),
    Host("web03", ("web", "prod"), {"env": "prod"}),
    Host("web04", ("web", "staging"), {"env": "staging", "role": "frontend"}),
    Host("db02", ("db", "prod"), {"env": "prod", "role": "database", "backup": "yes"}),
    Host("cache1", ("cache",), {}),
    Host("lb1", (), {"env": "prod", "owner": "net team"}),
    Host("web10", ("web", "staging"), {"env": "staging"}),
)
GROUPS = ("web", "db", "prod", "staging", "cache", "empty", "rack1", "rack2")
EVERYONE = [host.name for host in HOSTS]


def run(expr: str) -> list[str]:
    return select(expr, HOSTS, GROUPS)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        # all / *
        ("all", EVERYONE),
        ("*", EVERYONE),
        ("  all  ", EVERYONE),
        # plain names, in inventory order whatever order they were written in
        ("web01", ["web01"]),
        ("db01,web01", ["web01", "db01"]),
        ("web01,web01", ["web01"]),
        (" web01 ,  db02 ", ["web01", "db02"]),
        ("web01:db02", ["web01", "db02"]),
        ("web01,", ["web01"]),
        ("web01,,db01", ["web01", "db01"]),
        # node sets; commas inside brackets do not separate terms
        ("web[01-03]", ["web01", "web02", "web03"]),
        ("web[01,03],db[01-02]", ["web01", "db01", "web03", "db02"]),
        ("web[01-04/3]", ["web01", "web04"]),
        ("web[01-03]:web10", ["web01", "web02", "web03", "web10"]),
        # globs, which may match nothing
        ("web*", ["web01", "web02", "web03", "web04", "web10"]),
        ("web0?", ["web01", "web02", "web03", "web04"]),
        ("*1", ["web01", "db01", "cache1", "lb1"]),
        ("web0[13]*", ["web01", "web03"]),
        ("nomatch*", []),
        ("nomatch*,db01", ["db01"]),
        # groups, including parents already listed on the host and empty groups
        ("@web", ["web01", "web02", "web03", "web04", "web10"]),
        ("@prod", ["web01", "web02", "db01", "web03", "db02"]),
        ("@db,@cache", ["db01", "db02", "cache1"]),
        ("@empty", []),
        ("@empty,lb1", ["lb1"]),
        ("@ web", ["web01", "web02", "web03", "web04", "web10"]),
        ("@st*", ["web04", "web10"]),
        ("@*a*", ["web04", "cache1", "web10"]),
        ("@rack*", []),
        ("@nomatch*", []),
        ("@rack[1-2]", []),
        ("@[a-z]*", ["web01", "web02", "db01", "web03", "web04", "db02", "cache1", "web10"]),
        # tags
        ("tag:env=prod", ["web01", "web02", "db01", "web03", "db02", "lb1"]),
        ("tag:env=staging", ["web04", "web10"]),
        ("tag:env=st*", ["web04", "web10"]),
        ("tag:env=?rod", ["web01", "web02", "db01", "web03", "db02", "lb1"]),
        ("tag:role", ["web01", "web02", "db01", "web04", "db02"]),
        ("tag:backup", ["db02"]),
        ("tag:backup=yes", ["db02"]),
        ("tag:backup=no", []),
        ("tag:missing", []),
        ("tag:owner=net team", ["lb1"]),
        ("tag: role = database ", ["db01", "db02"]),
        ("tag:env=prod:tag:role=database", ["web01", "web02", "db01", "web03", "db02", "lb1"]),
        ("tag:env=prod,&tag:role=database", ["db01", "db02"]),
        # regex, searched anywhere in the name
        ("~^db", ["db01", "db02"]),
        ("~1$", ["web01", "db01", "cache1", "lb1"]),
        ("~b0", ["web01", "web02", "db01", "web03", "web04", "db02"]),
        ("~^(web|db)0[13]$", ["web01", "db01", "web03"]),
        ("~^web0{1,2}[24]$", ["web02", "web04"]),
        ("~^(?:lb|cache)", ["cache1", "lb1"]),
        ("~^web(?!0)", ["web10"]),
        ("~[,:]", []),
        ("~^web\\d{2}$,&@staging", ["web04", "web10"]),
        ("~^nothing", []),
    ],
)
def test_atoms(expr: str, expected: list[str]) -> None:
    assert run(expr) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        # Ansible semantics: union of plain terms, then & intersections, then ! exclusions.
        ("@web,&@prod", ["web01", "web02", "web03"]),
        ("@web:&@prod", ["web01", "web02", "web03"]),
        ("@web,&@prod,!web03", ["web01", "web02"]),
        ("@web:&@prod:!web03", ["web01", "web02"]),
        ("@web&@prod!web03", ["web01", "web02"]),
        ("@web & @prod ! web03", ["web01", "web02"]),
        ("@web, & @prod, ! web03", ["web01", "web02"]),
        ("&@prod,@web", ["web01", "web02", "web03"]),
        ("!web03,&@prod,@web", ["web01", "web02"]),
        ("@web,@db,&@prod", ["web01", "web02", "db01", "web03", "db02"]),
        ("@web,&@prod,&tag:role=frontend", ["web01", "web02"]),
        ("@web,!@staging,!web01", ["web02", "web03"]),
        ("@web,!web*", []),
        ("@web,!nomatch*", ["web01", "web02", "web03", "web04", "web10"]),
        ("web[01-04],!web[02-03]", ["web01", "web04"]),
        ("@prod,!~^db", ["web01", "web02", "web03"]),
        ("all,!@prod", ["web04", "cache1", "lb1", "web10"]),
        ("@web,&@empty", []),
        # With no plain term, start from every host.
        ("!web03", ["web01", "web02", "db01", "web04", "db02", "cache1", "lb1", "web10"]),
        ("!@web,!@db", ["cache1", "lb1"]),
        ("&@staging", ["web04", "web10"]),
        ("&@prod,!@db", ["web01", "web02", "web03"]),
        ("&tag:env=prod&~^web", ["web01", "web02", "web03"]),
        # Exclusions win whatever the order.
        ("!web01,web01,web02", ["web02"]),
    ],
)
def test_operators(expr: str, expected: list[str]) -> None:
    assert run(expr) == expected


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "empty selector: give hosts, node sets, @groups, tag:key=value, ~regex or all"),
        ("   ", "empty selector: give hosts, node sets, @groups, tag:key=value, ~regex or all"),
        (",", "empty selector: give hosts, node sets, @groups, tag:key=value, ~regex or all"),
        (" , : ", "empty selector: give hosts, node sets, @groups, tag:key=value, ~regex or all"),
        ("web99,@db", 'unknown host "web99" in selector "web99,@db"'),
        ("@db,web99", 'unknown host "web99" in selector "@db,web99"'),
        ("!web99", 'unknown host "web99" in selector "!web99"'),
        ("@web,&db9", 'unknown host "db9" in selector "@web,&db9"'),
        ("Web01", 'unknown host "Web01" in selector "Web01"'),
        ("web01 web02", 'unknown host "web01 web02" in selector "web01 web02"'),
        ("web[01-25]", 'unknown hosts web[05-09,11-25] in selector "web[01-25]"'),
        ("web[03-05]", 'unknown host "web05" in selector "web[03-05]"'),
        ("db[01-04],web01", 'unknown hosts db[03-04] in selector "db[01-04],web01"'),
        (
            "@dbs",
            'unknown group "dbs" in selector "@dbs" (known groups: cache, db, empty, prod, rack1, rack2, staging, web)',
        ),
        (
            "@web,!@stagin",
            'unknown group "stagin" in selector "@web,!@stagin" '
            "(known groups: cache, db, empty, prod, rack1, rack2, staging, web)",
        ),
        (
            "@rack[1-4]",
            'unknown groups rack[3-4] in selector "@rack[1-4]" '
            "(known groups: cache, db, empty, prod, rack1, rack2, staging, web)",
        ),
        ("@", 'empty group name after "@" in selector "@"'),
        ("web01,@ ", 'empty group name after "@" in selector "web01,@ "'),
        ("@web,&", 'dangling "&" at position 5 in selector "@web,&": expected a host pattern after it'),
        ("@web&", 'dangling "&" at position 4 in selector "@web&": expected a host pattern after it'),
        ("@web!", 'dangling "!" at position 4 in selector "@web!": expected a host pattern after it'),
        ("!", 'dangling "!" at position 0 in selector "!": expected a host pattern after it'),
        ("& ", 'dangling "&" at position 0 in selector "& ": expected a host pattern after it'),
        ("@web,&,@db", 'dangling "&" at position 5 in selector "@web,&,@db": expected a host pattern after it'),
        ("@web&!web01", 'dangling "&" at position 4 in selector "@web&!web01": expected a host pattern after it'),
        ("@web!!web01", 'dangling "!" at position 4 in selector "@web!!web01": expected a host pattern after it'),
        ("~[", 'bad regex "~[" in selector "~[": unterminated character set at position 0'),
        (
            "@web,&~(web",
            'bad regex "~(web" in selector "@web,&~(web": missing ), unterminated subpattern at position 0',
        ),
        ("~*web", 'bad regex "~*web" in selector "~*web": nothing to repeat at position 0'),
        ("~", 'empty regex after "~" in selector "~"'),
        ("web01,~,db01", 'empty regex after "~" in selector "web01,~,db01"'),
        (
            "web[05-01]",
            'bad node set "web[05-01]" in selector "web[05-01]": range start 05 is greater than end 01',
        ),
        ("web[a-c]", 'bad node set "web[a-c]" in selector "web[a-c]": range "a-c" is not numeric'),
        ("web[]", 'bad node set "web[]" in selector "web[]": empty brackets at position 3'),
        ("web[1[2]]", 'bad node set "web[1[2]]" in selector "web[1[2]]": nested \'[\' at position 5'),
        (
            "@rack[2-1]",
            'bad node set "rack[2-1]" in selector "@rack[2-1]": range start 2 is greater than end 1',
        ),
        (
            "web[01-03,db01",
            'unbalanced brackets in selector "web[01-03,db01": "[" at position 3 is never closed',
        ),
        ("web01],db01", 'unbalanced brackets in selector "web01],db01": "]" at position 5 has no matching "["'),
        ("tag:", 'empty tag key in "tag:" in selector "tag:"'),
        ("tag:=prod", 'empty tag key in "tag:=prod" in selector "tag:=prod"'),
    ],
)
def test_errors(expr: str, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        run(expr)
    assert str(caught.value) == message


def test_selector_error_is_a_value_error_and_chains_the_cause() -> None:
    with pytest.raises(ValueError, match="bad node set") as caught:
        run("web[3-1]")
    assert isinstance(caught.value, SelectorError)
    assert caught.value.__cause__ is not None
    assert type(caught.value.__cause__).__name__ == "NodeSetError"


def test_first_mistake_in_the_text_is_reported() -> None:
    with pytest.raises(SelectorError, match='unknown host "nope1"'):
        run("nope1,@nope2")
    with pytest.raises(SelectorError, match='unknown group "nope2"'):
        run("@nope2,nope1")


def test_unknown_group_without_any_groups() -> None:
    with pytest.raises(SelectorError) as caught:
        select("@web", [Host("a")], [])
    assert str(caught.value) == 'unknown group "web" in selector "@web" (no groups are defined)'


def test_unknown_group_message_lists_a_bounded_number_of_groups() -> None:
    groups = [f"g{number}" for number in range(1, 31)]
    with pytest.raises(SelectorError) as caught:
        select("@nope", [Host("a")], groups)
    listed = ", ".join(f"g{number}" for number in range(1, 21))
    assert str(caught.value) == f'unknown group "nope" in selector "@nope" (known groups: {listed} and 10 more)'


def test_group_seen_on_a_host_counts_as_known() -> None:
    hosts = [Host("a", ("extra",)), Host("b")]
    assert select("@extra", hosts, []) == ["a"]


def test_empty_inventory() -> None:
    assert select("all", [], []) == []
    assert select("!x*", [], []) == []
    with pytest.raises(SelectorError, match='unknown host "web01"'):
        select("web01", [], [])


def test_a_host_named_tag_or_all_is_still_reachable() -> None:
    hosts = [Host("tag"), Host("all"), Host("other")]
    assert select("tag", hosts, []) == ["tag"]
    # "all" is the keyword, exactly as in Ansible.
    assert select("all", hosts, []) == ["tag", "all", "other"]


def test_natural_order_is_not_imposed_on_the_inventory() -> None:
    hosts = [Host("n10"), Host("n2"), Host("n1")]
    assert select("n*", hosts, []) == ["n10", "n2", "n1"]
    assert select("n[1-2],n10", hosts, []) == ["n10", "n2", "n1"]


def test_any_object_with_the_attributes_is_selectable() -> None:
    class Plain:
        def __init__(self, name: str) -> None:
            self.name = name
            self.groups: tuple[str, ...] = ("g",)
            self.tags: Mapping[str, str] = {"k": "v"}

    hosts: list[Selectable] = [Plain("p1"), Plain("p2")]
    assert select("@g,&tag:k=v,!p2", hosts, ["g"]) == ["p1"]


def _big_inventory() -> tuple[list[Host], set[str]]:
    hosts = [
        Host(
            f"node{number:05d}",
            (f"rack{number // 100}", "even" if number % 2 == 0 else "odd", "compute"),
            {"env": "prod" if number % 3 else "dev", "rack": str(number // 100)},
        )
        for number in range(10_000)
    ]
    return hosts, {group for host in hosts for group in host.groups}


@pytest.mark.parametrize(
    ("expr", "count", "first"),
    [
        ("all", 10_000, "node00000"),
        ("node[00000-04999]", 5_000, "node00000"),
        ("node0*", 10_000, "node00000"),
        ("@rack1*&@even!node00100", 549, "node00102"),
        ("@compute,&tag:env=prod,!@odd", 3_333, "node00002"),
        ("tag:env=d*,&~5$", 333, "node00015"),
        ("@rack[10-59],!node[01000-01099]", 4_900, "node01100"),
        ("!node[00000-09998]", 1, "node09999"),
    ],
)
def test_ten_thousand_hosts_are_selected_quickly(expr: str, count: int, first: str) -> None:
    hosts, groups = _big_inventory()
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        selected = select(expr, hosts, groups)
        timings.append(time.perf_counter() - started)
    assert len(selected) == count
    assert selected[0] == first
    assert selected == sorted(selected)
    assert min(timings) < 0.05
