# fleetdeck: `make run` starts the console, `make test` runs the suite, `make check` lints, types and tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test check lint typecheck fmt bench snapshots sshd clean

run: $(VENV)/.run-deps
	$(BIN)/fleetdeck --config configs

test: $(VENV)/.test-deps sshd
	$(BIN)/pytest

check: lint typecheck test

lint: $(VENV)/.test-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.test-deps
	$(BIN)/mypy src

fmt: $(VENV)/.test-deps
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(VENV)/.test-deps
	$(BIN)/python bench/run.py

# A loopback fleet of real sshd hosts (8 by default: make fleet ARGS="--hosts 50") to try the console on.
.PHONY: fleet
fleet: $(VENV)/.test-deps sshd
	$(BIN)/python tests/fleet.py $(ARGS)

# SVGs of every main screen in every bundled theme, from canned data (see screenshots/README.md).
.PHONY: screenshots
screenshots: $(VENV)/.run-deps
	$(BIN)/python screenshots/render.py

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.run-deps

# The SSH tests need OpenSSH's sshd, the console's end-to-end test tmux, the health tests Prometheus. As root we install
# what is missing; otherwise the tests that need them skip with a line saying why (a failure under CI=true).
sshd:
	@missing=""; \
	{ command -v sshd >/dev/null 2>&1 || test -x /usr/sbin/sshd; } || missing="$$missing openssh-server openssh-client"; \
	command -v tmux >/dev/null 2>&1 || missing="$$missing tmux"; \
	command -v sudo >/dev/null 2>&1 || missing="$$missing sudo"; \
	command -v busybox >/dev/null 2>&1 || missing="$$missing busybox"; \
	command -v strace >/dev/null 2>&1 || missing="$$missing strace"; \
	test -x /usr/bin/prometheus || missing="$$missing prometheus"; \
	test -x /usr/bin/prometheus-node-exporter || missing="$$missing prometheus-node-exporter"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing:$$missing"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null 2>&1 || \
			{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; \
		else \
			echo "note: missing$$missing and not root: the tests that need them will skip"; \
		fi; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
