"""The engine: config, inventory, tasks, transport, runner, health. Never imports textual or rich."""
