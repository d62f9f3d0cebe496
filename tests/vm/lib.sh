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

# The 6.12 guest kernel: Debian's bookworm-backports linux-image-amd64.
VM_612_SUITE=bookworm-backports

# vm_apt_get ARGS...: apt-get as root, logged to $NSTCP_CACHE/apt.log, waiting
# for a dpkg lock another apt holds; fails quietly (the log has the reason).
vm_apt_get() {
	[ "$(id -u)" -eq 0 ] || vm_die "need root for apt-get $*"
	mkdir -p "$NSTCP_CACHE"
	DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 "$@" \
		>>"$NSTCP_CACHE/apt.log" 2>&1
}

# vm_need_backports: apt knows $VM_612_SUITE, from a sources entry of its
# own on the archive that already serves bookworm (added when missing).
vm_need_backports() {
	local list=/etc/apt/sources.list.d/nstcp-$VM_612_SUITE.sources uri key
	# shellcheck disable=SC2016  # apt's own $(...) format fields
	if ! apt-get indextargets --format '$(RELEASE)' 2>/dev/null | grep -qx "$VM_612_SUITE"; then
		[ "$(id -u)" -eq 0 ] || vm_die "need root to add the $VM_612_SUITE suite to apt"
		# shellcheck disable=SC2016
		uri=$(apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 2>/dev/null |
			awk '$1 == "bookworm" { print $2; exit }')
		[ -n "$uri" ] || vm_die "apt has no bookworm source to add $VM_612_SUITE beside"
		key=/usr/share/keyrings/debian-archive-keyring.gpg
		vm_log "adding the $VM_612_SUITE suite ($list)"
		{
			printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n' "$uri" "$VM_612_SUITE"
			[ -r "$key" ] && printf 'Signed-By: %s\n' "$key"
		} >"$list"
	fi
	if ! apt-cache policy 2>/dev/null | grep -q "n=$VM_612_SUITE,"; then
		vm_log "apt-get update (for $VM_612_SUITE)"
		vm_apt_get update || vm_die "apt-get update failed (see $NSTCP_CACHE/apt.log)"
	fi
}

# The ABI name of the 6.12 kernel (6.12.NN+...-amd64), read from the
# Depends of the $VM_612_SUITE linux-image-amd64 metapackage.  Cached in
# $NSTCP_CACHE while that kernel is installed; rediscovered otherwise.
vm_612_abi() {
	local cache=$NSTCP_CACHE/abi-612 abi ver
	abi=$(cat "$cache" 2>/dev/null || true)
	if [ -n "$abi" ] && dpkg-query -W -f='${Status}' "linux-image-$abi" 2>/dev/null |
		grep -q 'ok installed'; then
		printf '%s\n' "$abi"
		return 0
	fi
	vm_need_backports
	ver=$(apt-cache madison linux-image-amd64 2>/dev/null |
		awk -F' *[|] *' -v s="$VM_612_SUITE" '$3 ~ "^[^ ]* "s"/" { print $2; exit }')
	[ -n "$ver" ] || vm_die "no linux-image-amd64 in $VM_612_SUITE"
	abi=$(apt-cache show "linux-image-amd64=$ver" 2>/dev/null | sed -n 's/^Depends: //p' |
		head -n1 | tr ',' '\n' | sed -n 's/^ *linux-image-\([0-9][^ ]*-amd64\).*/\1/p' | head -n1)
	[ -n "$abi" ] || vm_die "cannot discover the 6.12 kernel ABI from $VM_612_SUITE's linux-image-amd64 $ver"
	mkdir -p "$NSTCP_CACHE"
	printf '%s\n' "$abi" >"$cache"
	printf '%s\n' "$abi"
}

