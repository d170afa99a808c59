"""Saved tasks (runbooks): typed parameters, ordered steps, and the exact commands they expand to."""

from __future__ import annotations

from fleetdeck.core.tasks.model import Param, Step, Task, build_tasks
from fleetdeck.core.tasks.params import ParamError, bind_params
from fleetdeck.core.tasks.render import HostPlan, RenderedStep, plan_task

__all__ = [
    "HostPlan",
    "Param",
    "ParamError",
    "RenderedStep",
    "Step",
    "Task",
    "bind_params",
    "build_tasks",
    "plan_task",
]
