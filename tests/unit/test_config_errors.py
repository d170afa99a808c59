"""Every bad-input case of the config names the file, the key path, what was found and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetdeck.core.config import load_config
from fleetdeck.core.errors import ConfigError


def write(tmp_path: Path, hosts: str | None = None, tasks: str | None = None) -> Path:
    if hosts is not None:
        (tmp_path / "hosts.toml").write_text(hosts)
    if tasks is not None:
        (tmp_path / "tasks.toml").write_text(tasks)
    return tmp_path


def errors(tmp_path: Path, hosts: str | None = None, tasks: str | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, hosts, tasks))
    return [str(i) for i in info.value.issues]


def test_port_of_wrong_type_names_file_path_found_and_expected(tmp_path: Path) -> None:
    assert errors(tmp_path, '[hosts.web01]\nport = "ssh"\n') == [
        'hosts.toml: hosts.web01.port: expected an integer 1-65535, got "ssh"'
    ]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[hosts.web01]\nport = 70000\n",
            "hosts.toml: hosts.web01.port: expected an integer 1-65535, got 70000",
        ),
        (
            "[hosts.web01]\nport = true\n",
            "hosts.toml: hosts.web01.port: expected an integer 1-65535, got true",
        ),
        ("[hosts.web01]\nuser = 5\n", "hosts.toml: hosts.web01.user: expected a string, got 5"),
        ('[hosts.web01]\ngroups = "web"\n', 'hosts.toml: hosts.web01.groups: expected an array, got "web"'),
        (
            "[hosts.web01]\nconnect_timeout = 0\n",
            "hosts.toml: hosts.web01.connect_timeout: expected a number of seconds > 0, got 0",
        ),
        (
            '[defaults]\nhost_key_policy = "yes"\n',
            'hosts.toml: defaults.host_key_policy: expected one of "strict" or "accept-new", got "yes"',
        ),
        (
            '[hosts."web[01-03]"]\ntransport = "telnet"\n',
            'hosts.toml: hosts."web[01-03]".transport: expected one of "ssh" or "local", got "telnet"',
        ),
        (
            "[hosts.web01]\nvars = { a = [1] }\n",
            "hosts.toml: hosts.web01.vars.a: expected a string, number or boolean, got an array",
        ),
        ('hosts = "x"\n', 'hosts.toml: hosts: expected a table, got "x"'),
    ],
)
def test_wrong_types(tmp_path: Path, toml: str, message: str) -> None:
    assert errors(tmp_path, toml) == [message]


def test_unknown_key_suggests_the_close_one_and_lists_allowed(tmp_path: Path) -> None:
    [msg] = errors(tmp_path, '[hosts.web01]\nadress = "10.0.0.1"\n')
    assert msg.startswith('hosts.toml: hosts.web01.adress: unknown key (did you mean "address"?); allowed keys: ')
    assert "identity_file" in msg


def test_unknown_top_level_table(tmp_path: Path) -> None:
    [msg] = errors(tmp_path, "[host.web01]\n")
    assert msg.startswith('hosts.toml: host: unknown key (did you mean "hosts"?)')


def test_unknown_key_in_task_step(tmp_path: Path) -> None:
    tasks = '[tasks.t]\n[[tasks.t.steps]]\ncommand = "true"\ntimout = 5\n'
    [msg] = errors(tmp_path, None, tasks)
    assert msg.startswith('tasks.toml: tasks.t.steps[0].timout: unknown key (did you mean "timeout"?)')


def test_toml_syntax_error_gives_file_and_line(tmp_path: Path) -> None:
    [msg] = errors(tmp_path, '[hosts.web01]\naddress = "10.0.0.1"\nport 22\n')
    assert msg.startswith("hosts.toml:3: invalid TOML: ")
    assert "column" in msg


def test_all_errors_reported_at_once_across_files(tmp_path: Path) -> None:
    hosts = '[hosts.a]\nport = "x"\n[hosts.b]\nuser = 1\nbogus = 2\n'
    tasks = '[tasks.t]\ncommand = "echo {nope}"\n[tasks.u]\ntimeout = -1\ncommand = "true"\n'
    msgs = errors(tmp_path, hosts, tasks)
    assert len(msgs) == 3 + 2
    assert any(m.startswith("tasks.toml: tasks.t.command: unknown placeholder {nope}") for m in msgs)
    assert "tasks.toml: tasks.u.timeout: expected a number of seconds > 0, got -1" in msgs


def test_unknown_jump_host_and_self_jump(tmp_path: Path) -> None:
    msgs = errors(tmp_path, '[hosts.a]\njump = "nowhere"\n')
    assert msgs == ['hosts.toml: hosts.a.jump: unknown jump host "nowhere"']
    msgs = errors(tmp_path, '[defaults]\njump = "bastion"\n[hosts.bastion]\n[hosts.web]\n')
    assert msgs == ['hosts.toml: hosts.bastion.jump: jump loop: bastion -> bastion (set jump = "" on the jump host)']


def test_bad_node_set_key(tmp_path: Path) -> None:
    [msg] = errors(tmp_path, '[hosts."web[05-01]"]\n')
    assert msg.startswith('hosts.toml: hosts."web[05-01]": bad node set "web[05-01]"')


def test_group_cycle(tmp_path: Path) -> None:
    msgs = errors(tmp_path, '[groups.a]\nchildren = ["b"]\n[groups.b]\nchildren = ["a"]\n[hosts.h]\ngroups = ["a"]\n')
    assert any("group cycle: " in m for m in msgs)


def test_task_shape_errors(tmp_path: Path) -> None:
    tasks = """