# vm_need_612: the 6.12 image and headers installed, by their versioned
# names from $VM_612_SUITE, so the linux-image-amd64 and
# linux-headers-amd64 metapackages stay at the stock kernel.  Prints the ABI.
vm_need_612() {
	local abi p try missing stock
	stock=$(vm_stock_abi) || exit 2
	for try in 1 2 3; do
		abi=$(vm_612_abi) || exit 2
		missing=()
		for p in "linux-image-$abi" "linux-headers-$abi"; do
			dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
				missing+=("$p")
		done
		if [ ${#missing[@]} -eq 0 ]; then
			printf '%s\n' "$abi"
			return 0
		fi
		[ "$try" -lt 3 ] || break
		vm_log "installing ${missing[*]} from $VM_612_SUITE"
		# By name only: apt would otherwise also move every installed
		# package of the same source (linux-image-amd64, linux-headers-amd64,
		# linux-libc-dev, linux-perf) to the suite, and the stock kernel
		# (vm_stock_abi) with them.
		if vm_apt_get install -y --no-install-recommends -t "$VM_612_SUITE" \
			-o APT::Get::Upgrade-By-Source-Package=false "${missing[@]}"; then
			[ "$(vm_stock_abi)" = "$stock" ] ||
				vm_die "installing the 6.12 kernel changed the stock kernel ($stock to $(vm_stock_abi))"
			continue
		fi
		# Old package lists name a kernel the archive no longer has.
		[ "$try" -eq 1 ] && vm_apt_get update && rm -f "$NSTCP_CACHE/abi-612"
	done
	tail -20 "$NSTCP_CACHE/apt.log" >&2
	vm_die "cannot install Debian's 6.12 kernel from $VM_612_SUITE"
}

vm_612_kdir() {
	local abi
	abi=$(vm_need_612) || exit 2
	printf '/usr/src/linux-headers-%s\n' "$abi"
}

# The multi-queue test NIC (tests/vm/run --nic mq): a multi_queue tap in a
# host network namespace of its own, addresses from 198.18.0.0/15.
VM_NIC_PACKAGES=(iproute2 ethtool procps)
VM_NIC_TAP=nstcptap0
VM_NIC_HOST=198.18.0.1
VM_NIC_GUEST=198.18.0.2

# vm_nic_up RUNDIR QUEUES: the namespace (its name in RUNDIR/nic.ns, unique
# per run) with the tap up at $VM_NIC_HOST/24.
vm_nic_up() {
	local ns
	ns=nstcp-vm-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
	# Named first: a runner killed right after the add leaves no
	# namespace the next run's sweep cannot find.
	printf '%s\n' "$ns" >"$1/nic.ns"
	ip netns add "$ns" || vm_die "cannot create network namespace $ns"
	ip -n "$ns" link set lo up &&
		ip -n "$ns" tuntap add dev "$VM_NIC_TAP" mode tap multi_queue &&
		ip -n "$ns" addr add "$VM_NIC_HOST/24" dev "$VM_NIC_TAP" &&
		ip -n "$ns" link set "$VM_NIC_TAP" up ||
		vm_die "cannot set up the tap $VM_NIC_TAP in $ns"
}

# vm_nic_host_cmd RUNDIR CMD: CMD (bash -c) in the namespace, in the
# background in a session of its own (its pid in RUNDIR/nic.pid).  It does
# not inherit the guest lock's descriptor (9): a host command outliving a
# killed run must not keep every later guest waiting.
vm_nic_host_cmd() {
	local ns
	ns=$(cat "$1/nic.ns")
	setsid ip netns exec "$ns" bash -c "$2" </dev/null >"$1/nic-host.log" 2>&1 9>&- &
	printf '%s\n' "$!" >"$1/nic.pid"
}

# vm_nic_host_stop RUNDIR: kills the host command's session and shows its
# last output; safe to call twice, never fails.
vm_nic_host_stop() {
	local pid
	pid=$(cat "$1/nic.pid" 2>/dev/null || true)
	[ -n "$pid" ] || return 0
	kill -TERM -- "-$pid" 2>/dev/null || true
	sleep 0.2
	kill -KILL -- "-$pid" 2>/dev/null || true
	rm -f "$1/nic.pid"
	if [ -s "$1/nic-host.log" ]; then
		vm_log "host command's last output:"
		tail -n 20 "$1/nic-host.log" | sed 's/^/  host| /' >&2 || true
	fi
}

# vm_nic_down RUNDIR: kills the host command's session and whatever still
# runs in the namespace, shows the command's last output and removes the
# tap and the namespace; safe to call twice, never fails (an EXIT trap).
vm_nic_down() {
	vm_nic_host_stop "$1"
	vm_nic_reap "$1"
}

# vm_nic_reap RUNDIR: kills what runs in RUNDIR's namespace and removes its
# tap and the namespace; never fails.  Also for the run directory of a
# runner killed by SIGKILL: its host command is found in the namespace, not
# by the pid in nic.pid, which another process may have by now.
vm_nic_reap() {
	local ns pid pids i
	ns=$(cat "$1/nic.ns" 2>/dev/null || true)
	case "$ns" in nstcp-vm-*) ;; *) return 0 ;; esac
	# Again while processes are left: one may fork meanwhile.
	for ((i = 0; i < 10; i++)); do
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		[ -n "$pids" ] || break
		for pid in $pids; do
			kill -KILL "$pid" 2>/dev/null || true
		done
		sleep 0.1
	done
	ip -n "$ns" link del "$VM_NIC_TAP" 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	rm -f "$1/nic.ns"
}

