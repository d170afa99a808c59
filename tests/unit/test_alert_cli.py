"""``fleetdeck alerts`` and ``fleetdeck silence``: output, exit codes and the store they share with the daemon."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetdeck import cli
from fleetdeck.cli import alerts_cmd
from fleetdeck.core.alerts import AlertEngine, AlertsConfig, AlertStore, load_alerts
from fleetdeck.core.errors import ConfigIssue
from fleetdeck.core.health.sample import HealthSample


def _main(argv: list[str]) -> int:
    """``fleetdeck.cli.main`` once the commands are registered there; until then the same parsing and errors."""
    return cli.main(argv)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = _main(list(argv))
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "state"
    monkeypatch.setenv("FLEETDECK_STATE", str(path))
    monkeypatch.setenv("USER", "tester")
    monkeypatch.setenv("LOGNAME", "tester")
    yield path


def seed(state: Path) -> None:
    """What a daemon would have stored: HighCPU firing on web01, disk pending on two hosts."""
    issues: list[ConfigIssue] = []
    rules = load_alerts(
        {
            "rules": [
                {"name": "HighCPU", "expr": "cpu_pct > 85", "labels": {"team": "ops"},
                 "annotations": {"summary": "{host}: CPU {value:.0f}%"}},
                {"name": "Load", "expr": "load1 > 1", "for": "1h", "severity": "critical"},
            ]
        },
        None,
        issues,
    )  # fmt: skip
    assert issues == []
    engine = AlertEngine(rules)
    engine.evaluate(HealthSample("web01", 0, "up", cpu_pct=91.6, load1=1.5), now=100)
    engine.evaluate(HealthSample("db01", 0, "up", cpu_pct=10.0, load1=1234.5), now=100)
    with AlertStore(state) as store:
        store.save(engine.records())


def test_alerts_lists_the_store(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "alerts") == (0, "", "no alerts\n")
    seed(state)
    code, out, err = run(capsys, "alerts")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["ALERT", "STATE", "SEVERITY", "HOST", "SINCE", "VALUE", "SUMMARY"]
    assert lines[1].split()[:4] == ["HighCPU@web01", "firing", "warning", "web01"]
    assert lines[1].split()[-3:] == ["web01:", "CPU", "92%"] and "91.6" in lines[1]
    assert [line.split()[0] for line in lines[2:]] == ["Load@db01", "Load@web01"]
    assert "1,234" in lines[2], "big values are shown whole"


def test_alerts_json(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(state)
    code, out, _ = run(capsys, "alerts", "--json")
    docs = json.loads(out)
    assert code == 0 and [d["key"] for d in docs] == ["HighCPU@web01", "Load@db01", "Load@web01"]
    assert docs[0] == {
        "key": "HighCPU@web01",
        "rule": "HighCPU",
        "host": "web01",
        "mount": None,
        "state": "firing",
        "severity": "warning",
        "value": 91.6,
        "summary": "web01: CPU 92%",
        "labels": {"alertname": "HighCPU", "host": "web01", "severity": "warning", "team": "ops"},
        "annotations": {"summary": "web01: CPU 92%"},
        "since": "1970-01-01T00:01:40.000Z",
        "active_since": "1970-01-01T00:01:40.000Z",
        "fired_at": "1970-01-01T00:01:40.000Z",
        "silenced": False,
        "acknowledged_by": None,
        "acknowledged_at": None,
        "flapping": False,
        "inhibited": False,
        "inhibited_by": None,
    }


def test_silence_add_list_expire(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(state)
    code, out, err = run(capsys, "silence", "add", "rule=High*", "team=ops", "--for", "2h", "--reason", "deploy")
    assert (code, err) == (0, "")
    assert out.startswith("silence 1 until ") and out.endswith(
        " (2h): rule=High* team=ops; matches 1 current alert(s)\n"
    )

    code, out, _ = run(capsys, "alerts")
    assert code == 0 and "HighCPU@web01" not in out
    code, out, err = run(capsys, "alerts", "--all")
    assert "firing (silenced)" in out and err == ""
    assert run(capsys, "alerts")[2] == "1 silenced alert(s) not shown; --all shows them\n"

    code, out, _ = run(capsys, "silence", "list")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "STATE", "MATCHERS", "ENDS", "CREATOR", "REASON"]
    assert lines[1].split()[:4] == ["1", "active", "rule=High*", "team=ops"]
    assert "left)" in lines[1] and lines[1].split()[-2:] == ["tester", "deploy"]
    (doc,) = json.loads(run(capsys, "silence", "list", "--json")[1])
    assert (doc["id"], doc["matchers"], doc["active"], doc["creator"]) == (
        1,
        ["rule=High*", "team=ops"],
        True,
        "tester",
    )

    assert run(capsys, "silence", "expire", "1") == (0, "silence 1 expired: rule=High* team=ops\n", "")
    assert run(capsys, "silence", "expire", "1")[1].startswith("silence 1 had already expired at ")
    assert run(capsys, "silence", "list") == (0, "", "no silences in force\n")
    assert json.loads(run(capsys, "silence", "list", "--all", "--json")[1])[0]["active"] is False
    assert json.loads(run(capsys, "alerts", "--json")[1])[0]["silenced"] is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["silence", "add", "host", "--for", "1h", "--reason", "r"],
            'fleetdeck: bad matcher "host": expected NAME=VALUE',
        ),
        (["silence", "add", "host=*", "--for", "1h", "--reason", "r"], "fleetdeck: these matchers would silence every"),
        (
            ["silence", "add", "host=a", "--for", "2 hours", "--reason", "r"],
            'fleetdeck: --for: expected a duration such as "30s", "5m" or "1h", got "2 hours"',
        ),
        (["silence", "add", "host=a", "--for", "1h", "--reason", ""], "fleetdeck: a silence needs a reason"),
        (["silence", "expire", "4"], "fleetdeck: no silence 4; silences in force: none"),
        (["alerts", "ack", "Nope@x"], 'fleetdeck: no firing alert "Nope@x"; firing now: HighCPU@web01'),
        (["alerts", "-t", "web01"], "fleetdeck: -t/--targets only works with --eval"),
    ],
)
def test_usage_errors_exit_64(state: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    seed(state)
    code, out, err = run(capsys, *argv)
    assert (code, out) == (64, "")
    assert err.startswith(message)


def test_required_options_are_enforced_by_the_parser(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "silence", "add", "host=a", "--reason", "r")
    assert code == 64 and "the following arguments are required: --for" in err


def test_ack_marks_the_stored_alert(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(state)
    assert run(capsys, "alerts", "ack", "HighCPU@web01") == (
        0,
        "acknowledged HighCPU@web01 as tester: web01: CPU 92%\n",
        "",
    )
    assert "firing (ack tester)" in run(capsys, "alerts")[1]
    run(capsys, "alerts", "ack", "HighCPU@web01", "--by", "ann")
    assert json.loads(run(capsys, "alerts", "--json")[1])[0]["acknowledged_by"] == "ann"
    code, _, err = run(capsys, "alerts", "ack", "Load@db01")
    assert code == 64 and "firing now: HighCPU@web01" in err, "pending alerts cannot be acknowledged"


def _local_config(tmp_path: Path, alerts: str) -> Path:
    config = tmp_path / "config"
    config.mkdir()
    (config / "hosts.toml").write_text(
        '[hosts.here]\ntransport = "local"\n[hosts.off]\ntransport = "local"\nhealth = "off"\n'
    )
    (config / "alerts.toml").write_text(alerts)
    return config


def test_eval_checks_the_rules_once_on_fresh_health(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _local_config(
        tmp_path,
        '[[rules]]\nname = "Always"\nexpr = \'disk_used_pct{mount="/"} >= 0\'\n'
        '[[rules]]\nname = "Slow"\nexpr = "mem_used_pct >= 0"\nfor = "1h"\n'
        '[[rules]]\nname = "Never"\nexpr = "cpu_pct > 100"\n',
    )
    code, out, err = run(capsys, "--config", str(config), "alerts", "--eval", "--json")
    docs = json.loads(out)
    assert code == 1, err
    assert [(d["key"], d["state"]) for d in docs] == [("Always@here:/", "firing"), ("Slow@here", "pending")]
    assert docs[1]["value"] is not None and 0 <= docs[1]["value"] <= 100
    with AlertStore(state) as store:
        assert store.active() == [], "a one-shot evaluation stores nothing"

    code, out, err = run(capsys, "--config", str(config), "alerts", "--eval", "-t", "here")
    assert code == 1 and out.splitlines()[1].split()[:2] == ["Always@here:/", "firing"]
    assert err == alerts_cmd.EVAL_NOTE + "\n"
    assert run(capsys, "--config", str(config), "alerts", "--eval", "-t", "off")[:2] == (64, "")


def test_eval_reports_alerts_toml_problems_as_config_errors(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _local_config(tmp_path, '[[rules]]\nname = "X"\nexpr = "cpu_pct >> 1"\n')
    assert run(capsys, "--config", str(config), "alerts", "--eval") == (
        78,
        "",
        'fleetdeck: alerts.toml: rules[0].expr: rule "X": expected a number at column 10, got ">"\n',
    )


def test_alerts_config_prefers_the_loaded_config(tmp_path: Path) -> None:
    class Loaded:
        alerts = AlertsConfig(())

    assert alerts_cmd.alerts_config(Loaded()) is Loaded.alerts  # type: ignore[arg-type]
