#!/usr/bin/env bash
# Quickstart, no cluster needed: two region keys and a recovery key, a kubectl-made Secret sealed
# for both regions, and each region's controller rendering the Secret it would apply.
#
# scripts/quickstart.sh --regions: on Linux as root, two real regions on this machine instead
# (two Kubernetes control planes; the active one with a node and the controller as Pods from the
# image scripts/image.sh builds, the standby's controller as a local process), one Secret sealed
# for both, then the active region stopped and the standby still serving. It stops everything it
# started. Where it cannot run, it says what it needs and runs the offline quickstart.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${AGESEAL_CACHE:-$HOME/.cache/ageseal}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"

case "${1:-}" in
  "") ;;
  --regions)
    cd "$repo"
    needs=""
    if [ "$(uname -s)" != Linux ]; then
      needs="Linux"
    elif [ "$(id -u)" != 0 ]; then
      needs="root (a node makes a bridge and iptables rules and runs containerd)"
    else
      . scripts/envtest.sh
      envtest_assets
      if [ "$envtest_found" != true ]; then
        needs="the Kubernetes binaries: KUBEBUILDER_ASSETS naming a folder with etcd, kube-apiserver, kube-controller-manager, kubelet, kube-scheduler and pause.tar (localhost/pause:3.10.2)"
      else
        envtest_node
        needs=$node_missing
      fi
    fi
    if [ -z "$needs" ]; then
      echo "building the controller image (scripts/image.sh), ageseal and ageseal-controller..."
      bash scripts/image.sh "$cache/ageseal-controller.tar"
      cargo build --quiet --locked -p ageseal -p ageseal-controller -p ageseal-testenv --bin ageseal-regions-quickstart
      export PATH="$CARGO_TARGET_DIR/debug:$PATH" AGESEAL_IMAGE_TAR="$cache/ageseal-controller.tar"
      exec ageseal-regions-quickstart
    fi
    echo "quickstart --regions needs $needs."
    echo "Running the quickstart without a cluster instead."
    ;;
  *) echo "usage: scripts/quickstart.sh [--regions]" >&2; exit 2 ;;
esac

command -v kubectl >/dev/null || { echo "quickstart needs kubectl (it makes the input Secret)"; exit 1; }
echo "building ageseal and ageseal-controller..."
cargo build --quiet --manifest-path "$repo/Cargo.toml" -p ageseal -p ageseal-controller
export PATH="$CARGO_TARGET_DIR/debug:$PATH"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/repo" "$work/keys"
cd "$work/repo"
step() { printf '\n$ %s\n' "$*"; }

echo "working in a scratch repository: $work/repo (private keys go to $work/keys, never into the repository)"
step "ageseal keygen -o ../keys/us-east-1.key   # in real life each region's controller makes its own key"
east=$(ageseal keygen -o ../keys/us-east-1.key); echo "$east"
step "ageseal keygen -o ../keys/us-west-2.key"
west=$(ageseal keygen -o ../keys/us-west-2.key); echo "$west"
step "ageseal keygen -o ../keys/recovery.key     # break-glass key, kept offline (or KMS-wrapped)"
recovery=$(ageseal keygen -o ../keys/recovery.key); echo "$recovery"

step "ageseal region add us-east-1 --recipient $east"
ageseal region add us-east-1 --recipient "$east"
step "ageseal region add us-west-2 --recipient $west"
ageseal region add us-west-2 --recipient "$west"
step "ageseal recovery add break-glass --recipient $recovery"
ageseal recovery add break-glass --recipient "$recovery"
step "cat .ageseal.yaml"
cat .ageseal.yaml

mkdir -p apps/payments
step "kubectl create secret generic db -n payments --from-literal=username=app --from-literal=password=correct-horse --dry-run=client -o yaml | ageseal seal -o apps/payments/db.yaml"
kubectl create secret generic db -n payments --from-literal=username=app \
  --from-literal=password=correct-horse --dry-run=client -o yaml \
  | ageseal seal -o apps/payments/db.yaml
step "cat apps/payments/db.yaml   # safe to commit"
cat apps/payments/db.yaml

step "ageseal verify   # what CI runs"
ageseal verify

step "ageseal-controller render -f apps/payments/db.yaml -i ../keys/us-east-1.key   # active region"
ageseal-controller render -f apps/payments/db.yaml -i ../keys/us-east-1.key 2>/dev/null | tee ../east.out
step "ageseal-controller render -f apps/payments/db.yaml -i ../keys/us-west-2.key   # warm standby"
ageseal-controller render -f apps/payments/db.yaml -i ../keys/us-west-2.key 2>/dev/null | tee ../west.out
cmp -s ../east.out ../west.out
echo
echo "both regions produce the same Secret from the same file."

step "sed 's/namespace: payments/namespace: billing/' apps/payments/db.yaml > ../stolen.yaml"
sed 's/namespace: payments/namespace: billing/' apps/payments/db.yaml > ../stolen.yaml
step "ageseal-controller render -f ../stolen.yaml -i ../keys/us-east-1.key   # a value copied elsewhere is refused"
if ageseal-controller render -f ../stolen.yaml -i ../keys/us-east-1.key; then
  echo "unexpected: a replayed value was accepted"; exit 1
fi
echo
echo "quickstart done."
