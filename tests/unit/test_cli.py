"""The command line: exit codes, stderr messages and output formats of the headless commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetdeck.cli import main

CONFIGS = Path(__file__).parents[2] / "configs"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_ok_on_bundled_samples(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--config", str(CONFIGS), "check")
    assert code == 0
    assert out.startswith(f"config OK: {CONFIGS} (1 hosts,")


def test_check_reports_every_error_with_exit_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "hosts.toml").write_text('[hosts.web01]\nport = "ssh"\n[hosts.web02]\nuser = 3\n')
    (tmp_path / "tasks.toml").write_text("[tasks.x\n")
    code, out, err = run(capsys, "--config", str(tmp_path), "check")
    assert code == 78
    assert out == ""
    assert err.splitlines() == [
        'fleetdeck: hosts.toml: hosts.web01.port: expected an integer 1-65535, got "ssh"',
        "fleetdeck: hosts.toml: hosts.web02.user: expected a string, got 3",
        "fleetdeck: tasks.toml:1: invalid TOML: Expected ']' at the end of a table declaration (column 9)",
    ]


def test_config_search_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env_dir, xdg = tmp_path / "env", tmp_path / "xdg"
    (xdg / "fleetdeck").mkdir(parents=True)
    env_dir.mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.delenv("FLEETDECK_CONFIG", raising=False)
    assert run(capsys, "locate")[1].splitlines()[0].split() == [
        "config",
        str(xdg / "fleetdeck"),
        "(from",
        "XDG_CONFIG_HOME)",
    ]
    monkeypatch.setenv("FLEETDECK_CONFIG", str(env_dir))
    assert run(capsys, "locate")[1].splitlines()[0].split()[1] == str(env_dir)
    assert run(capsys, "--config", str(CONFIGS), "locate")[1].splitlines()[0].split()[1] == str(CONFIGS)
    (xdg / "fleetdeck").rmdir()
    monkeypatch.delenv("FLEETDECK_CONFIG")
    assert run(capsys, "locate")[1].splitlines()[0].split()[-1] == "bundled)"


def test_hosts_json_and_unknown_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "hosts.toml").write_text('[hosts."web[01-03]"]\ngroups = ["web"]\n[hosts.db1]\ngroups = ["db"]\n')
    code, out, _ = run(capsys, "--config", str(tmp_path), "hosts", "@web,!web02", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["name"], r["address"], r["groups"]) for r in rows] == [
        ("web01", "web01", ["web"]),
        ("web03", "web03", ["web"]),
    ]
    code, _, err = run(capsys, "--config", str(tmp_path), "hosts", "@dbs")
    assert code == 64
    assert err.strip() == 'fleetdeck: unknown group "dbs" in selector "@dbs" (known groups: all, db, web)'


def test_tasks_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--config", str(CONFIGS), "tasks", "--json")
    assert code == 0
    tasks = {t["name"]: t for t in json.loads(out)}
    assert tasks["disk-usage"]["params"]["mount"] == {
        "type": "str",
        "default": "/",
        "required": False,
        "description": "mount point to report",
    }
    assert tasks["rolling-restart"]["dangerous"] is True


def test_run_dry_run_prints_exact_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--config", str(CONFIGS), "run", "disk-usage", "-p", "mount=/var/my dir", "--dry-run")
    assert code == 0
    assert out.splitlines() == [
        "# task disk-usage on 1 host (all)",
        "localhost (local)",
        "  [1/1 main] df -hP '/var/my dir'",
    ]


def test_run_dry_run_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--config", str(CONFIGS), "run", "top-memory", "-t", "localhost", "-p", "count=5", "--dry-run", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["hosts"][0]["steps"][0]["command"] == "ps -eo pid,user,rss,pcpu,comm --sort=-rss | head -n 5"
    assert data["params"] == {"count": 5}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "nope", "--dry-run"], 'fleetdeck: unknown task "nope" (tasks: disk-usage, top-memory,'),
        (
            ["run", "disk-usage", "-p", "mount=var", "--dry-run"],
            'fleetdeck: param "mount": "var" does not match pattern ^/',
        ),
        (["run", "top-memory", "-p", "count=0", "--dry-run"], 'fleetdeck: param "count": 0 is below the minimum 1'),
        (["run", "disk-usage", "-p", "mount", "--dry-run"], 'fleetdeck: bad parameter "mount": expected NAME=VALUE'),
        (
            ["run", "disk-usage", "-t", "web[01-02]", "--dry-run"],
            'fleetdeck: unknown hosts web[01-02] in selector "web[01-02]"',
        ),
        (["run", "disk-usage", "-t", "db*", "--dry-run"], 'fleetdeck: selector "db*" matches no hosts'),
    ],
)
def test_run_bad_input_exit_64(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, out, err = run(capsys, "--config", str(CONFIGS), *args)
    assert code == 64
    assert out == ""
    assert err.startswith(message)


def test_argparse_errors_use_exit_64(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 64
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_init_writes_config_that_checks_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "ops"
    code, _out, _ = run(capsys, "init", str(target))
    assert code == 0
    assert (target / "hosts.toml").is_file() and (target / "tasks.toml").is_file()
    assert (target / "scripts" / "backup-dir.sh").is_file()
    assert run(capsys, "--config", str(target), "check")[0] == 0
    before = (target / "hosts.toml").read_text()
    (target / "tasks.toml").unlink()
    code, _, err = run(capsys, "init", str(target))
    assert code == 64
    assert f"refusing to overwrite existing {target / 'hosts.toml'}" in err
    assert not (target / "tasks.toml").exists(), "init wrote some files although it refused"
    assert (target / "hosts.toml").read_text() == before


def test_init_template_documents_every_inventory_key() -> None:
    from fleetdeck.core.config.init import HOSTS_TEMPLATE
    from fleetdeck.core.config.schema import GroupEntry, HostEntry

    for key in [*HostEntry.model_fields, *GroupEntry.model_fields]:
        assert f"{key} =" in HOSTS_TEMPLATE, f"fleetdeck init does not document {key}"


def test_import_ssh_config_writes_hosts_toml_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "ssh_config"
    src.write_text("Host web1 web2\n  HostName %h.example.com\n  User deploy\n  Port 2222\n")
    out_file = tmp_path / "ops" / "hosts.toml"
    out_file.parent.mkdir()
    code, _, err = run(capsys, "import", "ssh-config", str(src), "-o", str(out_file))
    assert code == 0, err
    assert f"wrote {out_file} (2 hosts)" in err
    (out_file.parent / "tasks.toml").write_text("")
    code, out, _ = run(capsys, "--config", str(out_file.parent), "hosts", "--json")
    rows = json.loads(out)
    assert [(r["name"], r["address"], r["port"], r["user"]) for r in rows] == [
        ("web1", "web1.example.com", 2222, "deploy"),
        ("web2", "web2.example.com", 2222, "deploy"),
    ]
    code, _, err = run(capsys, "import", "ssh-config", str(src), "-o", str(out_file))
    assert code == 64 and f"{out_file} already exists" in err


def test_import_bad_ansible_inventory_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "inv.yml"
    bad.write_text("all:\n  hosts:\n    web1: {ansible_port: [\n")
    code, out, err = run(capsys, "import", "ansible", str(bad))
    assert code == 64 and out == ""
    assert err.startswith(f"fleetdeck: {bad}:")


def test_exec_and_run_on_this_machine_with_the_samples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLEETDECK_STATE", str(tmp_path / "state"))
    code, out, err = run(capsys, "--config", str(CONFIGS), "exec", "-t", "localhost", "--no-color", "--", "echo hi")
    assert code == 0, err
    assert out == "localhost | hi\n"
    code, out, err = run(capsys, "--config", str(CONFIGS), "run", "disk-usage", "--no-color")
    assert code == 0, err
    assert out.startswith("localhost | Filesystem")
    code, out, _ = run(capsys, "history", "--json")
    assert [r["task"] for r in json.loads(out)] == ["disk-usage", "exec"]
