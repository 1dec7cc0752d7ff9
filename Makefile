# Two commands on a fresh machine: `make run` and `make test`. Both create .venv and install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit fmt bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/proctor serve $(ARGS)

test: $(STAMP) lint typecheck browser unit

# The dashboard's browser tests drive the system chromium (Playwright never downloads one).
# As root with apt-get it is installed; otherwise the tests skip, saying so.
CHROMIUM ?= $(or $(PROCTOR_CHROMIUM),/usr/bin/chromium)
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo 'installing chromium for the browser tests'; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo 'note: no $(CHROMIUM) and cannot apt-get it: browser tests will be skipped (install chromium or set PROCTOR_CHROMIUM)'; fi

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP)
	$(BIN)/proctor bench overhead

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
