#!/usr/bin/env bash
# Builds the controller image from this checkout, offline: no registry, no Docker.
#
#   scripts/image.sh OUT.tar          the image, localhost/ageseal-controller:<version>, as a
#                                     tarball for `ctr -n k8s.io images import OUT.tar` or
#                                     `docker load -i OUT.tar`
#   scripts/image.sh --binary DEST    only the static binary (deploy/Dockerfile builds with this)
#
# The binary is ageseal-controller linked statically against glibc (position independent, so
# its addresses are still randomized): the image needs no libc, no loader and no shell. The image
# holds that binary, the CA roots (/etc/ssl/certs/ca-certificates.crt, for AWS KMS over TLS; the
# API server's CA comes from the ServiceAccount volume) and a passwd/group naming 65532
# "nonroot"; it runs as 65532:65532. Prints the image name, digest and size.
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${AGESEAL_CACHE:-$HOME/.cache/ageseal}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"

usage() { echo "usage: scripts/image.sh OUT.tar | --binary DEST" >&2; exit 2; }
[ $# -ge 1 ] || usage

build_binary() {
  # Only the final link differs from `cargo build --release -p ageseal-controller` (static, and
  # without the symbol table, which would be two thirds of the image).
  cargo rustc --quiet --locked --release -p ageseal-controller --bin ageseal-controller -- \
    -C target-feature=+crt-static -C strip=symbols
  local built="$CARGO_TARGET_DIR/release/ageseal-controller"
  if ldd "$built" >/dev/null 2>&1 && ! ldd "$built" 2>&1 | grep -q 'statically linked'; then
    echo "image.sh: $built is dynamically linked; it cannot run in an image without libc" >&2
    exit 1
  fi
  install -m 0755 "$built" "$1"
}

if [ "$1" = --binary ]; then
  [ $# -eq 2 ] || usage
  build_binary "$2"
  exit 0
fi
[ $# -eq 1 ] || usage
out=$1
case "$out" in -*) usage ;; esac
[ -d "$(dirname "$out")" ] || { echo "image.sh: the folder of $out does not exist" >&2; exit 1; }
ca=/etc/ssl/certs/ca-certificates.crt
[ -s "$ca" ] || { echo "image.sh: $ca is missing: install Debian's ca-certificates" >&2; exit 1; }
command -v python3 >/dev/null || { echo "image.sh: python3 is needed to write the image" >&2; exit 1; }

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
build_binary "$stage/ageseal-controller"
printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' >"$stage/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$stage/group"
python3 scripts/oci-image.py "$out" "localhost/ageseal-controller:$version" \
  --entrypoint '["/usr/local/bin/ageseal-controller"]' --user 65532:65532 \
  --file "$stage/ageseal-controller:/usr/local/bin/ageseal-controller:0755" \
  --file "$ca:/etc/ssl/certs/ca-certificates.crt:0644" \
  --file "$stage/passwd:/etc/passwd:0644" --file "$stage/group:/etc/group:0644" \
  --label "org.opencontainers.image.title=ageseal-controller" \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.revision=$commit" \
  --label "org.opencontainers.image.source=https://github.com/ageseal/ageseal"
