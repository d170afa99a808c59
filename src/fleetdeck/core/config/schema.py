"""The shape of each config file, as pydantic models that reject unknown keys.

These models describe the files as written (``hosts.toml``, ``tasks.toml``); the inventory and task
modules turn them into resolved objects (defaults applied, node sets expanded, groups walked).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fleetdeck.core.config.fields import (
    CountOrPercent,
    DelaySeconds,
    Port,
    Regex,
    Retries,
    Scalar,
    Seconds,
)

HostKeyPolicy = Literal["strict", "accept-new"]
HealthMode = Literal["auto", "prometheus", "off"]
Transport = Literal["ssh", "local"]
ParamType = Literal["str", "int", "bool", "choice", "secret"]


class Strict(BaseModel):
    """Base: unknown keys are errors and values are never coerced between TOML types."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ConnectionSettings(Strict):
    """Settings that ``[defaults]`` and each host may set; a host's own value wins."""

    user: str | None = None
    port: Port | None = None
    identity_file: str | None = None
    known_hosts: str | None = None
    host_key_policy: HostKeyPolicy | None = None
    connect_timeout: Seconds | None = None
    jump: str | None = None
    transport: Transport | None = None
    health: HealthMode | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    vars: dict[str, Scalar] = Field(default_factory=dict)


class HostEntry(ConnectionSettings):
    """One ``[hosts.NAME]`` table; NAME may be a node set such as ``web[01-20]``."""

    address: str | None = None
    groups: list[str] = Field(default_factory=list)
    description: str = ""


class GroupEntry(Strict):
    """One ``[groups.NAME]`` table: variables and child groups (as in Ansible inventories)."""

    vars: dict[str, Scalar] = Field(default_factory=dict)
    children: list[str] = Field(default_factory=list)
    description: str = ""


class PrometheusSettings(Strict):
    """``[prometheus]``: where hosts with ``health = "prometheus"`` get their numbers."""

    url: str
    instance: str = "{address}:9100"
    rate_window: str = "1m"
    matchers: str = ""


class HostsFile(Strict):
    """``hosts.toml``: the inventory."""

    defaults: ConnectionSettings = Field(default_factory=ConnectionSettings)
    prometheus: PrometheusSettings | None = None
    hosts: dict[str, HostEntry] = Field(default_factory=dict)
    groups: dict[str, GroupEntry] = Field(default_factory=dict)


class ParamEntry(Strict):
    """A typed task parameter: ``params.mount = { type = "str", default = "/" }``."""

    type: ParamType = "str"
    description: str = ""
    default: Scalar | None = None
    required: bool | None = None
    pattern: Regex | None = None
    choices: list[Scalar] | None = None
    min: int | None = None
    max: int | None = None
    raw: bool = False


class StepEntry(Strict):
    """One ordered step: a shell ``command`` or a local ``script`` shipped to the host at run time."""

    name: str | None = None
    command: str | None = None
    script: str | None = None
    interpreter: str | None = None
    upload: bool = False
    args: list[str] = Field(default_factory=list)
    sudo: bool | None = None
    sudo_user: str | None = None
    timeout: Seconds | None = None
    no_output_timeout: Seconds | None = None
    retries: Retries = 0
    retry_delay: DelaySeconds = 5.0
    ignore_errors: bool = False


class TaskEntry(Strict):
    """One ``[tasks.NAME]`` table: either ``command``/``script`` directly or a list of ``steps``."""

    description: str = ""
    targets: str | None = None
    dangerous: bool = False
    command: str | None = None
    script: str | None = None
    interpreter: str | None = None
    upload: bool = False
    args: list[str] = Field(default_factory=list)
    sudo: bool = False
    sudo_user: str | None = None
    timeout: Seconds | None = None
    no_output_timeout: Seconds | None = None
    retries: Retries = 0
    retry_delay: DelaySeconds = 5.0
    steps: list[StepEntry] = Field(default_factory=list)
    on_failure: StepEntry | None = None
    batches: list[CountOrPercent] = Field(default_factory=list)
    max_fail: CountOrPercent | None = None
    params: dict[str, ParamEntry] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)


class TasksFile(Strict):
    """``tasks.toml``: saved tasks (runbooks)."""

    tasks: dict[str, TaskEntry] = Field(default_factory=dict)
