#!/usr/bin/env bash
# Builds plugin.wasm from app.js with componentize-js (npm install @bytecodealliance/componentize-js@0.23.0,
# or `make polyglot-toolchains` in the amakaflow-chat repository; COMPONENTIZE_JS names its path).
set -euo pipefail
cd "$(dirname "$0")"
componentize_js="${COMPONENTIZE_JS:-componentize-js}"
"$componentize_js" --wit wit -n tool -o plugin.wasm app.js
echo "built $(pwd)/plugin.wasm"
