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

# Manifest checks: kubernetes-validate (PyPI) and a Lua interpreter for the Argo CD health check.
K8S_VERSION=1.34.0
KUBERNETES_VALIDATE=1.37.0
if ! python3 -m kubernetes_validate --version 2>/dev/null | grep -q "$KUBERNETES_VALIDATE"; then
  echo "test.sh: installing kubernetes-validate==$KUBERNETES_VALIDATE"
  python3 -m pip install -q --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE"
fi
install_debian lua5.4
# moto_server is the KMS-compatible endpoint the KMS tests start on loopback.
MOTO=5.2.1
if ! command -v moto_server >/dev/null 2>&1; then
  echo "test.sh: installing moto[server]==$MOTO"
  python3 -m pip install -q --disable-pip-version-check "moto[server]==$MOTO"
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

step "deploy/: CRD drift, kustomize overlays, strict validation against Kubernetes $K8S_VERSION"
scratch="$(mktemp -d)"
trap 'rm -f "$log"; rm -rf "$scratch"' EXIT
cargo build --quiet --locked -p ageseal-controller
"$CARGO_TARGET_DIR/debug/ageseal-controller" crd > "$scratch/crd.yaml"
if ! diff -u deploy/crd.yaml "$scratch/crd.yaml"; then
  echo "deploy/crd.yaml differs from ageseal-controller crd: run"
  echo "  cargo run -p ageseal-controller -- crd > deploy/crd.yaml"
  exit 1
fi
validate() { python3 -m kubernetes_validate --strict --quiet -k "$K8S_VERSION" "$@"; }
validate deploy/crd.yaml
for overlay in deploy/overlays/*/; do
  name="$(basename "$overlay")"
  kubectl kustomize "$overlay" > "$scratch/$name.yaml"
  validate "$scratch/$name.yaml"
  grep -q -- "--region=$name" "$scratch/$name.yaml" || { echo "$overlay does not set --region=$name"; exit 1; }
  echo "$overlay: rendered and valid"
done
# The validator must be able to fail: an unknown field in a Deployment is rejected.
sed 's/^spec:$/spec:\n  replicaz: 3/' "$scratch/us-east-1.yaml" > "$scratch/broken.yaml"
if validate "$scratch/broken.yaml" >/dev/null 2>&1; then
  echo "kubernetes-validate accepted a broken manifest"; exit 1
fi
python3 scripts/validate_sealed.py deploy/crd.yaml deploy/examples/sealedsecret.yaml
sed 's/encryptedData:/encryptedDatum:/' deploy/examples/sealedsecret.yaml > "$scratch/bad-sealed.yaml"
if python3 scripts/validate_sealed.py deploy/crd.yaml "$scratch/bad-sealed.yaml" >/dev/null; then
  echo "the CRD schema accepted a malformed SealedSecret"; exit 1
fi
lua5.4 deploy/monitoring/argocd-health-test.lua

step "scripts/quickstart.sh (the README's quickstart)"
if ! bash scripts/quickstart.sh >"$log.quickstart" 2>&1; then
  cat "$log.quickstart"; rm -f "$log.quickstart"; exit 1
fi
rm -f "$log.quickstart"

# cargo's last line is often a doc-test run of 0 tests; close with the whole run's totals.
# Counts cargo's "test result:" lines and the drill's own "drill: N passed, N failed" line.
read -r passed failed < <(awk '/^test result:|^drill: [0-9]+ passed/ {
  for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }
} END { print p + 0, f + 0 }' "$log")
step "all checks passed"
echo "tests: $passed passed, $failed failed"
