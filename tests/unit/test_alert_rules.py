"""alerts.toml: expressions, durations, templates, and every config mistake reported with file, key path and rule."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from fleetdeck.core.alerts import DEFAULT_RULES, AlertsConfig, load_alerts, parse_duration, parse_expr
from fleetdeck.core.alerts.expr import Condition, ExprError, FsMatcher
from fleetdeck.core.alerts.templates import check_template, render
from fleetdeck.core.config import load_config
from fleetdeck.core.config.schema import HostEntry, HostsFile
from fleetdeck.core.errors import ConfigIssue
from fleetdeck.core.inventory import Inventory, build_inventory

CONFIGS = Path(__file__).parents[2] / "configs"


def load(text: str, **kwargs: object) -> tuple[AlertsConfig, list[str]]:
    issues: list[ConfigIssue] = []
    config = load_alerts(tomllib.loads(text), issues=issues, inventory=kwargs.pop("inventory", None), **kwargs)  # type: ignore[arg-type]
    return config, [str(i) for i in issues]


def errors(text: str, **kwargs: object) -> list[str]:
    return load(text, **kwargs)[1]


RULE = '[[rules]]\nname = "HighCPU"\nexpr = "cpu_pct > 85"\n'


# -- expressions -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cpu_pct > 85", Condition("cpu_pct", ">", 85.0)),
        ("cpu > 85", Condition("cpu_pct", ">", 85.0)),
        ("  load_per_core>=2.5 ", Condition("load_per_core", ">=", 2.5)),
        ("swap_used_pct != -1e1", Condition("swap_used_pct", "!=", -10.0)),
        ("host_down", Condition("host_down")),
        ('disk_used_pct{mount="/"} > 90', Condition("disk_used_pct", ">", 90.0, (FsMatcher("mount", "/"),))),
        (
            "inodes_used_pct{mount='/var*', fstype!=\"tmpfs\"} <= 3",
            Condition("inodes_used_pct", "<=", 3.0, (FsMatcher("mount", "/var*"), FsMatcher("fstype", "tmpfs", True))),
        ),
        ("disk_used_pct == 100", Condition("disk_used_pct", "==", 100.0)),
    ],
)
def test_expressions_parse(text: str, expected: Condition) -> None:
    assert parse_expr(text) == expected


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("", "empty expression: expected a metric such as cpu_pct > 85, or host_down", 1),
        ("cpu_pc > 5", 'unknown metric "cpu_pc" at column 1 (did you mean "cpu_pct"?)', 1),
        ("cpu_pct => 5", 'expected a comparison >, >=, <, <=, == or != at column 9, got "=>" (did you mean ">="?)', 9),
        ("cpu_pct = 5", 'expected a comparison >, >=, <, <=, == or != at column 9, got "=" (did you mean "=="?)', 9),
        ("cpu_pct > high", 'expected a number at column 11, got "high"', 11),
        ("cpu_pct > 5 and mem", 'unexpected "and" at column 13 after the number', 13),
        ("cpu_pct >", "expected a number at column 10, got end of expression", 10),
        ("host_down > 0", 'host_down stands alone; unexpected ">" at column 11', 11),
        (
            'load1{mount="/"} > 1',
            "label matchers at column 6 apply only to filesystem metrics (disk_used_pct, inodes_used_pct)",
            6,
        ),
        (
            'disk_used_pct{dev="sda"} > 1',
            'unknown label "dev" at column 15; filesystem metrics have mount and fstype',
            15,
        ),
        ('disk_used_pct{mount="/} > 1', "unterminated string starting at column 21", 21),
        ("disk_used_pct{mount=/} > 1", 'expected a quoted value at column 21, got "/"', 21),
        ('disk_used_pct{mount="/" fstype="x"} > 1', 'expected , or } at column 25, got "fstype"', 25),
        ("disk_used_pct{} > 1", 'empty matcher {} at column 14: write {mount="/"} or leave the braces out', 14),
    ],
)
def test_expression_errors_name_the_column(text: str, message: str, column: int) -> None:
    with pytest.raises(ExprError) as info:
        parse_expr(text)
    assert str(info.value) == message
    assert info.value.column == column


def test_conditions_compare_and_print_back() -> None:
    rising = parse_expr("cpu_pct >= 85")
    assert rising.holds(85) and not rising.holds(84.9) and rising.rising and not rising.falling
    assert not parse_expr("host_down").holds(1.0)
    assert str(parse_expr("disk_used_pct{ mount = '/' } >90.0")) == 'disk_used_pct{mount="/"} > 90'


# -- durations and templates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("1d", 86400), ("0s", 0), ("1.5m", 90)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5", "5 minutes", "m5", "", "-5m", "5M"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration such as"):
        parse_duration(text)


def test_templates_render_with_specs_labels_and_missing_values() -> None:
    text = "{host}: CPU {value:.0f}% on {mount} ({team}, {severity}) {{literal}}"
    assert check_template(text, ["team"]) is None
    out = render(text, host="web01", value=91.6, rule="HighCPU", mount=None, severity="warning", labels={"team": "ops"})
    assert out == "web01: CPU 92% on - (ops, warning) {literal}"
    assert render("{value}", host="h", value=87.25, rule="r", mount=None, severity="w", labels={}) == "87.25"
    assert render("{value:.1f}", host="h", value=None, rule="r", mount=None, severity="w", labels={}) == "-"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "{hots}",
            'unknown placeholder {hots} (did you mean "host"?); known: host, value, rule, mount, severity, team',
        ),
        ("{value:.0q}", "bad template: Unknown format code 'q' for object of type 'float'"),
        ("{host:.0f}", "bad template: Unknown format code 'f' for object of type 'str'"),
        ("{}", "empty placeholder {}: name one of host, value, rule, mount, severity, team"),
        (
            "{labels.team}",
            "placeholder {labels.team}: only plain names work (host, value, rule, mount, severity, team)",
        ),
        ("CPU {value", "bad template: expected '}' before end of string (write {{ and }} for literal braces)"),
    ],
)
def test_bad_templates_are_caught(text: str, problem: str) -> None:
    assert check_template(text, ["team"]) == problem


# -- alerts.toml -----------------------------------------------------------------------------------------------


def test_a_full_rule_resolves() -> None:
    config, issues = load(
        """
        [flapping]
        changes = 3
        window = "5m"
        [[rules]]
        name = "HighCPU"
        expr = "cpu_pct > 85"
        for = "5m"
        keep_firing_for = "2m"
        clear_below = 75
        severity = "critical"
        hosts = "web*"
        labels = { team = "ops" }
        annotations = { summary = "{host}: CPU {value:.0f}% for 5m", runbook = "https://wiki/cpu" }
        remediate = { task = "clean-tmp", params = { path = "/tmp", force = true } }
        """
    )
    assert issues == []
    (rule,) = config.rules
    assert (rule.name, rule.expr, rule.for_s, rule.keep_firing_for_s, rule.clear_below) == (
        "HighCPU",
        "cpu_pct > 85",
        300.0,
        120.0,
        75.0,
    )
    assert (rule.severity, rule.hosts, dict(rule.labels)) == ("critical", "web*", {"team": "ops"})
    assert rule.remediate is not None and rule.remediate.task == "clean-tmp"
    assert dict(rule.remediate.params) == {"path": "/tmp", "force": True}
    assert (config.flapping.changes, config.flapping.window_s, config.from_file) == (3, 300.0, True)
    assert rule.holds(80, firing=True) and not rule.holds(80, firing=False) and not rule.holds(74, firing=True)


def test_defaults_apply_without_a_file_and_can_be_included() -> None:
    assert AlertsConfig().rules == DEFAULT_RULES
    names = [r.name for r in DEFAULT_RULES]
    assert names == [
        "HighCPU",
        "CPUCritical",
        "HighMemory",
        "RootDiskFull",
        "RootDiskCritical",
        "HighLoad",
        "HostDown",
        "InodesRunningOut",
    ]
    config, issues = load('include_defaults = true\n[[rules]]\nname = "HighCPU"\nexpr = "cpu_pct > 50"\n')
    assert issues == []
    assert [r.name for r in config.rules] == [*names[1:], "HighCPU"]
    assert config.rule("HighCPU") is not None and config.rule("HighCPU").expr == "cpu_pct > 50"  # type: ignore[union-attr]
    only, _ = load(RULE)
    assert [r.name for r in only.rules] == ["HighCPU"]


def test_the_bundled_sample_spells_out_the_defaults() -> None:
    bundled = load_config(CONFIGS)
    config, issues = load((CONFIGS / "alerts.toml").read_text(), tasks=bundled.tasks)
    assert issues == []
    # The sample lists the built-in rules first, then examples with remediation.
    assert config.rules[: len(DEFAULT_RULES)] == DEFAULT_RULES
    assert [r.name for r in config.rules[len(DEFAULT_RULES) :]] == ["TmpFilling", "WebCPUSustained"]
    assert all(r.remediate is not None for r in config.rules[len(DEFAULT_RULES) :])


def test_the_bundled_sample_passes_with_the_bundled_inventory_and_tasks() -> None:
    bundled = load_config(CONFIGS)
    _, issues = load((CONFIGS / "alerts.toml").read_text(), inventory=bundled.inventory, tasks=bundled.tasks)
    assert issues == []


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[[rules]]\nname = "HighCPU"\nexpr = "cpu_pct => 85"\n',
            'alerts.toml: rules[0].expr: rule "HighCPU": expected a comparison >, >=, <, <=, == or != at column 9, '
            'got "=>" (did you mean ">="?)',
        ),
        (
            '[[rules]]\nname = "HighCPU"\nexpr = "cpu_pc > 85"\n',
            'alerts.toml: rules[0].expr: rule "HighCPU": unknown metric "cpu_pc" at column 1 (did you mean "cpu_pct"?)',
        ),
        (
            RULE + 'for = "5 minutes"\n',
            'alerts.toml: rules[0].for: rule "HighCPU": expected a duration such as "30s", "5m" or "1h", got "5 minutes"',
        ),
        (
            RULE + "keep_firing_for = 300\n",
            'alerts.toml: rules[0].keep_firing_for: rule "HighCPU": expected a duration such as "30s", "5m" or "1h", '
            "got 300",
        ),
        (
            RULE + 'severty = "critical"\n',
            'alerts.toml: rules[0].severty: rule "HighCPU": unknown key (did you mean "severity"?); allowed keys: '
            "annotations, clear_above, clear_below, expr, for, hosts, inhibits, keep_firing_for, labels, name, remediate, "
            "severity",
        ),
        (
            RULE + 'fro = "5m"\n',
            'alerts.toml: rules[0].fro: rule "HighCPU": unknown key (did you mean "for"?); allowed keys: '
            "annotations, clear_above, clear_below, expr, for, hosts, inhibits, keep_firing_for, labels, name, remediate, "
            "severity",
        ),
        (
            RULE + 'severity = "page"\n',
            'alerts.toml: rules[0].severity: rule "HighCPU": expected one of "warning" or "critical", got "page"',
        ),
        (
            RULE + 'clear_below = "75"\n',
            'alerts.toml: rules[0].clear_below: rule "HighCPU": expected a number, got "75"',
        ),
        ('[[rules]]\nname = "HighCPU"\n', 'alerts.toml: rules[0].expr: rule "HighCPU": missing required key'),
        ('[[rules]]\nexpr = "cpu_pct > 1"\n', "alerts.toml: rules[0].name: missing required key"),
        (
            "[flaping]\nchanges = 3\n",
            'alerts.toml: flaping: unknown key (did you mean "flapping"?); allowed keys: flapping, include_defaults, rules',
        ),
        (
            '[flapping]\nwindow = "0s"\n',
            'alerts.toml: flapping.window: expected a duration such as "30s", "5m" or "1h" (more than 0), got "0s"',
        ),
        ("[flapping]\nchanges = 1\n", "alerts.toml: flapping.changes: expected an integer 2-1000, got 1"),
        ('[rules]\nname = "x"\n', "alerts.toml: rules: expected an array, got a table"),
        (
            '[[rules]]\nname = "Low"\nexpr = "cpu_pct < 5"\nclear_below = 3\n',
            'alerts.toml: rules[0].clear_below: rule "Low": clear_below needs a > or >= expression (use clear_above)',
        ),
        (
            RULE + "clear_below = 90\n",
            'alerts.toml: rules[0].clear_below: rule "HighCPU": clear_below 90 is above the threshold 85',
        ),
        (
            '[[rules]]\nname = "Low"\nexpr = "cpu_pct < 5"\nclear_above = 4\n',
            'alerts.toml: rules[0].clear_above: rule "Low": clear_above 4 is below the threshold 5',
        ),
        (
            '[[rules]]\nname = "Down"\nexpr = "host_down"\nclear_above = 4\n',
            'alerts.toml: rules[0].clear_above: rule "Down": clear_above needs a < or <= expression (use clear_below)',
        ),
        (
            RULE + 'labels = { severity = "page" }\n',
            'alerts.toml: rules[0].labels.severity: rule "HighCPU": "severity" is set by fleetdeck itself '
            '(use the rule\'s "severity" key)',
        ),
        (
            RULE + 'labels = { "team name" = "ops" }\n',
            'alerts.toml: rules[0].labels."team name": rule "HighCPU": label names are letters, digits and _, '
            "not first a digit",
        ),
        (
            RULE + 'annotations = { summary = "{host}: {valeu:.0f}%" }\n',
            'alerts.toml: rules[0].annotations.summary: rule "HighCPU": unknown placeholder {valeu} '
            '(did you mean "value"?); known: host, value, rule, mount, severity',
        ),
        (
            RULE + 'annotations = { summary = "{value:.0q}" }\n',
            "alerts.toml: rules[0].annotations.summary: rule \"HighCPU\": bad template: Unknown format code 'q' "
            "for object of type 'float'",
        ),
        (
            '[[rules]]\nname = "High CPU"\nexpr = "cpu_pct > 85"\n',
            "alerts.toml: rules[0].name: bad rule name 'High CPU': use letters, digits, _, . and -",
        ),
        (
            RULE + RULE,
            'alerts.toml: rules[1].name: rule "HighCPU": duplicate rule name (first used by rules[0])',
        ),
    ],
)
def test_config_errors_name_file_path_rule_and_problem(toml: str, message: str) -> None:
    assert errors(toml) == [message]


def test_every_broken_rule_is_reported_and_good_ones_kept() -> None:
    config, issues = load(
        RULE
        + '[[rules]]\nname = "A"\nexpr = "nope > 1"\n[[rules]]\nname = "B"\nexpr = "mem_used_pct > 1"\nfor = "x"\n'
        + '[[rules]]\nname = "C"\nexpr = "host_down"\n'
    )
    assert [i.split(":")[1].strip() for i in issues] == ["rules[1].expr", "rules[2].for"]
    assert [r.name for r in config.rules] == ["HighCPU", "C"]


def _inventory() -> Inventory:
    inventory, problems = build_inventory(
        HostsFile(hosts={"web01": HostEntry(groups=["web"]), "db01": HostEntry(groups=["db"])})
    )
    assert problems == []
    return inventory


def test_host_selectors_are_checked_against_the_inventory() -> None:
    assert errors(RULE + 'hosts = "@web"\n', inventory=_inventory()) == []
    assert errors(RULE + 'hosts = "@wbe"\n', inventory=_inventory()) == [
        'alerts.toml: rules[0].hosts: rule "HighCPU": unknown group "wbe" in selector "@wbe" (known groups: all, db, web)'
    ]


def test_remediation_tasks_and_params_are_checked_when_tasks_are_known() -> None:
    tasks = load_config(CONFIGS).tasks
    text = RULE + 'remediate = { task = "disk-usage", params = { mount = "/", depth = 2 } }\n'
    assert errors(text, tasks=tasks) == [
        'alerts.toml: rules[0].remediate.params.depth: rule "HighCPU": task "disk-usage" has no parameter "depth" '
        "(its params: mount)"
    ]
    missing = errors(RULE + 'remediate = { task = "clean-all" }\n', tasks=tasks)
    assert len(missing) == 1 and missing[0].startswith(
        'alerts.toml: rules[0].remediate.task: rule "HighCPU": unknown task "clean-all" (tasks: '
    )
    assert errors(RULE + 'remediate = { task = "clean-tmp" }\n') == []
    assert errors(RULE + "remediate = { params = {} }\n") == [
        'alerts.toml: rules[0].remediate.task: rule "HighCPU": missing required key'
    ]