# vm_need_irqbalance: Debian's irqbalance unpacked, not installed, in
# $NSTCP_CACHE/irqbalance (the guests see it there: queue_irqbalance runs
# it): installing the package would enable and start irqbalance.service
# on the host itself.
VM_IRQBALANCE=$NSTCP_CACHE/irqbalance/usr/sbin/irqbalance
vm_need_irqbalance() {
	local dir=$NSTCP_CACHE/irqbalance tmp
	[ -x "$VM_IRQBALANCE" ] && return 0
	[ "$(id -u)" -eq 0 ] || vm_die "irqbalance missing in $dir (need root to fetch it)"
	vm_need_packages libglib2.0-0 libnuma1 libcap-ng0 libncursesw6 libsystemd0
	vm_log "unpacking irqbalance into $dir"
	tmp=$(mktemp -d "$NSTCP_CACHE/irqbalance.XXXXXX")
	if ! (cd "$tmp" && apt-get download -q irqbalance) >>"$NSTCP_CACHE/apt.log" 2>&1; then
		apt-get update -q >>"$NSTCP_CACHE/apt.log" 2>&1 || true
		(cd "$tmp" && apt-get download -q irqbalance) >>"$NSTCP_CACHE/apt.log" 2>&1 ||
			{ rm -rf "$tmp"; vm_die "apt-get download irqbalance failed"; }
	fi
	dpkg-deb -x "$tmp"/irqbalance_*.deb "$tmp/root" && rm -rf "$dir" &&
		mv "$tmp/root" "$dir" && chmod 0755 "$dir"
	rm -rf "$tmp"
	[ -x "$VM_IRQBALANCE" ] || vm_die "unpacking irqbalance failed"
}

# What a guest's kernel log must not hold: any line matching this fails the run.
VM_SPLAT='WARNING:|BUG:|Oops|Kernel panic|kernel BUG|KASAN|UBSAN|general protection fault|'
VM_SPLAT+='possible circular locking|possible recursive locking|inconsistent lock state|'
VM_SPLAT+='suspicious RCU usage|lock held when returning|blocked for more than|rcu_.*stall|'
VM_SPLAT+='detected stalls|soft lockup|hard LOCKUP|sleeping function called from invalid context|'
VM_SPLAT+='Call Trace:'

# vm_dmesg_known FILE: FILE's lines less one known warning of the kernel's
# own, whose blocks are counted on stderr: get_rps_cpu()'s WARN_ONCE
# "DEV received packet on queue Q, but number of RX queues is N", the
# virtio_net race when its channels are reduced (ethtool -L, which
# `nstcp queue bind` does) while a packet of a dropped queue is still in
# its NAPI, with RPS or RFS on; the packet is delivered without RPS.  Only
# a whole block (cut here .. end trace) holding that message, one WARNING
# at get_rps_cpu and no other splat line is left out; anything else stays.
vm_dmesg_known() {
	awk -v splat="$VM_SPLAT" '
	function flush(keep,   i) {
		if (keep)
			for (i = 1; i <= nb; i++) print buf[i]
		else
			known++
		nb = 0; inblk = 0
	}
	/-+\[ cut here \]-+/ { if (inblk) flush(1); inblk = 1; nb = 0; msg = 0; warn = 0; calls = 0; other = 0 }
	inblk {
		buf[++nb] = $0
		if ($0 ~ /received packet on queue [0-9]+, but number of RX queues is [0-9]+/) msg++
		else if ($0 ~ /WARNING: .* at net\/core\/dev\.c:[0-9]+ get_rps_cpu/) warn++
		else if ($0 ~ /Call Trace:/) calls++
		else if ($0 ~ splat) other++
		if ($0 ~ /---\[ end trace/) flush(!(msg == 1 && warn == 1 && calls <= 1 && other == 0))
		next
	}
	{ print }
	END {
		if (inblk) flush(1)
		if (known) printf "nstcp-vm: left out %d known kernel warning(s): get_rps_cpu on a removed RX queue (virtio_net channels reduced)\n", known > "/dev/stderr"
	}' "$1"
}
