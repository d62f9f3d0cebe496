#!/bin/bash
# Selftest: per-CPU instances follow CPU hotplug: a CPU taken offline takes
# its instance offline (and back), and AF_NSTCP sockets keep working.
set -u
. "$(dirname "$0")/lib.sh"
tap_plan 6
out=$(dirname "$0")/out
row() { nstcp_proc_col /proc/net/nstcp online cpu "$1"; }
cpu=$(($(nproc --all) - 1))
ctl=/sys/devices/system/cpu/cpu$cpu/online
if [ "$cpu" -lt 1 ] || [ ! -w "$ctl" ]; then
	for i in 1 2 3 4 5 6; do echo "ok $i - instance hotplug # SKIP no hot-pluggable CPU"; done
	exit 0
fi
tap_ok "$([ "$(row "$cpu")" = 1 ]; echo $?)" "instance $cpu online while CPU $cpu is"
echo 0 >"$ctl"
tap_ok $? "CPU $cpu taken offline"
tap_ok "$([ "$(row "$cpu")" = 0 ]; echo $?)" "instance $cpu goes offline with its CPU"
"$out/instance_hops" >/tmp/hotplug-traffic.log 2>&1
tap_ok $? "AF_NSTCP traffic works with CPU $cpu offline"
echo 1 >"$ctl"
tap_ok $? "CPU $cpu back online"
tap_ok "$([ "$(row "$cpu")" = 1 ]; echo $?)" "instance $cpu comes back online"
tap_done
