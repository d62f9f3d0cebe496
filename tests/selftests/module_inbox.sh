#!/bin/bash
# Selftest: processes that exit with connections queued on their inboxes,
# in the initial network namespace and in one that goes with them: the
# connections are reset and counted dropped, the module unloads at once,
# no warning in the kernel log.
set -u
. "$(dirname "$0")/lib.sh"
out=${NSTCP_SELFTEST_OUT:-$(dirname "$0")/out}
helper=$out/helpers/inbox_queued
tap_plan 6

dmesg_before=$(dmesg | wc -l)
insmod "$NSTCP_KO"
tap_ok $? "insmod nstcp.ko"
r=$("$helper" 3)
tap_ok "$([ "$r" = "queued 3" ]; echo $?)" "a process exited with 3 queued on its inbox ($r)"
row=$(for c in given accepted dropped queued; do
	nstcp_proc_col /proc/net/nstcp_inbox "$c" id total; done | paste -sd' ')
tap_ok "$([ "$row" = "3 0 3 0" ]; echo $?)" "counted given 3, dropped 3, none queued ($row)"
r=$(unshare -n sh -c "ip link set lo up && '$helper' 4")
tap_ok "$([ "$r" = "queued 4" ]; echo $?)" "... and one in a namespace that went with it ($r)"
ok=1
for _ in $(seq 30); do
	err=$(rmmod nstcp 2>&1) && { ok=0; break; }
	sleep 0.1
done
tap_ok $ok "rmmod within 3 s ($err)"
warn=$(dmesg | tail -n +"$((dmesg_before + 1))" | grep -ciE 'WARNING|BUG|leak|circular|possible')
tap_ok "$([ "$warn" -eq 0 ]; echo $?)" "no warning in the kernel log ($warn)"
tap_done
