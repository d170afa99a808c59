"""The alerts screen and the dashboard's alert badges, over a canned board and a canned rule.

The rule `cpu_pct > 50` (critical, no `for`) fires for web-2 only (93% in the canned fleet). The feed's
store lives in a temporary state dir; where an alert must already be stored, the test saves it the way
the daemon would, through a connection of its own.
"""

from __future__ import annotations

from pathlib import Path

from dashboard_fakes import NOW, canned, cell, fleet_board, make_app, make_context, ready, until

from fleetdeck.core.alerts import AlertsConfig, AlertStore, Rule, alert_key, parse_expr
from fleetdeck.ui.alerts_feed import AlertsFeed
from fleetdeck.ui.app import FleetdeckApp
from fleetdeck.ui.screens.alerts import AlertsScreen, SilenceModal

KEY = alert_key("HighCPU", "web-2")
RULES = AlertsConfig(
    rules=(
        Rule(
            name="HighCPU",
            condition=parse_expr("cpu_pct > 50"),
            severity="critical",
            annotations={"summary": "CPU is busy"},
        ),
    )
)


def make_feed(state_dir: Path) -> AlertsFeed:
    board = fleet_board(with_history=False)
    feed = AlertsFeed(RULES, AlertStore(state_dir), clock=lambda: NOW)
    for sample in board.latest.values():
        feed.observe(sample)
    return feed


def alerts_app(state_dir: Path) -> tuple[AlertsFeed, FleetdeckApp]:
    feed = make_feed(state_dir)
    context = make_context(fleet_board(with_history=False))
    context.alerts = feed
    return feed, make_app(context)


def test_feed_fires_for_the_busy_host_only(tmp_path: Path) -> None:
    feed = make_feed(tmp_path)
    records = feed.records()
    assert [(r.key, r.state, r.severity) for r in records] == [(KEY, "firing", "critical")]
    assert feed.badge("web-2") == (1, "critical")
    assert feed.badge("web-1") == (0, None)
    feed.observe(canned("web-2", time=NOW, cpu_pct=10.0))
    assert feed.records() == []
    feed.close()


async def test_alerts_screen_lists_and_acknowledges(tmp_path: Path) -> None:
    feed, app = alerts_app(tmp_path)
    with AlertStore(tmp_path) as daemon:
        daemon.save(feed.engine.records())  # what the daemon, which owns the states, would have stored
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await pilot.press("A")
        await until(pilot, lambda: isinstance(pilot.app.screen, AlertsScreen))
        screen = pilot.app.screen
        assert isinstance(screen, AlertsScreen)
        assert screen.table.row_count == 1
        assert screen.table.get_cell(KEY, "host").plain == "web-2"
        assert screen.table.get_cell(KEY, "severity").plain == "critical"
        assert screen.table.get_cell(KEY, "summary").plain == "CPU is busy"
        await pilot.press("enter")
        await pilot.pause()
        with AlertStore(tmp_path) as store:
            stored = store.get(KEY, NOW)
        assert stored is not None and stored.acknowledged_by
        assert screen.table.get_cell(KEY, "state").plain == "firing·ack"
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(pilot.app.screen, AlertsScreen))
    feed.close()


async def test_acknowledging_an_unstored_alert_is_refused(tmp_path: Path) -> None:
    feed, app = alerts_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await pilot.press("A")
        await until(pilot, lambda: isinstance(pilot.app.screen, AlertsScreen))
        await pilot.press("k")
        await pilot.pause()
        assert any("Not acknowledged" in str(n.message) for n in pilot.app._notifications)
    assert feed.store.get(KEY, NOW) is None
    feed.close()


async def test_silence_needs_a_reason_and_is_stored(tmp_path: Path) -> None:
    feed, app = alerts_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await pilot.press("A")
        await until(pilot, lambda: isinstance(pilot.app.screen, AlertsScreen))
        await pilot.press("s")
        await until(pilot, lambda: isinstance(pilot.app.screen, SilenceModal))
        await pilot.press("enter")  # no reason yet: the dialog stays
        await pilot.pause()
        assert isinstance(pilot.app.screen, SilenceModal)
        await pilot.press(*"maintenance")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, AlertsScreen))
        screen = pilot.app.screen
        assert isinstance(screen, AlertsScreen)
        assert screen.table.get_cell(KEY, "state").plain == "firing·s"
    silences = feed.store.silences(NOW)  # a new connection would prune it: the canned clock is years back
    assert len(silences) == 1
    silence = silences[0]
    assert sorted(str(m) for m in silence.matchers) == ["host=web-2", "rule=HighCPU"]
    assert silence.ends - silence.starts == 3600
    assert silence.reason == "maintenance"
    feed.close()


async def test_dashboard_shows_the_alert_badge(tmp_path: Path) -> None:
    feed, app = alerts_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await until(pilot, lambda: cell(pilot, "web-2", "alert") == "● 1")
        assert cell(pilot, "web-1", "alert") == "—"
        feed.silence("rule=HighCPU host=web-2", 600, "maintenance")
        await until(pilot, lambda: cell(pilot, "web-2", "alert") == "—")
    feed.close()


async def test_alerts_key_without_rules_says_so() -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await pilot.press("A")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, AlertsScreen)
        assert any("alert rules" in str(n.message) for n in pilot.app._notifications)


async def test_a_warning_inhibited_by_a_critical_is_muted_and_not_badged(tmp_path: Path) -> None:
    rules = AlertsConfig(
        rules=(
            Rule(name="HighCPU", condition=parse_expr("cpu_pct > 50"), severity="warning"),
            Rule(name="CPUCritical", condition=parse_expr("cpu_pct > 90"), severity="critical", inhibits=("HighCPU",)),
        )
    )
    board = fleet_board(with_history=False)
    feed = AlertsFeed(rules, AlertStore(tmp_path), clock=lambda: NOW)
    for sample in board.latest.values():
        feed.observe(sample)
    states = {r.key: (r.state, r.inhibited_by) for r in feed.records()}
    assert states[KEY] == ("firing", alert_key("CPUCritical", "web-2"))
    assert feed.badge("web-2") == (1, "critical")  # the critical alone, not two alerts
    context = make_context(board)
    context.alerts = feed
    app = make_app(context)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await pilot.press("A")
        await until(pilot, lambda: isinstance(pilot.app.screen, AlertsScreen))
        screen = pilot.app.screen
        assert isinstance(screen, AlertsScreen)
        await until(pilot, lambda: screen.table.row_count == 2)
        assert screen.table.get_cell(KEY, "state").plain == "firing·inh"
        assert screen.table.get_cell(alert_key("CPUCritical", "web-2"), "state").plain == "firing"
    feed.close()


def test_badges_are_rebuilt_only_when_an_alert_changes(tmp_path: Path) -> None:
    feed = make_feed(tmp_path)
    first = feed.badges()
    assert first == {"web-2": (1, "critical")}
    feed.observe(canned("web-2", time=NOW, cpu_pct=95.0))  # still firing: no change, same answer object
    assert feed.badges() is first
    feed.observe(canned("web-2", time=NOW, cpu_pct=10.0))  # resolved: rebuilt
    assert feed.badges() == {}
    feed.close()
