"""The task picker: find a saved task, fill its parameters, see exactly what would run where, then run it.

Left, the tasks with their descriptions, ranked as you type by a small fuzzy matcher (each word of the
query a subsequence of the name, a tag or the description; Textual's own matcher treats a space as a
letter to find, so ``top mem`` would miss ``top-memory``). Right, the chosen task: its target selector
(prefilled from the marked hosts or the task's own targets) with the live list of matching hosts, the typed
parameter form, and a dry-run preview of the exact command lines per host, rendered by the engine itself
(`Engine.prepare_task(..., dry_run=True)`), so the preview cannot drift from what runs. Dangerous tasks ask
for their name to be typed before they start. An ad-hoc command box is one key away. Runs start through
:func:`~fleetdeck.ui.screens.run.open_run`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Button, Header, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from fleetdeck.core.errors import FleetdeckError
from fleetdeck.core.health import HealthSample
from fleetdeck.core.runner.gather import fold_hosts
from fleetdeck.core.runner.service import Engine, Prepared
from fleetdeck.core.tasks.model import Task
from fleetdeck.ui.run_bridge import RunBridge
from fleetdeck.ui.screens.run import open_run
from fleetdeck.ui.widgets.command_box import command_box
from fleetdeck.ui.widgets.confirm import TypeToConfirmModal
from fleetdeck.ui.widgets.key_footer import KeyFooter
from fleetdeck.ui.widgets.param_form import ParamForm
from fleetdeck.ui.widgets.steady_input import SteadyInput
from fleetdeck.ui.widgets.target_matches import TargetMatches

PREVIEW_GROUPS = 20
"""Distinct command sets shown in the dry run; hosts with identical commands share one entry."""
PREVIEW_DELAY_S = 0.1
"""Typing pauses this long before the preview is re-rendered."""


def fuzzy_match(query: str, candidate: str) -> tuple[float, list[int]] | None:
    """Match each word of `query` as a subsequence of `candidate`, case-insensitively.

    A word's letters must appear in order, not necessarily together; a match scores more where letters are
    consecutive, start a word, and come early. So ``top mem`` finds ``top-memory`` and ``dsk`` finds
    ``disk-usage``.

    Returns:
        The score and the matched positions (for highlighting), or `None` when some word does not match.
    """
    text = candidate.lower()
    total = 0.0
    positions: list[int] = []
    for word in query.lower().split():
        best: tuple[float, list[int]] | None = None
        for start in (i for i, ch in enumerate(text) if ch == word[0]):
            found = _match_from(word, text, start)
            if found is not None and (best is None or found[0] > best[0]):
                best = found
        if best is None:
            return None
        total += best[0]
        positions.extend(best[1])
    return total, sorted(set(positions))


def _match_from(word: str, text: str, start: int) -> tuple[float, list[int]] | None:
    """Greedy subsequence match of `word` in `text` beginning at `start`, with its score."""
    score = 0.0
    positions: list[int] = []
    index = start
    for ch in word:
        index = text.find(ch, index)
        if index < 0:
            return None
        score += 1.0
        if positions and index == positions[-1] + 1:
            score += 2.0  # consecutive letters
        if index == 0 or not text[index - 1].isalnum():
            score += 3.0  # the start of a word
        positions.append(index)
        index += 1
    span = positions[-1] - positions[0] + 1
    return score - 0.05 * (span - len(word)) - 0.01 * positions[0], positions


def rank_tasks(query: str, tasks: Sequence[Task]) -> list[Task]:
    """Tasks matching `query` best first: the name counts most, then tags, then the description.

    An empty query keeps every task in its configured order.
    """
    if not query.strip():
        return list(tasks)
    scored: list[tuple[float, int, Task]] = []
    for index, task in enumerate(tasks):
        fields = [(task.name, 2.0), (task.description, 1.0), *((tag, 1.5) for tag in task.tags)]
        best = 0.0
        for text, weight in fields:
            found = fuzzy_match(query, text)
            if found is not None:
                best = max(best, found[0] * weight)
        if best > 0:
            scored.append((best, index, task))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [task for _, _, task in scored]


def preview_text(prepared: Prepared) -> str:
    """The dry run as text: hosts with identical commands folded into one node set, then each step's command."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for plan in prepared.plans:
        lines = [f"  {step.name}: {step.describe()}" for step in plan.steps]
        if plan.on_failure is not None:
            lines.append(f"  on failure, {plan.on_failure.name}: {plan.on_failure.describe()}")
        groups.setdefault(tuple(lines), []).append(plan.host.name)
    request = prepared.request
    head = [f"{len(prepared.plans)} host(s), selector {request.selector}"]
    if request.batches:
        head.append(f"batches {', '.join(str(b) for b in request.batches)}")
    if request.max_fail is not None:
        head.append(f"max_fail {request.max_fail}")
    out = [" · ".join(head)]
    for index, (steps, hosts) in enumerate(sorted(groups.items(), key=lambda item: -len(item[1]))):
        if index == PREVIEW_GROUPS:
            out.append(f"… {len(groups) - PREVIEW_GROUPS} more distinct command sets")
            break
        out.append(f"{fold_hosts(hosts)}:")
        out.extend(steps)
    return "\n".join(out)


