"""``fleetdeck init DIR``: write a commented starting config that passes ``fleetdeck check``.

The inventory template documents every key of ``hosts.toml`` (a test keeps it in step with the
schema); the tasks and scripts are copies of the bundled samples. Nothing is ever overwritten.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fleetdeck.core.errors import UsageError
from fleetdeck.core.paths import bundled_configs_dir

HOSTS_TEMPLATE = """\
# fleetdeck inventory. Check it with: fleetdeck --config {dir} check
#
# Selectors (fleetdeck hosts SELECTOR, run -t SELECTOR):
#   web01   web[01-20,30]   web*   @group   tag:dc=fra1   ~regex   all
#   a,b = union   a&b = both   !a = except   e.g.  @web&@prod,!web03

[defaults]                       # applies to every host unless the host sets its own value
# user = "deploy"                # default: your local user name
port = 22
# identity_file = "~/.ssh/id_ed25519"    # default: your SSH agent and ~/.ssh keys
known_hosts = "~/.ssh/known_hosts"
host_key_policy = "strict"       # strict | accept-new (new keys go to fleetdeck's own known_hosts)
connect_timeout = 10             # seconds for TCP + key exchange + authentication
# jump = "bastion"               # reach hosts through another host of this inventory
# transport = "ssh"              # ssh | local
# health = "auto"                # auto (psutil here, SSH probe elsewhere) | prometheus | off
# tags = {{ dc = "fra1" }}        # key/value labels, selectable as tag:dc=fra1
# vars = {{ env = "staging" }}    # variables for tasks: {{vars.env}}

[hosts.localhost]
transport = "local"              # this machine, no SSH: commands run here, health via psutil
groups = ["local"]
description = "this machine"

# [hosts.bastion]
# address = "bastion.example.com"
# jump = ""                      # the jump host itself is reached directly
#
# [hosts."web[01-20]"]           # a node set declares many hosts at once
# address = "{{name}}.example.com" # {{name}} is each host's name
# user = "deploy"
# port = 22
# identity_file = "~/.ssh/deploy_ed25519"
# known_hosts = "~/.ssh/known_hosts"
# host_key_policy = "strict"
# connect_timeout = 10
# jump = "bastion"
# transport = "ssh"
# health = "auto"
# groups = ["web", "prod"]
# tags = {{ dc = "fra1" }}
# vars = {{ http_port = 8080 }}
# description = "front-end web servers"
#
# [hosts.web05]                  # a later entry adjusts one host of a node set
# port = 2222
#
# [prometheus]                  # hosts with health = "prometheus" read node_exporter data from here
# url = "http://prometheus.example.com:9090"
# instance = "{{address}}:9100"   # the instance label of each host
#
# [groups.prod]
# vars = {{ env = "production" }} # group variables; host vars win, child groups win over parents
# children = ["web"]             # every host in web is also in prod
# description = "production"
"""


def write_sample_config(target: Path) -> list[Path]:
    """Write ``hosts.toml``, ``tasks.toml`` and ``scripts/`` into ``target``; refuse to overwrite.

    Raises:
        UsageError: when any of the files already exists (nothing is written then).
    """
    bundled = bundled_configs_dir()
    scripts = sorted((bundled / "scripts").glob("*")) if (bundled / "scripts").is_dir() else []
    plan: list[tuple[Path, Path | str]] = [
        (target / "hosts.toml", HOSTS_TEMPLATE.format(dir=target)),
        (target / "tasks.toml", bundled / "tasks.toml"),
        *((target / "scripts" / s.name, s) for s in scripts),
    ]
    existing = [dest for dest, _ in plan if dest.exists()]
    if existing:
        names = ", ".join(str(p) for p in existing)
        raise UsageError(f"refusing to overwrite existing {names}; choose an empty directory")
    written: list[Path] = []
    for dest, source in plan:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, Path):
            shutil.copy2(source, dest)
        else:
            dest.write_text(source, encoding="utf-8")
        written.append(dest)
    return written
