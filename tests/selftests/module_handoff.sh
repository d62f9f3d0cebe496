#!/bin/bash
# Selftest: hand-off tokens left pending by processes that exited, in the
# initial network namespace and in one that is gone: the module stays busy
# until they expire, then unloads; no warning in the kernel log.
set -u
. "$(dirname "$0")/lib.sh"
out=${NSTCP_SELFTEST_OUT:-$(dirname "$0")/out}
helper=$out/helpers/handoff_pending
tap_plan 7

dmesg_before=$(dmesg | wc -l)
insmod "$NSTCP_KO"
tap_ok $? "insmod nstcp.ko"
r=$("$helper" 1500)
tap_ok "$([ "$r" = pending ]; echo $?)" "a process left a token pending and exited ($r)"
pending=$(nstcp_nl handoff cpu | wc -l)
tap_ok "$([ "$pending" -eq 1 ]; echo $?)" "nstcp handoff show lists it ($pending)"
r=$(unshare -n sh -c "ip link set lo up && '$helper' 1500")
tap_ok "$([ "$r" = pending ]; echo $?)" "... and one in a namespace whose last process exited ($r)"
err=$(rmmod nstcp 2>&1)
tap_ok "$(grep -q 'in use' <<<"$err"; echo $?)" "rmmod with tokens pending fails busy ($err)"
ok=1
for _ in $(seq 60); do
	sleep 0.1
	rmmod nstcp 2>/dev/null && { ok=0; break; }
done
tap_ok $ok "rmmod once they expired"
warn=$(dmesg | tail -n +"$((dmesg_before + 1))" | grep -ciE 'WARNING|BUG|leak|circular|possible')
tap_ok "$([ "$warn" -eq 0 ]; echo $?)" "no warning in the kernel log ($warn)"
tap_done
