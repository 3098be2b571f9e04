# MaiRust developer commands. `make up` runs the platform embedded; `make test` runs every test.
# Both set up what they need first (virtual environment, Python packages, system packages).
# Each phase of `make test` prints "phase NAME: N s"; `.ci/run` adds a table at the end.

VENV   ?= .venv
PYTHON ?= python3
ARGS   ?= --domain example.test
STAMP  := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)
# `$(PHASE) NAME COMMAND...` runs COMMAND and prints how long it took.
PHASE  := bash .ci/phase.sh

.PHONY: setup system-packages up test lint typecheck pytest bench clean bench-api bench-hooks \
	rust-plugins go-plugins bench-outbound bench-scale web web-test openapi

$(STAMP): pyproject.toml
	$(PHASE) "install: venv + pip" sh -c '$(PYTHON) -m venv $(VENV) \
	  && $(VENV)/bin/pip install --quiet --upgrade pip \
	  && $(VENV)/bin/pip install --quiet -e ".[dev]"'
	rm -f $(VENV)/.installed-*
	touch $@

system-packages:
	$(PHASE) "install: system packages" bash .ci/system-packages.sh

setup: $(STAMP)

# The Go plugins (plugins/attachment_policy): generated from the hook .proto, built, vetted
# and unit-tested; Go's caches live outside the clone (the script says where).
go-plugins: setup
	PYTHON=$(VENV)/bin/python $(PHASE) "build: go plugins + go test" bash .ci/build-go-plugins.sh --test

# The admin UI (web/): `npm ci` when the lock file changed (npm's cache outside the clone,
# as the Rust, Go and mypy caches are), then openapi-typescript + `tsc --noEmit` + the Vite
# build into web/dist, which the API serves at `/`. Make's timestamps skip both steps when
# their outputs are newer than what they are made from.
NPM_CACHE    = $${XDG_CACHE_HOME:-$$HOME/.cache}/mairust-build/npm
WEB_SOURCES := $(shell find web/src web/public -type f ! -name schema.d.ts 2>/dev/null) \
	web/index.html web/package.json web/tsconfig.json web/vite.config.ts web/openapi.json

web/node_modules/.package-lock.json: web/package-lock.json
	$(PHASE) "install: npm ci (web)" sh -c 'cd web && npm ci --no-audit --no-fund --cache "$(NPM_CACHE)"'

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	$(PHASE) "build: web UI (openapi-typescript, tsc, vite)" sh -c 'cd web && npm run --silent build'
	touch $@

web: web/dist/index.html  ## build the admin UI if its sources changed

web-test: web  ## the admin UI's lint (ESLint) and unit tests (Vitest); its browser tests are in pytest
	$(PHASE) "lint: web UI (eslint)" sh -c 'cd web && npm run --silent lint'
	$(PHASE) "test: web UI (vitest)" sh -c 'cd web && npm test --silent'

openapi: setup  ## write web/openapi.json anew from the app (after changing a route or a schema)
	$(VENV)/bin/python -m mairust.api.openapi_document > web/openapi.json.new
	mv web/openapi.json.new web/openapi.json

up: setup web  ## run everything embedded: make up ARGS="--domain example.test --api-port 8000"
	$(VENV)/bin/mairust up $(ARGS)

lint: setup
	$(PHASE) "lint: ruff check" $(VENV)/bin/ruff check .
	$(PHASE) "lint: ruff format" $(VENV)/bin/ruff format --check .

# mypy's cache lives outside the clone, as the Rust and Go builds' do: a fresh clone's check
# reuses it (a cached module whose file's hash is unchanged is not checked again).
typecheck: setup
	MYPY_CACHE_DIR="$${XDG_CACHE_HOME:-$$HOME/.cache}/mairust-build/mypy" \
	  $(PHASE) "type check: mypy" $(VENV)/bin/mypy

# One pytest run: xdist keeps the e2e scenarios on one worker while the other takes the
# rest, which separate runs per group could not overlap; --group-times reports each group.
# Then the API tests once more, against a live `mairust up` on PostgreSQL + S3 + OpenSearch
# (tests/mairust/api/conftest.py): a run of their own (the mode is per session), on the same
# servers; it runs even when the first failed, and either failing fails the target.
API_LIVE := $(VENV)/bin/pytest --api-live -p no:cacheprovider --durations=5 tests/mairust/api
pytest: setup system-packages rust-plugins go-plugins web  ## with PostgreSQL, S3 and OpenSearch started by .ci/services.sh
	bash .ci/with-services.sh sh -c '$(PHASE) pytest $(VENV)/bin/pytest -n 2 --dist loadgroup \
	  -p no:cacheprovider --durations=15 --group-times; status=$$?; \
	  $(PHASE) "pytest api-live" $(API_LIVE) || exit 1; exit $$status'

test: lint typecheck web-test pytest  ## everything CI runs

# The Rust plugins: their `cargo test`, then their release build (cached outside the clone,
# quick when nothing changed); the tests that run a binary call the same script.
rust-plugins:
	$(PHASE) "build: rust plugins (cargo test + build)" bash .ci/build-rust-plugins.sh --test

bench: setup system-packages  ## the reference run: Postfix, sinks and mairust up side by side (as root)
	bash .ci/with-services.sh $(VENV)/bin/python -m load.bench_reference --sessions 20 \
	  --messages 3000 --repeats 3 --production --markdown reference.md --plots docs/benchmarks/

bench-api: setup  ## the API through Serve beside a bare Serve app: embedded, then PostgreSQL + S3 + OpenSearch
	bash .ci/with-services.sh $(VENV)/bin/python -m load.bench_api --profile 8 --rate 200,40 --markdown bench-api.md

bench-hooks: setup system-packages  ## synchronous plugins: no-op ones over each transport and the bundled spam-filter + rspamd + dnsbl, beside Postfix (as root)
	bash .ci/with-services.sh $(VENV)/bin/python -m load.bench_hooks --markdown bench-hooks.md

bench-outbound: setup system-packages  ## outbound delivery to ten smtp-sinks (port 25): Postfix relaying beside mairust up with DKIM, connection reuse on and off, end to end (as root)
	$(VENV)/bin/python -m load.bench_outbound --messages 3000 --repeats 3 --markdown bench-outbound.md

bench-scale: setup system-packages  ## scale-out: front-ends on 1 and 2 Ray nodes x 1, 2, 4 pipeline workers on PostgreSQL + S3 + OpenSearch beside Postfix, CPU-s per 1,000 messages per component (as root)
	bash .ci/with-services.sh $(VENV)/bin/python -m load.bench_scale --production \
	  --messages 3000 --repeats 3 --markdown bench-scale.md --json bench-scale.json

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
