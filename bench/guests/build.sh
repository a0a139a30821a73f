#!/usr/bin/env bash
# Builds the benchmark-only guests in bench/guests/ (run by bench/run.py; idempotent, quick when
# nothing changed). Needs the toolchains that `.ci/build-guests.sh apt tools python` installs.
#
#   bash bench/guests/build.sh
#
# Outputs (gitignored, under target/bench/guests/):
#   wb-hello.wasm      wit-bindgen (`wasip2` crate) hello, wasm32-unknown-unknown + `wasm-tools component new`
#   cpu-hash.wasm      Rust spin-sdk 5.2, FNV-1a over 256 KiB per request
#   body-size.wasm     Rust spin-sdk 5.2, streams ?size=N bytes in 64 KiB chunks
#   python-hello.wasm  componentize-py 0.17.2, plain wasi:http/proxy@0.2.0 world
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/bench/guests"
OUT="$ROOT/target/bench/guests"
GUESTS="$ROOT/target/guests"               # the same shared CARGO_TARGET_DIR as .ci/build-guests.sh
WASM_TOOLS="$ROOT/target/tools/bin/wasm-tools"
NICE="nice -n 10"
mkdir -p "$OUT"

newer_than() { # OUT SRC...: OUT exists and is newer than every SRC file
  local out=$1; shift
  [ -e "$out" ] || return 1
  [ -z "$(find "$@" -newer "$out" -type f -print -quit 2>/dev/null)" ]
}

# ------------------------------------------------------------------------------------------------
# Rust guests: Debian's rustc 1.96 with -Zbuild-std, exactly as .ci/build-guests.sh
# ------------------------------------------------------------------------------------------------
# crate-dir : artifact : target : output
RUST=(
  "wb-hello:bench_wb_hello:wasm32-unknown-unknown:wb-hello.wasm"
  "cpu-hash:bench_cpu_hash:wasm32-wasip2:cpu-hash.wasm"
  "body-size:bench_body_size:wasm32-wasip2:body-size.wasm"
)
(
  for v in $(compgen -e); do
    case "$v" in
      CARGO_HOME|RUSTUP_HOME) ;;
      CARGO*|RUSTC*|RUSTDOC*|RUSTFLAGS|RUSTUP_TOOLCHAIN|RUST_TOOLCHAIN) unset "$v" ;;
    esac
  done
  export PATH="/usr/bin:$PATH"
  export RUSTC=/usr/bin/rustc
  export RUSTC_BOOTSTRAP=1
  export CARGO_TARGET_DIR="$GUESTS"
  export CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS="-C link-self-contained=no -L native=/usr/lib/wasm32-wasi"
  export CARGO_TERM_COLOR=never
  for entry in "${RUST[@]}"; do
    IFS=: read -r dir art target out <<<"$entry"
    if newer_than "$OUT/$out" "$HERE/$dir/src" "$HERE/$dir/Cargo.toml"; then
      echo "bench guest $out is up to date"
      continue
    fi
    locked=()
    [ -e "$HERE/$dir/Cargo.lock" ] && locked=(--locked)
    echo "--- cargo build bench/guests/$dir ($target)"
    $NICE /usr/bin/cargo build --release "${locked[@]}" -Zbuild-std=std,panic_abort \
      --target "$target" --manifest-path "$HERE/$dir/Cargo.toml"
    src="$GUESTS/$target/release/$art.wasm"
    if [ "$target" = wasm32-unknown-unknown ]; then
      "$WASM_TOOLS" component new "$src" -o "$OUT/$out.tmp"
    else
      cp -f "$src" "$OUT/$out.tmp"
    fi
    "$WASM_TOOLS" validate --features all "$OUT/$out.tmp"
    mv -f "$OUT/$out.tmp" "$OUT/$out"
  done
)

# ------------------------------------------------------------------------------------------------
# Python: the same componentize-py as examples/hello-python, plain wasi:http/proxy world.
# WIT (wasi:*@0.2.0) comes from the spin-sdk 3.4.1 wheel that .ci/build-guests.sh installs.
# ------------------------------------------------------------------------------------------------
PY="$HERE/python-proxy"
VENV="$GUESTS/venv-bench-py"
SPIN_WIT=$(ls -d "$GUESTS"/venv-spin3/lib/python3*/site-packages/spin_sdk/wit/deps 2>/dev/null | head -1)
if newer_than "$OUT/python-hello.wasm" "$PY/app.py" "$PY/wit/world.wit" "$PY/requirements.txt"; then
  echo "bench guest python-hello.wasm is up to date"
else
  [ -n "$SPIN_WIT" ] || { echo "spin-sdk WIT not found: run 'bash .ci/build-guests.sh apt tools python' first" >&2; exit 1; }
  if ! [ -x "$VENV/bin/componentize-py" ] || ! cmp -s "$PY/requirements.txt" "$VENV/.requirements.txt"; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q -r "$PY/requirements.txt"
    cp "$PY/requirements.txt" "$VENV/.requirements.txt"
  fi
  rm -rf "$PY/wit/deps" && mkdir -p "$PY/wit/deps"
  for d in cli clocks filesystem http io random sockets; do cp -r "$SPIN_WIT/$d" "$PY/wit/deps/"; done
  echo "--- componentize-py bench/guests/python-proxy"
  # A venv *without* spin-sdk: componentize-py would merge spin-sdk's WIT into ours otherwise.
  ( cd "$PY" && $NICE "$VENV/bin/componentize-py" -d wit -w hello componentize app -o "$OUT/python-hello.wasm.tmp" )
  mv -f "$OUT/python-hello.wasm.tmp" "$OUT/python-hello.wasm"
  rm -rf "$PY/__pycache__"
fi
ls -l "$OUT"
