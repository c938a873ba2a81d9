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

.PHONY: run test lint fmt plugins bench clean wasm-target chromium mcp-clients

## run: start the service with its offline development stack (SQLite, local plugins, stand-ins),
## on 127.0.0.1 (set BIND_ADDRESS=0.0.0.0 to open it to the network).
run: plugins
	PLUGINS_DIR=$(PLUGINS_OUT) $(CARGO) run -p dev-stack

## test: every test of both workspaces, against SQLite and the local Postgres.
test: plugins chromium mcp-clients
	$(CARGO) test --workspace --no-fail-fast
	cd plugins && CARGO_TARGET_DIR=$(PLUGIN_BUILD_DIR) $(CARGO) test --workspace --no-fail-fast

## lint: formatting and clippy (warnings are errors) for the host and the plugins.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd plugins && $(CARGO) fmt --all -- --check
	cd plugins && CARGO_TARGET_DIR=$(PLUGIN_BUILD_DIR) $(CARGO) clippy --workspace --target wasm32-wasip2 -- -D warnings

fmt:
	$(CARGO) fmt --all
	cd plugins && $(CARGO) fmt --all

## chromium: Debian's headless Chromium and chromedriver, for the browser test of the dev chat page.
chromium:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium chromium-driver; \
	fi

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
plugins: wasm-target
	cd plugins && CARGO_TARGET_DIR=$(PLUGIN_BUILD_DIR) $(CARGO) build --workspace --target wasm32-wasip2 --release
	@rm -rf $(PLUGINS_OUT).tmp $(TEST_PLUGINS_OUT).tmp
	@mkdir -p $(PLUGINS_OUT).tmp $(TEST_PLUGINS_OUT).tmp
	@wasm=$$(cd plugins && CARGO_TARGET_DIR=$(PLUGIN_BUILD_DIR) $(CARGO) metadata --format-version 1 --no-deps \
		| grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)/wasm32-wasip2/release; \
	for manifest in plugins/*/plugin.toml plugins/hostile/*/plugin.toml; do \
		[ -f "$$manifest" ] || continue; \
		dir=$$(dirname $$manifest); crate=$$(basename $$dir); \
		out=$(PLUGINS_OUT).tmp; \
		case $$dir in plugins/hostile/*) out=$(TEST_PLUGINS_OUT).tmp ;; esac; \
		case " $(TEST_PLUGINS) " in *" $$crate "*) out=$(TEST_PLUGINS_OUT).tmp ;; esac; \
		mkdir -p $$out/$$crate; \
		cp $$wasm/$${crate//-/_}.wasm $$out/$$crate/plugin.wasm || exit 1; \
		cp $$manifest $$out/$$crate/plugin.toml; \
	done
	@rm -rf $(PLUGINS_OUT) $(TEST_PLUGINS_OUT)
	@mv $(PLUGINS_OUT).tmp $(PLUGINS_OUT); mv $(TEST_PLUGINS_OUT).tmp $(TEST_PLUGINS_OUT)
	@echo "plugins laid out in $(PLUGINS_OUT) and $(TEST_PLUGINS_OUT)"

## bench: the benchmarks whose figures the closing notes quote (release build).
bench: plugins
	$(CARGO) build --release -p host --bin chat-api
	$(CARGO) bench --workspace

clean:
	$(CARGO) clean
	rm -rf plugins/target target/plugins.d target/test-plugins.d
