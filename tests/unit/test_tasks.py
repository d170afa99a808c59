"""Task parameters and rendering: typed values, quoting, secrets kept out of command lines."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from fleetdeck.core.config import load_config
from fleetdeck.core.tasks import ParamError, bind_params, plan_task
from fleetdeck.core.tasks.template import substitute

TASKS = """
[tasks.disk-usage]
command = "df -h {mount}"
params.mount = { type = "str", default = "/", pattern = "^/" }

[tasks.restart]
dangerous = true
batches = [1, "25%", "100%"]
max_fail = "10%"
params.service = { type = "choice", choices = ["nginx", "app"] }
params.count = { type = "int", default = 3, min = 1, max = 5 }
params.force = { type = "bool", default = false }
[[tasks.restart.steps]]
name = "restart"
command = "systemctl restart {service}"
sudo = true
[[tasks.restart.steps]]
name = "verify"
command = "systemctl is-active {service} && echo {count} {force} on {host}"
retries = 3

[tasks.login]
command = "curl -u admin:{token} http://{address}:{port}/ {flags}"
params.token = { type = "secret" }
params.flags = { type = "str", default = "-s -f", raw = true }

[tasks.ship]
script = "scripts/run.sh"
args = ["{dir}", "{vars.env}"]
params.dir = { type = "str" }
"""


@pytest.fixture
def config(tmp_path: Path):
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "run.sh").write_text('#!/bin/sh\necho "$@"\n')
    (tmp_path / "hosts.toml").write_text(
        '[hosts.h1]\naddress = "10.0.0.1"\nvars = { env = "prod" }\n[hosts.h2]\naddress = "10.0.0.2"\n'
    )
    (tmp_path / "tasks.toml").write_text(TASKS)
    return load_config(tmp_path)


def test_values_are_shell_quoted(config) -> None:
    task = config.tasks["disk-usage"]
    params = bind_params(task, {"mount": "/var/lib/my data; rm -rf /"}, env={})
    [plan] = plan_task(task, config.inventory.select("h1"), params)
    assert plan.steps[0].command == "df -h '/var/lib/my data; rm -rf /'"
    assert shlex.split(plan.steps[0].command)[-1] == "/var/lib/my data; rm -rf /"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"mount": "var"}, 'param "mount": "var" does not match pattern ^/'),
        ({"mnt": "/"}, 'unknown param "mnt" (task disk-usage takes: mount)'),
    ],
)
def test_bad_values_name_the_param_and_rule(config, given: dict[str, str], message: str) -> None:
    with pytest.raises(ParamError) as info:
        bind_params(config.tasks["disk-usage"], given, env={})
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"service": "apache"}, 'param "service": "apache" is not one of: nginx, app'),
        ({"service": "app", "count": "many"}, 'param "count": expected an integer, got "many"'),
        ({"service": "app", "count": "9"}, 'param "count": 9 is above the maximum 5'),
        ({"service": "app", "force": "maybe"}, 'param "force": expected true or false, got "maybe"'),
        (
            {},
            'missing required param "service" (one of: nginx, app); give -p service=VALUE or set '
            "FLEETDECK_PARAM_SERVICE",
        ),
    ],
)
def test_typed_params(config, given: dict[str, str], message: str) -> None:
    with pytest.raises(ParamError) as info:
        bind_params(config.tasks["restart"], given, env={})
    assert str(info.value) == message


def test_steps_sudo_and_builtins(config) -> None:
    task = config.tasks["restart"]
    params = bind_params(task, {"service": "nginx", "force": "yes"}, env={})
    [plan] = plan_task(task, config.inventory.select("h2"), params)
    assert [s.command for s in plan.steps] == [
        "sudo -n -- sh -c 'systemctl restart nginx'",
        "systemctl is-active nginx && echo 3 true on h2",
    ]
    assert plan.steps[1].step.retries == 3
    assert task.batches == (1, "25%", "100%") and task.max_fail == "10%"


def test_secret_never_in_command_line_and_comes_from_env(config) -> None:
    task = config.tasks["login"]
    params = bind_params(task, {}, env={"FLEETDECK_SECRET_TOKEN": "s3cr3t"})
    assert params.masked() == {"token": "***", "flags": "-s -f"}
    [plan] = plan_task(task, config.inventory.select("h1"), params)
    step = plan.steps[0]
    assert "s3cr3t" not in step.command
    assert step.secrets == ("token",)
    assert "-s -f" in step.command  # raw params are not quoted
    # The rendered line really reads the secret from stdin and uses it.
    shown = step.command.replace("curl", "echo curl")
    out = subprocess.run(["sh", "-c", shown], input="s3cr3t\n", capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "curl -u admin:s3cr3t http://10.0.0.1:22/ -s -f"


def test_script_step_pipes_the_file_with_quoted_args(config) -> None:
    task = config.tasks["ship"]
    params = bind_params(task, {"dir": "/srv/my app"}, env={})
    plans = plan_task(task, config.inventory.select("h1"), params)
    step = plans[0].steps[0]
    assert step.command == "sh -s -- '/srv/my app' prod"
    assert step.script is not None and step.script.name == "run.sh"
    out = subprocess.run(["sh", "-c", step.command], stdin=step.script.open("rb"), capture_output=True, check=True)
    assert out.stdout == b"/srv/my app prod\n"
    with pytest.raises(ParamError, match='host h2 has no variable "env"'):
        plan_task(task, config.inventory.select("h2"), params)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("awk '{print $1}' {x}", "awk '{print $1}' X"),
        ("echo ${HOME} {x}", "echo ${HOME} X"),
        ("echo {{x}} {x}", "echo {x} X"),
        ("f() { echo; }; backup_{x}", "f() { echo; }; backup_X"),
        ("if [ a ]; then {x}; fi }}", "if [ a ]; then X; fi }}"),
    ],
)
def test_template_leaves_shell_braces_alone(template: str, expected: str) -> None:
    assert substitute(template, lambda name: name.upper()) == expected
