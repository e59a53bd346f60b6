# KiloPBX front door: `make run` and `make test` on a fresh Debian machine.
VENV ?= .venv
PY := $(VENV)/bin/python
# the suite runs its test modules on this many processes (each module stays on one)
TEST_WORKERS ?= 2
export VENV

.PHONY: run test bench lint format install compile peers bench-peers clean

install:
	@./scripts/bootstrap.sh

# the hot modules as C extensions (mypyc): rebuilt when one changed, skipped without a compiler
compile: install
	@$(PY) scripts/compile.py

run: compile
	$(VENV)/bin/kilopbx serve $(if $(CONFIG),--config $(CONFIG))

peers:
	@./scripts/install-peers.sh

bench-peers:
	@./scripts/install-bench-peers.sh

test: compile peers
	@$(PY) -m compileall -q src tests  # once, not in every worker's first PBX at once
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile
	@# the unit tests again on the sources, stand-ins included (docs/developing.md)
	KILOPBX_PURE_PYTHON=1 $(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) tests/unit

bench: compile peers bench-peers
	$(PY) bench/run_all.py

lint: install
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy src

format: install
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .mypy_cache \
		.import_linter_cache src/kilopbx/compiled.json
	find src -name '*.so' -delete
