# Everything a fresh machine needs is installed on first use into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Demo links: the dashboard as an OR member (one use, 10 minutes) and the web chat as an
# employee. A '-' keeps `make run` going on a database without the demo people.
DEMO_OR := anouk.devries@demo.example
DEMO_EMPLOYEE := fatima.smit@demo.example

run: $(STAMP)
	$(BIN)/achterban demo --if-empty
	@echo "Admin dashboard (as $(DEMO_OR)):"
	-@$(BIN)/achterban admin login-link $(DEMO_OR) 2>/dev/null | tail -n 1
	@echo "Web chat (as $(DEMO_EMPLOYEE)):"
	-@$(BIN)/achterban web invite $(DEMO_EMPLOYEE) 2>/dev/null | tail -n 1
	$(BIN)/achterban serve --host 127.0.0.1 --port 8080

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q -n 2

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/votes.py
	$(BIN)/python bench/webhooks.py

clean:
	rm -rf $(VENV) data .pytest_cache
