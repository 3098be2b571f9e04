# MaiRust developer commands. `make up` runs the platform embedded; `make test` runs every test.
# Both set up what they need first (virtual environment, Python packages, system packages).

VENV   ?= .venv
PYTHON ?= python3
ARGS   ?= --domain example.test
STAMP  := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)

.PHONY: setup system-packages up test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

system-packages:
	bash .ci/system-packages.sh

setup: $(STAMP)

up: setup  ## run everything embedded: make up ARGS="--domain example.test --api-port 8000"
	$(VENV)/bin/mairust up $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup system-packages  ## with PostgreSQL, S3 and OpenSearch started by .ci/services.sh
	bash .ci/with-services.sh $(VENV)/bin/pytest -n 2 --dist loadgroup -p no:cacheprovider

test: lint typecheck pytest  ## everything CI runs

bench: setup system-packages  ## SMTP accept rate: smtp-sink vs mairust up (see docs/benchmarks.md)
	$(VENV)/bin/python -m load.bench_accept --sessions 20 --messages 2000 --size 5120

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
