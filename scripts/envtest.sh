# Sourced by scripts/test.sh and scripts/quickstart.sh: Debian packages when missing, and the
# binaries of a real control plane (and of a real node) in the envtest layout. Needs $cache.
#
# install_debian PKG...: installs the packages that are not installed yet (sudo unless root).
# envtest_assets: sets KUBEBUILDER_ASSETS, unpacking and checksumming ../shared/envtest's
#   kube-apiserver and kube-controller-manager into $cache/envtest/1.36.2 when it is unset
#   (etcd from Debian's etcd-server); envtest_found=false when there are no binaries to be had.
# envtest_node: as root, adds what a node needs: kubelet, kube-scheduler and the sandbox image
#   beside them, and Debian's containerd, runc, CNI plugins and iptables; node_missing says why
#   no node can start here (empty when one can).
# Both are called as plain commands (not in `if`), so that under `set -e` a failed unpack or
# checksum stops the caller instead of passing for "no binaries".

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_debian() {
  local missing=() pkg
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

envtest_assets() {
  install_debian etcd-server openssl xz-utils
  envtest_found=true
  if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
    return 0
  fi
  if [ ! -d ../shared/envtest ]; then
    envtest_found=false; return 0
  fi
  local assets="$cache/envtest/1.36.2" sums
  sums="$(realpath ../shared/envtest/SHA256SUMS)"
  if ! (cd "$assets" 2>/dev/null && sha256sum --quiet -c "$sums" >/dev/null 2>&1); then
    echo "unpacking kube-apiserver and kube-controller-manager into $assets"
    mkdir -p "$assets"
    envtest_unpack "$assets" kube-apiserver kube-controller-manager
    (cd "$assets" && sha256sum --quiet -c "$sums")
  fi
  ln -sf "$(command -v etcd || echo /usr/bin/etcd)" "$assets/etcd"
  export KUBEBUILDER_ASSETS="$assets"
}

envtest_unpack() {
  local into=$1 f
  shift
  for f in "$@"; do
    xz -dc "../shared/envtest/$f.xz" > "$into/$f.partial" && chmod +x "$into/$f.partial"
    mv "$into/$f.partial" "$into/$f"
  done
}

envtest_node() {
  node_missing=""
  if [ "$(id -u)" != 0 ]; then
    node_missing="a node needs root (a bridge, iptables rules, containerd)"; return 0
  fi
  if [ -z "${KUBEBUILDER_ASSETS:-}" ]; then
    node_missing="no control-plane binaries (KUBEBUILDER_ASSETS)"; return 0
  fi
  install_debian containerd runc containernetworking-plugins iptables iproute2 ca-certificates
  local f have=true
  for f in kubelet kube-scheduler pause.tar; do [ -f "$KUBEBUILDER_ASSETS/$f" ] || have=false; done
  if [ -f ../shared/envtest/kubelet.xz ]; then
    local sums
    sums="$(realpath ../shared/envtest/SHA256SUMS.node)"
    if ! (cd "$KUBEBUILDER_ASSETS" && sha256sum --quiet -c "$sums" >/dev/null 2>&1); then
      echo "unpacking kubelet, kube-scheduler and pause.tar into $KUBEBUILDER_ASSETS"
      envtest_unpack "$KUBEBUILDER_ASSETS" kubelet kube-scheduler
      cp ../shared/envtest/pause.tar "$KUBEBUILDER_ASSETS/pause.tar"
      (cd "$KUBEBUILDER_ASSETS" && sha256sum --quiet -c "$sums")
    fi
  elif [ "$have" = false ]; then
    node_missing="KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS has no kubelet, kube-scheduler and pause.tar (a sandbox image named localhost/pause:3.10.2)"
  fi
}