[tasks.both]
command = "true"
steps = [{ command = "true" }]
[tasks.none]
description = "nothing to run"
[tasks.stepboth]
steps = [{ command = "true", script = "x.sh" }]
[tasks.missing-script]
script = "scripts/nope.sh"
[tasks.escape]
script = "../outside.sh"
"""
    msgs = errors(tmp_path, None, tasks)
    assert 'tasks.toml: tasks.both: use either "command"/"script" or [[steps]], not both' in msgs
    assert 'tasks.toml: tasks.none: a task needs "command", "script" or at least one [[steps]] table' in msgs
    assert 'tasks.toml: tasks.stepboth.steps[0]: a step runs either "command" or "script", not both' in msgs
    assert any(
        m.startswith('tasks.toml: tasks.missing-script.script: script "scripts/nope.sh" not found') for m in msgs
    )
    assert any(
        m.startswith('tasks.toml: tasks.escape.script: script "../outside.sh" is outside the config dir') for m in msgs
    )


def test_param_definition_errors(tmp_path: Path) -> None:
    tasks = """
[tasks.t]
command = "echo {a} {b} {c} {d}"
params.a = { type = "choice" }
params.b = { type = "int", default = "ten" }
params.c = { type = "str", default = "var", pattern = "^/" }
params.d = { type = "secret", default = "hunter2" }
[tasks.u]
command = "echo {e}"
params.e = { type = "float" }
"""
    msgs = errors(tmp_path, None, tasks)
    assert 'tasks.toml: tasks.t.params.a.choices: a "choice" parameter needs a non-empty choices list' in msgs
    assert 'tasks.toml: tasks.t.params.b.default: expected an integer, got "ten"' in msgs
    assert 'tasks.toml: tasks.t.params.c.default: "var" does not match pattern ^/' in msgs
    assert any(m.startswith("tasks.toml: tasks.t.params.d.default: a secret cannot have a default") for m in msgs)
    assert any(m.startswith('tasks.toml: tasks.u.params.e.type: expected one of "str", "int"') for m in msgs)


def test_bad_batch_and_max_fail(tmp_path: Path) -> None:
    tasks = '[tasks.t]\ncommand = "true"\nbatches = [1, "150%", "x"]\nmax_fail = -1\n'
    msgs = errors(tmp_path, None, tasks)
    expected = 'expected a number of hosts or a percentage such as "25%"'
    assert f'tasks.toml: tasks.t.batches[1]: {expected}, got "150%"' in msgs
    assert f'tasks.toml: tasks.t.batches[2]: {expected}, got "x"' in msgs
    assert f"tasks.toml: tasks.t.max_fail: {expected}, got -1" in msgs


def test_task_targets_unknown_group(tmp_path: Path) -> None:
    msgs = errors(tmp_path, '[hosts.a]\ngroups = ["web"]\n', '[tasks.t]\ncommand = "true"\ntargets = "@dbs"\n')
    assert len(msgs) == 1
    assert msgs[0].startswith('tasks.toml: tasks.t.targets: unknown group "dbs"')


def test_missing_config_dir_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope")
    assert str(info.value) == f"{tmp_path / 'nope'}: config directory not found (chosen by --config)"


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "hosts.toml").write_bytes(b'[hosts.a]\naddress = "\xff"\n')
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(info.value) == "hosts.toml: not valid UTF-8 (byte 21)"
