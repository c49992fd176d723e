# Two commands: `make run` installs and serves the backend on its embedded default,
# `make test` installs the test tools and runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Two test processes: most tests wait on a server's sockets, so two share two cores well.
PYTEST_ARGS ?= -n 2

.PHONY: run test lint bench install install-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@# The browser test drives Debian's Chromium; installing it needs root and apt.
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) \
		|| echo "chromium could not be installed: the browser test will fail"
	@# The alert and metrics tests start Debian's Alertmanager and Prometheus (never their services).
	command -v prometheus-alertmanager >/dev/null && command -v prometheus >/dev/null \
		|| (apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager) \
		|| echo "prometheus and prometheus-alertmanager could not be installed: their tests will fail"

run: install
	$(BIN)/python manage.py runbackend

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-dev
	$(BIN)/python -m bench all

lint: install-dev
	$(BIN)/ruff check .
