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

# nstcp_proc_col FILE COLUMN [WHERE VALUE]: the values of COLUMN, one a line,
# of the rows of FILE (/proc/net/nstcp or /proc/net/nstcp_listen, or a copy)
# whose column WHERE is VALUE (every row without WHERE).  Columns are found
# by the header line's names, never by position (as in proc_util.h); a
# missing column prints nothing and returns 1.
nstcp_proc_col() {
	awk -v c="$2" -v wc="${3-}" -v wv="${4-}" '
		NR == 1 {
			for (i = 1; i <= NF; i++) { if ($i == c) k = i; if ($i == wc) w = i }
			if (!k || (wc != "" && !w)) { bad = 1; exit }
			next
		}
		wc == "" || $w == wv { print $k }
		END { exit bad }' "$1"
}

# nstcp_proc_sum FILE COLUMN: the sum of COLUMN over the rows; 1 if missing.
nstcp_proc_sum() {
	local v s=0
	v=$(nstcp_proc_col "$1" "$2") || return 1
	for v in $v; do s=$((s + v)); done
	echo "$s"
}
