"""The dashboard's `/` filter: one input line, its rules, and the message under it.

One rule decides how the text is read, checked in this order and shown in the placeholder: a leading `!`
inverts whatever follows; `~pattern` is a regular expression searched in host names; text that starts with
`@` or `tag:`, or contains `[`, `*`, `?`, `,` or `&`, is a host selector evaluated by the inventory exactly
as `-t` on the command line (`@web`, `tag:dc=fra1`, `web[01-05]`); anything else is a case-insensitive
substring of the host name. A mistake (bad regex, unknown group) is shown under the input and the rows stay
as they were, so typing never crashes the console or blanks the table halfway through a pattern.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Static

from fleetdeck.core.inventory import Inventory
from fleetdeck.core.selector import SelectorError
from fleetdeck.ui.widgets.steady_input import SteadyInput

FilterKind = Literal["text", "regex", "selector"]

PLACEHOLDER = "host text · ~regex · @group · tag:k=v · web[01-05] · ! inverts · Enter keeps · Esc clears"
_SELECTOR_CHARS = frozenset("[*?,&")


class FilterError(ValueError):
    """Filter text that cannot be used; the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class HostFilter:
    """A parsed filter: which hosts it keeps, and how its text was read.

    Attributes:
        text: The text as typed.
        kind: How the text (after any `!`) was read.
        inverted: Whether `!` asked for the hosts that do not match.
    """

    text: str
    kind: FilterKind
    inverted: bool
    _test: Callable[[str], bool] = field(compare=False, repr=False)

    def matches(self, host: str) -> bool:
        """Whether the dashboard shows `host` under this filter."""
        return self._test(host) != self.inverted

    def describe(self) -> str:
        """How the text was read, for the line under the input."""
        return f"{'not ' if self.inverted else ''}{self.kind}"


def parse_filter(text: str, inventory: Inventory) -> HostFilter | None:
    """Read filter text by the rule in the module docstring.

    Args:
        text: What the operator typed.
        inventory: Evaluates selectors.

    Returns:
        The filter, or `None` when the text (after any `!`) is empty and every host is shown.

    Raises:
        FilterError: The regex does not compile or the selector is malformed or names unknown hosts/groups.
    """
    body = text.strip()
    inverted = body.startswith("!")
    if inverted:
        body = body[1:].strip()
    if not body:
        return None
    if body.startswith("~"):
        try:
            pattern = re.compile(body[1:], re.IGNORECASE)
        except re.error as error:
            raise FilterError(f"bad regex {body[1:]!r}: {error}") from None
        return HostFilter(text, "regex", inverted, lambda host: pattern.search(host) is not None)
    if body.startswith(("@", "tag:")) or not _SELECTOR_CHARS.isdisjoint(body):
        try:
            chosen = frozenset(host.name for host in inventory.select(body))
        except SelectorError as error:
            raise FilterError(str(error)) from None
        return HostFilter(text, "selector", inverted, chosen.__contains__)
    needle = body.casefold()
    return HostFilter(text, "text", inverted, lambda host: needle in host.casefold())


class FilterBar(Vertical):
    """The filter input with a message line; hidden until `/` opens it, kept while a filter is active.

    Args:
        inventory: Evaluates selector filters.
        id: Widget id.
    """

    BINDINGS = [Binding("escape", "clear", "Clear filter", id="filter.clear")]

    class Changed(Message):
        """The filter in force changed (`None`: show every host)."""

        def __init__(self, host_filter: HostFilter | None) -> None:
            super().__init__()
            self.host_filter = host_filter

    class Done(Message):
        """The operator finished typing (Enter or Esc); focus goes back to the table."""

    def __init__(self, inventory: Inventory, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._inventory = inventory
        self.host_filter: HostFilter | None = None
        """The filter in force: the last text that parsed."""
        self._count: tuple[int, int] | None = None

    def compose(self) -> ComposeResult:
        """A `/` prompt, the input, and the message line."""
        with Horizontal(id="filter-line"):
            yield Static("/", id="filter-prompt")
            yield SteadyInput(placeholder=PLACEHOLDER, id="filter-input", select_on_focus=False)
        yield Static(id="filter-message")

    @property
    def input(self) -> Input:
        """The text input."""
        return self.query_one("#filter-input", Input)

    def open(self) -> None:
        """Show the bar and put the cursor in it."""
        self.display = True
        self.input.focus()

    def action_clear(self) -> None:
        """Drop the filter, hide the bar, and hand focus back."""
        self.input.value = ""  # posts Input.Changed, which clears the filter
        self._set_filter(None)
        self.display = False
        self.post_message(self.Done())

    def show_count(self, shown: int, total: int) -> None:
        """Say how many hosts the filter in force keeps, unless an error is being shown."""
        self._count = (shown, total)
        message = self.query_one("#filter-message", Static)
        if message.has_class("-error") or self.host_filter is None:
            return
        message.update(f"{self.host_filter.describe()} · {shown} of {total} hosts")

    @on(Input.Changed, "#filter-input")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        message = self.query_one("#filter-message", Static)
        try:
            parsed = parse_filter(event.value, self._inventory)
        except FilterError as error:
            message.add_class("-error")
            message.update(str(error))
            return
        message.remove_class("-error")
        message.update(parsed.describe() if parsed is not None else "")  # the count follows once applied
        self._set_filter(parsed)

    @on(Input.Submitted, "#filter-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.host_filter is None and not self.query_one("#filter-message", Static).has_class("-error"):
            self.display = False
        self.post_message(self.Done())

    def _set_filter(self, host_filter: HostFilter | None) -> None:
        if host_filter == self.host_filter:
            if self._count is not None:  # back to the filter in force after a typo: its count still holds
                self.show_count(*self._count)
            return
        self.host_filter = host_filter
        self.post_message(self.Changed(host_filter))
