#!/bin/bash
# Selftest: net.nstcp.* sysctls take only what their bounds allow; bad
# writes get EINVAL and leave the value, read-only ones refuse writes.
set -u
. "$(dirname "$0")/lib.sh"
tap_plan 7
d=/proc/sys/net/nstcp
# write_err FILE VALUE -> prints the error of a write as python reports it
write_err() {
	python3 - "$1" "$2" <<'PY'
import errno, os, sys
try:
    fd = os.open(sys.argv[1], os.O_WRONLY)
    try:
        os.write(fd, sys.argv[2].encode())
    finally:
        os.close(fd)
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])
PY
}
# hop_accounting is set below: its value now is put back at the end.
saved=$(cat $d/hop_accounting 2>/dev/null)
restore() { [ -n "$saved" ] && echo "$saved" >$d/hop_accounting; }
trap restore EXIT
tap_ok "$([ -r $d/family ] && [ -r $d/hop_accounting ]; echo $?)" "net.nstcp.family and hop_accounting exist"
echo 1 >$d/hop_accounting
for v in 2 -1 abc; do
	e=$(write_err $d/hop_accounting "$v")
	tap_ok "$([ "$e" = EINVAL ] && [ "$(cat $d/hop_accounting)" = 1 ]; echo $?)" \
		"hop_accounting=$v is refused with EINVAL ($e), value kept"
done
e=$(write_err $d/hop_accounting 0)
tap_ok "$([ "$e" = OK ] && [ "$(cat $d/hop_accounting)" = 0 ]; echo $?)" "hop_accounting=0 is taken ($e)"
restore
e=$(write_err $d/family 7)
tap_ok "$([ "$e" = EACCES ] && [ "$(cat $d/family)" = 19 ]; echo $?)" "family is read-only ($e)"
tap_ok "$([ "$(sysctl -n net.nstcp.family)" = 19 ]; echo $?)" "sysctl(8) reads net.nstcp.family"
tap_done
