# Shell side of the selftest TAP helpers (see tap.h); sourced.
# shellcheck shell=bash
_tap_n=0 _tap_failed=0
tap_plan() { echo "TAP version 13"; echo "1..$1"; }
# tap_ok STATUS DESC: STATUS 0 is a pass, as with exit codes.
tap_ok() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $_tap_n - $2"; else echo "not ok $_tap_n - $2"; _tap_failed=$((_tap_failed + 1)); fi
}
# tap_skip DESC WHY: a case not run here, counted as skipped.
tap_skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP $2"; }
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

# nstcp_nl OBJECT FIELD [WHERE VALUE]: the values of FIELD, one a line, of
# what `nstcp -j OBJECT show` lists (instance, listen, handoff: the module's
# state over its netlink family, parsed as JSON), of the entries whose
# WHERE is VALUE.  A listening port is one entry per CPU instance, with the
# port's fields and that CPU's (cpu, queued, accepted, stolen), as the rows
# of /proc/net/nstcp_listen.  Booleans print as 1 and 0.  Returns 1 if the
# tool fails or FIELD is unknown.  The shell tests' one reader of counters.
nstcp_nl() {
	local tool
	tool=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tools/out/nstcp
	"$tool" -j "$1" show | python3 -c '
import json, sys
obj, field, where, value = sys.argv[1:5]
rows = []
for o in json.load(sys.stdin):
	if obj == "listen":
		for c in o["cpus"]:
			r = dict(o)
			del r["cpus"]
			r.update(c)
			rows.append(r)
	else:
		rows.append(o)
def s(v):
	return str(int(v)) if isinstance(v, bool) else str(v)
for r in rows:
	if where and s(r.get(where)) != value:
		continue
	if field not in r:
		sys.exit(1)
	print(s(r[field]))
' "$1" "$2" "${3-}" "${4-}"
}

# nstcp_nl_sum OBJECT FIELD: the sum of FIELD over the entries; 1 on failure.
nstcp_nl_sum() {
	local v s=0
	v=$(nstcp_nl "$1" "$2") || return 1
	for v in $v; do s=$((s + v)); done
	echo "$s"
}
