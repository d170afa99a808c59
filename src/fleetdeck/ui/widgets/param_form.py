"""The parameter form of a task: one typed input per parameter, checked by the engine's own rules as you type.

Each parameter gets the widget its type calls for: a text box (masked for secrets), a `Select` for choices
and a `Switch` for booleans. Every change is checked with :func:`fleetdeck.core.tasks.params.check_value`,
the function the engine uses when it binds the values, so the form and `fleetdeck run -p` accept and reject
exactly the same input and say so in the same words. The form hands out text values as the command line
would give them; empty optional fields are left out so the task's default applies.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch

from fleetdeck.core.tasks.model import Param, Task
from fleetdeck.core.tasks.params import check_value, env_name


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


class ParamForm(Vertical):
    """Inputs for every parameter of `task`, with inline validation messages.

    Args:
        task: The task whose parameters to ask for.
        env: Where ``FLEETDECK_PARAM_*`` / ``FLEETDECK_SECRET_*`` values may come from (as the engine
            reads them); a required field left empty is fine when its variable is set.
        id: Widget id.
        classes: CSS classes.
    """

    DEFAULT_CSS = """
    ParamForm { height: auto; }
    ParamForm > .param-label { margin-top: 1; text-style: bold; }
    ParamForm > .param-help { color: $muted; }
    ParamForm > .param-error { color: $health-crit; height: auto; }
    ParamForm > .param-error.-empty { display: none; }
    ParamForm > Switch { width: auto; }
    ParamForm > .param-none { color: $muted; }
    """

    class Changed(Message):
        """A value changed; the owner refreshes whatever depends on the values (the dry-run preview)."""

        def __init__(self, form: ParamForm) -> None:
            super().__init__()
            self.form = form

        @property
        def control(self) -> ParamForm:
            """The form that changed."""
            return self.form

    def __init__(
        self,
        task: Task,
        *,
        env: Mapping[str, str] | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.spec = task
        """The task the form is for."""
        self._env = os.environ if env is None else env
        self._ids = {name: f"param-{index}" for index, name in enumerate(task.params)}
        self._touched: set[str] = set()

    def compose(self) -> ComposeResult:
        """A label, a help line, the input and an error line per parameter."""
        if not self.spec.params:
            yield Static("This task takes no parameters.", classes="param-none")
        for name, param in self.spec.params.items():
            wid = self._ids[name]
            star = " *" if self._required(param) else ""
            yield Label(f"{name}{star}  ({param.describe()})", classes="param-label", markup=False)
            if param.description:
                yield Static(param.description, classes="param-help", markup=False)
            yield self._input(param, wid)
            yield Static("", id=f"{wid}-error", classes="param-error -empty", markup=False)

    def _input(self, param: Param, wid: str) -> Widget:
        if param.type == "choice":
            options = [(str(choice), str(choice)) for choice in param.choices]
            default = _text(param.default) if param.default is not None else None
            return Select(
                options,
                value=default if default is not None else Select.NULL,
                allow_blank=default is None,
                prompt=f"choose {param.name}",
                id=wid,
            )
        if param.type == "bool":
            return Switch(value=bool(param.default), id=wid)
        placeholder = param.description or param.describe()
        variable = env_name(param.name, param.type == "secret")
        if variable in self._env:
            placeholder = f"from ${variable} when left empty"
        return Input(
            value=_text(param.default),
            placeholder=placeholder,
            password=param.type == "secret",
            id=wid,
        )

    def _required(self, param: Param) -> bool:
        """Must the user type something? Not when a default or the environment supplies it."""
        if not param.required or param.default is not None or param.type == "bool":
            return False
        return env_name(param.name, param.type == "secret") not in self._env

    def raw_value(self, name: str) -> str:
        """The text a parameter's widget holds ("" when empty or no choice made)."""
        widget = self.query_one(f"#{self._ids[name]}")
        if isinstance(widget, Switch):
            return "true" if widget.value else "false"
        if isinstance(widget, Select):
            value = widget.value
            return "" if value is Select.NULL or value is None else str(value)
        assert isinstance(widget, Input)
        return widget.value

    def set_value(self, name: str, value: str) -> None:
        """Fill a parameter's widget (tests and presets)."""
        widget = self.query_one(f"#{self._ids[name]}")
        if isinstance(widget, Switch):
            widget.value = value.strip().lower() in ("true", "yes", "on", "1")
        elif isinstance(widget, Select):
            widget.value = value
        else:
            assert isinstance(widget, Input)
            widget.value = value

    def values(self) -> dict[str, str]:
        """Values as ``-p NAME=VALUE`` would give them; empty fields are left out so defaults apply."""
        out: dict[str, str] = {}
        for name, param in self.spec.params.items():
            text = self.raw_value(name)
            if text or param.type == "bool":
                out[name] = text
        return out

    def error_for(self, name: str) -> str | None:
        """What is wrong with a parameter's current value, in the engine's words; `None` when fine."""
        param = self.spec.params[name]
        text = self.raw_value(name)
        if not text:
            if self._required(param):
                return f"required: {param.describe()}"
            return None
        try:
            check_value(param, text)
        except ValueError as exc:
            return str(exc)
        return None

    def errors(self) -> dict[str, str]:
        """Every parameter with a problem."""
        found = {name: self.error_for(name) for name in self.spec.params}
        return {name: error for name, error in found.items() if error is not None}

    def validate_all(self) -> bool:
        """Show every problem (also in fields not touched yet); True when there is none."""
        self._touched.update(self.spec.params)
        for name in self.spec.params:
            self._show_error(name)
        return not self.errors()

    def focus_first_error(self) -> None:
        """Put the cursor where the first problem is."""
        for name in self.spec.params:
            if self.error_for(name) is not None:
                self.query_one(f"#{self._ids[name]}").focus()
                return

    def _show_error(self, name: str) -> None:
        error = self.error_for(name) if name in self._touched else None
        line = self.query_one(f"#{self._ids[name]}-error", Static)
        line.update(f"✘ {error}" if error else "")
        line.set_class(error is None, "-empty")
        self.query_one(f"#{self._ids[name]}").set_class(error is not None, "-invalid")

    def _name_of(self, widget: Widget | None) -> str | None:
        if widget is None:
            return None
        for name, wid in self._ids.items():
            if widget.id == wid:
                return name
        return None

    def on_input_changed(self, event: Input.Changed) -> None:
        """Check the value as it is typed."""
        self._changed(event.input)

    def on_select_changed(self, event: Select.Changed) -> None:
        """Check a choice."""
        self._changed(event.select)

    def on_switch_changed(self, event: Switch.Changed) -> None:
        """A boolean flipped."""
        self._changed(event.switch)

    def _changed(self, widget: Widget) -> None:
        name = self._name_of(widget)
        if name is None:
            return
        self._touched.add(name)
        self._show_error(name)
        self.post_message(self.Changed(self))
