#!/bin/bash
# Selftest: nstcp.ko loads, registers its family, instances and sysctls, and
# unloads cleanly, 100 times; a live socket pins it.
set -u
. "$(dirname "$0")/lib.sh"
tap_plan 8

insmod "$NSTCP_KO"
tap_ok $? "insmod nstcp.ko"
fam=$(cat /proc/sys/net/nstcp/family 2>/dev/null)
tap_ok "$([ "$fam" = 19 ]; echo $?)" "net.nstcp.family reads 19 (got '$fam')"
rows=$(nstcp_proc_col /proc/net/nstcp cpu | wc -l)
tap_ok "$([ "$rows" -eq "$(nproc --all)" ]; echo $?)" "/proc/net/nstcp has one row per CPU ($rows)"
online=$(nstcp_proc_col /proc/net/nstcp online | grep -cx 1)
tap_ok "$([ "$online" -eq "$(nproc)" ]; echo $?)" "every online CPU has an online instance ($online)"

# A live AF_NSTCP socket pins the module: rmmod must fail with EBUSY.
# The helper prints its pid, so that it alone is ended, by pid.
exec 7< <(python3 -c 'import os,socket,sys,time; s=socket.socket(19,socket.SOCK_STREAM,0); print("open",os.getpid(),flush=True); time.sleep(30)')
word= pid=
read -r -t 90 word pid <&7
err=$(rmmod nstcp 2>&1)
tap_ok "$([ "$word" = open ] && grep -q 'in use' <<<"$err"; echo $?)" "rmmod with a live socket fails busy ($err)"
case "$pid" in
''|*[!0-9]*) echo "# the socket helper gave no pid ('$word $pid')" ;;
*)	kill "$pid"
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done ;;
esac
exec 7<&-

rmmod nstcp
tap_ok $? "rmmod after the last close"

bad=0
for i in $(seq 100); do
	insmod "$NSTCP_KO" || { bad=$i; break; }
	rmmod nstcp || { bad=$i; break; }
done
tap_ok "$([ $bad -eq 0 ]; echo $?)" "100 insmod/rmmod cycles (first failure at $bad)"

insmod "$NSTCP_KO" family=1 2>/dev/null
rc=$?
grep -q '^nstcp ' /proc/modules && rmmod nstcp
tap_ok "$([ $rc -ne 0 ]; echo $?)" "a taken family number (1, AF_UNIX) is refused at load"
tap_done
