#!/usr/bin/env bash
# The one test command (README, .ci/run): installs the test peers when missing, then checks
# formatting, lints and runs every test. Any failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

# One target dir per machine, shared by every checkout, so a second run does not rebuild.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ageseal/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_debian() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "test.sh: installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The age CLI is the interop peer: it must open what we seal and we must open what it writes.
install_debian age
# kubectl makes the test input (kubectl create secret --dry-run=client); the machine image ships it.
if ! command -v kubectl >/dev/null 2>&1; then
  install_debian kubectl || true
  command -v kubectl >/dev/null 2>&1 || { echo "test.sh: kubectl is required and could not be installed"; exit 1; }
fi

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test --workspace"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"

step "scripts/quickstart.sh (the README's quickstart)"
if ! bash scripts/quickstart.sh >"$log.quickstart" 2>&1; then
  cat "$log.quickstart"; rm -f "$log.quickstart"; exit 1
fi
rm -f "$log.quickstart"

# cargo's last line is often a doc-test run of 0 tests; close with the whole run's totals.
read -r passed failed < <(awk '/^test result:/ {
  for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }
} END { print p + 0, f + 0 }' "$log")
step "all checks passed"
echo "tests: $passed passed, $failed failed"
