# Two commands for a fresh machine: `make demo` (set up, load Xuhui, serve) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test install bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[postgis,mqtt,test]"
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/huizhili demo

# Four workers: tests mostly wait on PostgreSQL, servers and Chromium, so on two cores four
# finish in about 2m40s, against 3m50s with two (-n auto) and 2m50s with six.
test: install
	$(BIN)/mypy src
	$(BIN)/python -m pytest -n 4 --durations=15

bench: install
	$(BIN)/python bench/bench_assign.py

clean:
	rm -rf $(VENV) var .pytest_cache
