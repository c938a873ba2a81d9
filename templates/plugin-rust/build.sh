#!/usr/bin/env bash
# Builds plugin.wasm (rustup target add wasm32-wasip2 once).
set -euo pipefail
cd "$(dirname "$0")"
cargo build --target wasm32-wasip2 --release
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
cp "$target_dir/wasm32-wasip2/release/{{crate}}.wasm" plugin.wasm
echo "built $(pwd)/plugin.wasm"
