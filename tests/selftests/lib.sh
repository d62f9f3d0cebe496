# Shell side of the selftest TAP helpers (see tap.h); sourced.
# shellcheck shell=bash
_tap_n=0 _tap_failed=0
tap_plan() { echo "TAP version 13"; echo "1..$1"; }
# tap_ok STATUS DESC: STATUS 0 is a pass, as with exit codes.
tap_ok() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $_tap_n - $2"; else echo "not ok $_tap_n - $2"; _tap_failed=$((_tap_failed + 1)); fi
}
tap_done() { [ $_tap_failed -eq 0 ]; exit $?; }
