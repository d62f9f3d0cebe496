# Shared helpers of the AF_NSTCP test hosts; sourced, never run.
# shellcheck shell=bash

NSTCP_CACHE=${NSTCP_CACHE:-/var/cache/nstcp}
NSTCP_VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NSTCP_TOP=$(cd "$NSTCP_VM_DIR/../.." && pwd)

vm_log() { printf 'nstcp-vm: %s\n' "$*" >&2; }
vm_die() { vm_log "error: $*"; exit 2; }

# vm_need_packages PKG... installs the Debian packages that are missing.
vm_need_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || vm_die "missing packages (need root to install): ${missing[*]}"
	vm_log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -q "${missing[@]}" >"$NSTCP_CACHE/apt.log" 2>&1; then
		apt-get update -q >>"$NSTCP_CACHE/apt.log" 2>&1 || true
		apt-get install -y -q "${missing[@]}" >>"$NSTCP_CACHE/apt.log" 2>&1 ||
			{ tail -20 "$NSTCP_CACHE/apt.log" >&2; vm_die "apt-get install failed"; }
	fi
}

# Packages every host-side step needs.
VM_BASE_PACKAGES=(qemu-system-x86 busybox-static linux-image-amd64 linux-headers-amd64
	kmod cpio make gcc bc bison flex libelf-dev libssl-dev sparse iproute2
	xz-utils python3 util-linux)

# The ABI name of Debian's current stock kernel (6.1.0-NN-amd64), read from
# the linux-image-amd64 metapackage so security updates are followed.
vm_stock_abi() {
	local dep
	dep=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null | tr ',' '\n' |
		sed -n 's/^ *linux-image-\([0-9][^ ]*-amd64\).*/\1/p' | head -n1)
	[ -n "$dep" ] || vm_die "cannot discover the stock kernel ABI from linux-image-amd64"
	printf '%s\n' "$dep"
}

vm_stock_kdir() { printf '/usr/src/linux-headers-%s\n' "$(vm_stock_abi)"; }

# vm_debug_key: content key of the debug kernel (source version + fragment).
vm_debug_key() {
	{
		dpkg-query -W -f='${Version}\n' linux-source-6.1
		cat "$NSTCP_VM_DIR/debug.config"
		sed -n '/^# BUILD-RECIPE-BEGIN/,/^# BUILD-RECIPE-END/p' "$NSTCP_VM_DIR/build-debug-kernel"
	} | sha256sum | cut -c1-16
}

vm_debug_kdir() { printf '%s/kernel-debug-%s\n' "$NSTCP_CACHE" "$(vm_debug_key)"; }