class _SearchBox(Input):
    """The task search; `down` moves on to the list, as in a palette."""

    BINDINGS = [Binding("down", "app.focus_next", "To the list", show=False, id="tasks.search-to-list")]


class TasksScreen(Screen[None]):
    """Pick a task, fill it in, run it.

    Args:
        engine: Resolves targets, renders dry runs and runs tasks.
        bridge: The console's run sink; new runs are shown from it.
        marked: Hosts marked on the dashboard; when given they are the targets instead of the task's own.
        health: Latest health per host, to flag unhealthy targets.
        task: Task to open with, by name.
        env: Environment for ``FLEETDECK_PARAM_*`` / ``FLEETDECK_SECRET_*`` values (default: the process's).
        clock: Epoch-seconds clock handed to the run view.
    """

    CSS_PATH = "../styles/tasks.tcss"
    AUTO_FOCUS = "#task-search"

    BINDINGS = [
        Binding("escape", "back", "Back", id="tasks.back"),
        Binding("slash", "focus_search", "Search", id="tasks.search"),
        Binding("ctrl+r", "run", "Run task", id="tasks.run"),
        Binding("ctrl+o", "command_box", "Command", id="tasks.command"),
    ]

    def __init__(
        self,
        engine: Engine,
        bridge: RunBridge,
        *,
        marked: Sequence[str] = (),
        health: Mapping[str, HealthSample] | None = None,
        task: str | None = None,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.bridge = bridge
        self._marked = list(marked)
        self._health = health
        self._env = env
        self._clock = clock
        self._tasks = list(engine.config.tasks.values())
        self._chosen: Task | None = engine.config.tasks.get(task or "")
        self._preview_timer: Timer | None = None
        self._form: ParamForm | None = None

    def compose(self) -> ComposeResult:
        """The picker beside the chosen task's targets, form and preview."""
        yield Header(icon="◆")
        with Horizontal(id="tasks-body"):
            with Vertical(id="tasks-picker"):
                yield _SearchBox(placeholder="search tasks", id="task-search")
                yield OptionList(id="task-list")
            with VerticalScroll(id="task-detail"):
                yield Static("", id="task-heading")
                yield Label("targets", classes="field-label")
                yield SteadyInput(placeholder="selector: all, @web, web[01-04], @last.failed", id="task-targets")
                yield TargetMatches(self.engine, health=self._health, id="task-matches")
                yield Vertical(id="task-form-slot")
                yield Static("", id="task-preview", markup=False)
                with Horizontal(id="task-buttons"):
                    yield Button("Run  ctrl+r", id="task-run", variant="primary")
                    yield Button("Command…  ctrl+o", id="task-command")
        yield KeyFooter()

    def on_mount(self) -> None:
        """List the tasks and open the first (or the requested) one."""
        self.query_one("#task-preview", Static).border_title = "dry run: the exact commands"
        self._fill_list("")
        if self._chosen is not None:
            self._show_task(self._chosen)
        elif self._tasks:
            self._show_task(self._tasks[0])
        else:
            self.query_one("#task-heading", Static).update(
                f"No tasks are defined: add some to {self.engine.config.dir / 'tasks.toml'}"
            )

    @property
    def chosen(self) -> Task | None:
        """The task on the right."""
        return self._chosen

    @property
    def form(self) -> ParamForm | None:
        """The chosen task's parameter form."""
        return self._form

    # -- picker ----------------------------------------------------------------------------------------------

    def _fill_list(self, query: str) -> None:
        options = self.query_one("#task-list", OptionList)
        ranked = rank_tasks(query, self._tasks)
        options.clear_options()
        for task in ranked:
            name = Content(task.name).stylize("bold")
            found = fuzzy_match(query, task.name) if query.strip() else None
            for position in found[1] if found is not None else ():
                name = name.stylize("$accent underline", position, position + 1)
            parts: list[Content | str] = [name]
            if task.dangerous:
                parts.append(Content.styled("  ⚠ dangerous", "$health-warn"))
            if task.description:
                parts.extend(["\n", Content.styled(task.description, "$text-muted")])
            options.add_option(Option(Content.assemble(*parts), id=task.name))
        if ranked:
            # Keep the open task highlighted while it still matches; otherwise the best match opens.
            names = [task.name for task in ranked]
            chosen = self._chosen.name if self._chosen is not None else ""
            options.highlighted = names.index(chosen) if chosen in names and not query.strip() else 0

    def on_input_changed(self, event: Input.Changed) -> None:
        """Search re-ranks the list; targets re-resolve; both refresh the preview."""
        if event.input.id == "task-search":
            self._fill_list(event.value)
        elif event.input.id == "task-targets":
            self.query_one(TargetMatches).show(self._selector())
            self._schedule_preview()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the search opens the best match; in a field it moves on (only ctrl+r runs)."""
        if event.input.id == "task-search":
            options = self.query_one("#task-list", OptionList)
            if options.highlighted is not None:
                self._open(options.get_option_at_index(options.highlighted).id)
        else:
            self.focus_next()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Browsing the list shows each task on the right."""
        task = self.engine.config.tasks.get(event.option.id or "")
        if task is not None and task is not self._chosen:
            self._show_task(task)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on a task moves to its form."""
        self._open(event.option.id)

    def _open(self, name: str | None) -> None:
        task = self.engine.config.tasks.get(name or "")
        if task is None:
            return
        if task is not self._chosen:
            self._show_task(task)
        self.call_after_refresh(self._focus_form)

    def _focus_form(self) -> None:
        form = self.form
        first = next(iter(form.query("Input, Select, Switch")), None) if form is not None else None
        (first or self.query_one("#task-targets", Input)).focus()

    # -- the chosen task -------------------------------------------------------------------------------------

    def _show_task(self, task: Task) -> None:
        self._chosen = task
        lines = [task.name + ("   ⚠ dangerous: you will be asked to type its name" if task.dangerous else "")]
        if task.description:
            lines.append(task.description)
        steps = ", ".join(step.name for step in task.steps)
        lines.append(f"steps: {steps}" + (f" · default targets: {task.targets}" if task.targets else ""))
        heading = self.query_one("#task-heading", Static)
        heading.update("\n".join(lines))
        heading.set_class(task.dangerous, "-dangerous")
        targets = self.query_one("#task-targets", Input)
        targets.value = fold_hosts(self._marked) if self._marked else (task.targets or "")
        slot = self.query_one("#task-form-slot", Vertical)
        slot.remove_children()  # removal finishes later; the new form is tracked by reference, not by id
        self._form = ParamForm(task, env=self._env)
        slot.mount(self._form)
        self.query_one(TargetMatches).show(self._selector())
        self._schedule_preview()

    def _selector(self) -> str:
        typed = self.query_one("#task-targets", Input).value.strip()
        chosen = self._chosen
        return typed or (chosen.targets if chosen is not None and chosen.targets else "")

    def on_param_form_changed(self, event: ParamForm.Changed) -> None:
        """A parameter changed: the commands may have too."""
        self._schedule_preview()

    def _schedule_preview(self) -> None:
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._preview_timer = self.set_timer(PREVIEW_DELAY_S, self._update_preview, name="task-preview")

    def _update_preview(self) -> None:
        """Render the dry run with the engine, or say what stops it."""
        preview = self.query_one("#task-preview", Static)
        task, form = self._chosen, self.form
        if task is None or form is None or not form.is_mounted:
            preview.update("")
            return
        if form.errors():
            preview.update("Fix the parameters marked above to see the commands.")
            preview.set_class(True, "-error")
            return
        try:
            prepared = self.engine.prepare_task(
                task.name, self._selector() or None, form.values(), env=self._env, dry_run=True
            )
        except FleetdeckError as exc:
            preview.update(f"✘ {exc}")
            preview.set_class(True, "-error")
            return
        preview.update(preview_text(prepared))
        preview.set_class(False, "-error")

    # -- actions ---------------------------------------------------------------------------------------------

    def action_focus_search(self) -> None:
        """Back to the search box."""
        self.query_one("#task-search", Input).focus()

    def action_back(self) -> None:
        """Esc: from the form back to the list, from the list off the screen."""
        focused = self.focused
        detail = self.query_one("#task-detail")
        if focused is not None and (focused is detail or detail in focused.ancestors):
            self.query_one("#task-list", OptionList).focus()
        elif len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Run, or open the command box."""
        if event.button.id == "task-run":
            self.action_run()
        elif event.button.id == "task-command":
            self.action_command_box()

    def action_run(self) -> None:
        """Check everything, confirm a dangerous task by name, then start the run and show it."""
        task, form = self._chosen, self.form
        if task is None or form is None:
            return
        if not form.validate_all():
            self.notify("Fix the parameters marked in red first.", severity="error")
            form.focus_first_error()
            return
        selector = self._selector()
        matches = self.query_one(TargetMatches)
        if not matches.show(selector):
            self.notify(matches.error or "no targets", title="Targets", severity="error", markup=False)
            self.query_one("#task-targets", Input).focus()
            return
        values = form.values()
        if not task.dangerous:
            self._launch(task, selector, values)
            return
        detail = f"It will run on {len(matches.hosts)} host(s): {fold_hosts(matches.hosts)}."
        if matches.unhealthy:
            detail += f"\n{len(matches.unhealthy)} of them are not healthy right now."

        def answer(yes: bool | None) -> None:
            if yes:
                self._launch(task, selector, values)

        self.app.push_screen(TypeToConfirmModal(task.name, detail), answer)

    def _launch(self, task: Task, selector: str, values: Mapping[str, str]) -> None:
        try:
            run_id = self.engine.new_run_id()
            prepared = self.engine.prepare_task(task.name, selector or None, values, env=self._env, run_id=run_id)
        except FleetdeckError as exc:
            self.notify(str(exc), title=f"Cannot run {task.name}", severity="error", markup=False)
            return
        open_run(self.app, self.engine, self.bridge, prepared, clock=self._clock)

    def action_command_box(self) -> None:
        """Open the ad-hoc command box with the current targets."""

        def started(prepared: Prepared | None) -> None:
            if prepared is not None:
                open_run(self.app, self.engine, self.bridge, prepared, clock=self._clock)

        selector = fold_hosts(self._marked) if self._marked else self._selector()
        box = command_box(self.app, self.engine, selector=selector, health=self._health)
        self.app.push_screen(box, started)
