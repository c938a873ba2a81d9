# amakaflow-chat: the two commands a newcomer needs are `make run` and `make test`.
#
# Host builds use $(CARGO_TARGET_DIR) when set (CI keeps one outside the clone), else ./target.
# Plugins are their own workspace, built for wasm32-wasip2 and laid out, one directory each
# (plugin.wasm + plugin.toml), under target/plugins.d (the service's: exactly the 27 tools, what
# render.yaml serves) and target/test-plugins.d (what only tests load: the example `echo`, whose
# echo_http forwards the user's token to localhost, and the hostile plugins of plugins/hostile).

SHELL := /bin/bash
CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
PLUGIN_BUILD_DIR := $(TARGET_DIR)/wasm-plugins
PLUGINS_OUT := $(CURDIR)/target/plugins.d
TEST_PLUGINS_OUT := $(CURDIR)/target/test-plugins.d
# Plugins of plugins/ laid out with the test plugins, never served.
TEST_PLUGINS := echo

.PHONY: run test lint fmt plugins bench clean wasm-target chromium pgvector polyglot-toolchains polyglot-plugins redis mcp-clients

# Python and JavaScript plugins: componentize-py (PyPI) and componentize-js (npm), pinned, installed
# under $(POLYGLOT_CACHE) (outside the clone: reruns are fast). Tests find them by these variables
# (or the same defaults). Sources: plugins/examples/* (ports of two tools, laid out with the test
# plugins) and plugins/hostile-polyglot/*, each an app.py or app.js beside its plugin.toml.
POLYGLOT_CACHE := $(HOME)/.cache/amakaflow-chat
COMPONENTIZE_PY_VERSION := 0.25.1
COMPONENTIZE_JS_VERSION := 0.23.0
# componentize-js's wizer, pinned: newer releases lack builds for some platforms on npm.
WIZER_VERSION := 10.0.0
export COMPONENTIZE_PY := $(POLYGLOT_CACHE)/componentize-py-$(COMPONENTIZE_PY_VERSION)/bin/componentize-py
export COMPONENTIZE_JS := $(POLYGLOT_CACHE)/componentize-js-$(COMPONENTIZE_JS_VERSION)/node_modules/.bin/componentize-js
POLYGLOT_OUT := $(PLUGIN_BUILD_DIR)/polyglot
PY_PLUGINS := $(patsubst %/app.py,%,$(wildcard plugins/examples/*/app.py plugins/hostile-polyglot/*/app.py))
JS_PLUGINS := $(patsubst %/app.js,%,$(wildcard plugins/examples/*/app.js plugins/hostile-polyglot/*/app.js))
PY_SDK := $(wildcard plugins/sdk-python/amakaflow_tool/*.py)
JS_SDK := plugins/sdk-js/amakaflow-tool.js
WIT := $(wildcard wit/*.wit wit/deps/*.wit)

## run: start the service with its offline development stack (SQLite, local plugins, stand-ins),
## on 127.0.0.1 (set BIND_ADDRESS=0.0.0.0 to open it to the network).
run: plugins
	PLUGINS_DIR=$(PLUGINS_OUT) $(CARGO) run -p dev-stack

## test: every test of both workspaces, against SQLite and the local Postgres (and the cutover suite
## against the Postgres with pgvector of `make pgvector`).
# The plugins' tests run on the machine's own target (no --target): the SDK's host is then the scripted MockHost.
test: plugins chromium pgvector polyglot-toolchains redis mcp-clients
	$(CARGO) test --workspace --no-fail-fast
	cd plugins && CARGO_TARGET_DIR=$(PLUGIN_BUILD_DIR) $(CARGO) test --workspace --no-fail-fast

## lint: formatting and clippy (warnings are errors) for the host and the plugins.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd plugins && $(CARGO) fmt --all -- --check
	cd plugins && CARGO_TARGET_DIR=$(PLUGIN_BUILD_DIR) $(CARGO) clippy --workspace --target wasm32-wasip2 -- -D warnings
	cd plugins && CARGO_TARGET_DIR=$(PLUGIN_BUILD_DIR) $(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
	cd plugins && $(CARGO) fmt --all

## chromium: Debian's headless Chromium and chromedriver, for the browser test of the dev chat page.
## redis: the Redis the turns suite uses (127.0.0.1:6379, plus private servers it starts itself):
## Debian's redis-server installed when missing, started when nothing answers on 6379.
redis:
	@if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq redis-server; \
	fi
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || \
		redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --appendonly no >/dev/null

chromium:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium chromium-driver; \
	fi

# Cutover (issue 15): a Postgres 16 with pgvector (PyPI's pgserver wheel) holding the original
# Supabase schema for the cutover suite and the pgvector bench; installed under
# $(HOME)/.cache/amakaflow-chat/pgvector, started on its own port. Tests read PGVECTOR_DATABASE_URL.
PGVECTOR_PORT ?= 54329
export PGVECTOR_DATABASE_URL ?= postgres://postgres@127.0.0.1:$(PGVECTOR_PORT)/postgres

## pgvector: install (once) and start the Postgres with pgvector on 127.0.0.1:$(PGVECTOR_PORT).
pgvector:
	@tests/pgvector/start.sh $(PGVECTOR_PORT)

## mcp-clients: the real MCP clients the mcp suite drives (the official Python SDK in a venv, the MCP
## Inspector's CLI from npm), installed once outside the clone; the suite finds them at MCP_CLIENTS_DIR.
MCP_CLIENTS_DIR ?= $(HOME)/.cache/amakaflow-chat
MCP_PYTHON_SDK := mcp==2.3.0
MCP_INSPECTOR := @modelcontextprotocol/inspector@2.12.0
export MCP_CLIENTS_DIR
mcp-clients:
	@if ! $(MCP_CLIENTS_DIR)/mcp-venv/bin/python -c 'import mcp' 2>/dev/null || \
		! $(MCP_CLIENTS_DIR)/mcp-venv/bin/pip show mcp 2>/dev/null | grep -qx 'Version: $(lastword $(subst ==, ,$(MCP_PYTHON_SDK)))'; then \
		python3 -m venv $(MCP_CLIENTS_DIR)/mcp-venv && \
		$(MCP_CLIENTS_DIR)/mcp-venv/bin/pip install -q '$(MCP_PYTHON_SDK)'; \
	fi
	@if [ ! -e $(MCP_CLIENTS_DIR)/mcp-inspector/.installed-2.12.0 ]; then \
		mkdir -p $(MCP_CLIENTS_DIR)/mcp-inspector && \
		npm install --silent --no-audit --no-fund --prefix $(MCP_CLIENTS_DIR)/mcp-inspector '$(MCP_INSPECTOR)' && \
		touch $(MCP_CLIENTS_DIR)/mcp-inspector/.installed-2.12.0; \
	fi

wasm-target:
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

## plugins: build every plugin component and lay out the plugin directories.
# The components are taken from the target directory cargo reports (it may differ from
# $(PLUGIN_BUILD_DIR) when a cargo wrapper redirects builds).
plugins: wasm-target polyglot-plugins
	cd plugins && CARGO_TARGET_DIR=$(PLUGIN_BUILD_DIR) $(CARGO) build --workspace --target wasm32-wasip2 --release
	@rm -rf $(PLUGINS_OUT).tmp $(TEST_PLUGINS_OUT).tmp
	@mkdir -p $(PLUGINS_OUT).tmp $(TEST_PLUGINS_OUT).tmp
	@wasm=$$(cd plugins && CARGO_TARGET_DIR=$(PLUGIN_BUILD_DIR) $(CARGO) metadata --format-version 1 --no-deps \
		| grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)/wasm32-wasip2/release; \
	for manifest in plugins/*/plugin.toml plugins/hostile/*/plugin.toml; do \
		[ -f "$$manifest" ] && [ -f "$$(dirname $$manifest)/Cargo.toml" ] || continue; \
		dir=$$(dirname $$manifest); crate=$$(basename $$dir); \
		out=$(PLUGINS_OUT).tmp; \
		case $$dir in plugins/hostile/*) out=$(TEST_PLUGINS_OUT).tmp ;; esac; \
		case " $(TEST_PLUGINS) " in *" $$crate "*) out=$(TEST_PLUGINS_OUT).tmp ;; esac; \
		mkdir -p $$out/$$crate; \
		cp $$wasm/$${crate//-/_}.wasm $$out/$$crate/plugin.wasm || exit 1; \
		cp $$manifest $$out/$$crate/plugin.toml; \
	done
	@for dir in $(PY_PLUGINS) $(JS_PLUGINS); do \
		name=$$(basename $$dir); mkdir -p $(TEST_PLUGINS_OUT).tmp/$$name; \
		cp $(POLYGLOT_OUT)/$$name.wasm $(TEST_PLUGINS_OUT).tmp/$$name/plugin.wasm || exit 1; \
		cp $$dir/plugin.toml $(TEST_PLUGINS_OUT).tmp/$$name/plugin.toml; \
	done
	@rm -rf $(PLUGINS_OUT) $(TEST_PLUGINS_OUT)
	@mv $(PLUGINS_OUT).tmp $(PLUGINS_OUT); mv $(TEST_PLUGINS_OUT).tmp $(TEST_PLUGINS_OUT)
	@echo "plugins laid out in $(PLUGINS_OUT) and $(TEST_PLUGINS_OUT)"

## polyglot-toolchains: componentize-py in a venv and componentize-js with npm, pinned.
polyglot-toolchains: $(COMPONENTIZE_PY) $(COMPONENTIZE_JS)

$(COMPONENTIZE_PY):
	rm -rf $(POLYGLOT_CACHE)/componentize-py-$(COMPONENTIZE_PY_VERSION)
	python3 -m venv $(POLYGLOT_CACHE)/componentize-py-$(COMPONENTIZE_PY_VERSION)
	$(POLYGLOT_CACHE)/componentize-py-$(COMPONENTIZE_PY_VERSION)/bin/pip install -q componentize-py==$(COMPONENTIZE_PY_VERSION)
	@test -x $@

$(COMPONENTIZE_JS):
	rm -rf $(POLYGLOT_CACHE)/componentize-js-$(COMPONENTIZE_JS_VERSION)
	mkdir -p $(POLYGLOT_CACHE)/componentize-js-$(COMPONENTIZE_JS_VERSION)
	cd $(POLYGLOT_CACHE)/componentize-js-$(COMPONENTIZE_JS_VERSION) && echo '{"private": true}' > package.json && \
		npm install --no-audit --no-fund --save-exact @bytecodealliance/componentize-js@$(COMPONENTIZE_JS_VERSION) \
			@bytecodealliance/wizer@$(WIZER_VERSION)
	@test -x $@

## polyglot-plugins: the Python and JavaScript plugin components (rebuilt when a source changes).
polyglot-plugins: $(foreach dir,$(PY_PLUGINS) $(JS_PLUGINS),$(POLYGLOT_OUT)/$(notdir $(dir)).wasm)

define python_plugin
$(POLYGLOT_OUT)/$(notdir $(1)).wasm: $(wildcard $(1)/*.py) $(PY_SDK) $(WIT) | $(COMPONENTIZE_PY)
	@mkdir -p $(POLYGLOT_OUT)
	$(COMPONENTIZE_PY) -d wit -w tool componentize -p $(1) -p plugins/sdk-python app -o $$@.tmp
	@mv $$@.tmp $$@
endef
$(foreach dir,$(PY_PLUGINS),$(eval $(call python_plugin,$(dir))))

# componentize-js reads the modules of one directory: the app and the SDK are copied together.
define js_plugin
$(POLYGLOT_OUT)/$(notdir $(1)).wasm: $(wildcard $(1)/*.js) $(JS_SDK) $(WIT) | $(COMPONENTIZE_JS)
	@rm -rf $$@.src && mkdir -p $$@.src
	cp $(1)/*.js $(JS_SDK) $$@.src/
	$(COMPONENTIZE_JS) --wit wit -n tool -o $$@.tmp $$@.src/app.js
	@mv $$@.tmp $$@
endef
$(foreach dir,$(JS_PLUGINS),$(eval $(call js_plugin,$(dir))))

## bench: the benchmarks whose figures the closing notes quote (release build).
bench: plugins pgvector
	$(CARGO) build --release -p host --bin chat-api
	$(CARGO) bench --workspace

clean:
	$(CARGO) clean
	rm -rf plugins/target target/plugins.d target/test-plugins.d
