#!/usr/bin/env bash
# Builds plugin.wasm from app.py with componentize-py (pip install componentize-py==0.25.1, or
# `make polyglot-toolchains` in the amakaflow-chat repository; COMPONENTIZE_PY names its path).
set -euo pipefail
cd "$(dirname "$0")"
componentize_py="${COMPONENTIZE_PY:-componentize-py}"
"$componentize_py" -d wit -w tool componentize -p . app -o plugin.wasm
echo "built $(pwd)/plugin.wasm"
