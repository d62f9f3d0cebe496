#!/bin/bash
# Selftest: nstcpd's programs run as their service's user and group.  The
# child drops its privileges before its exec (the user's supplementary
# groups, its group, its user) and cannot become root again: an
# inetd-style program reports its ids over its connection, as nobody, as
# nobody with group daemon (given before or after the user), and as root when the service names no user
# (nstcpd warns of it at start); monolithic copies and hybrid workers run
# as nobody and serve, the hybrid workers taking connections named to
# their uid, nstcpd taking back those a stalled one never took; a child
# that cannot drop (nstcpd itself not root, user = root) exits non-zero
# and is counted failed.  Build first: make tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/helpers/nstcpd_lib.sh"
nd_model_begin 15
ids='exec = /bin/sh -c "id -u; id -g; id -G; grep ^CapEff: /proc/self/status"'

cat >"$tmp/nstcpd.conf" <<CONF
[service nobody]
listen = 7501
model = standard
stdio = yes
user = nobody
$ids

[service daemon]
listen = 7502
model = standard
stdio = yes
user = nobody
group = daemon
$ids

[service daemon_first]
listen = 7507
model = standard
stdio = yes
group = daemon
user = nobody
$ids

[service root]
listen = 7503
model = standard
stdio = yes
$ids

[service mono]
listen = 7504
model = monolithic
user = 65534
exec = $nd_helpers/nstcpd_sdecho

[service hyb]
listen = 7505
model = hybrid
user = nobody
exec = $nd_helpers/nstcpd_worker

[service stall]
listen = 7506
model = hybrid
user = nobody
timeout_ms = 2000
exec = /usr/bin/env WORKER_NOTAKE_CPU=1 $nd_helpers/nstcpd_worker
CONF
nd_start "$tmp/nstcpd.conf" "$st" "$tmp/nstcpd.log"
tap_ok $? "nstcpd started, status file written"
warn=$(grep -c 'has no "user": its programs run as root' "$tmp/nstcpd.log")
grep -q 'warning: service root (line 24) has no "user"' "$tmp/nstcpd.log"
tap_ok $(( $? != 0 || warn != 1 )) "warned at start of the one service without a user ($warn)"

ids_of() {
	ip netns exec "$nd_cli" timeout 10 bash -c "exec 3<>/dev/tcp/$nd_srv_ip/$1 && cat <&3" | tr '\n\t' '  '
}
nob=$(id -u nobody) nogr=$(id -g nobody) dmn=$(getent group daemon | cut -d: -f3)
out=$(ids_of 7501)
tap_ok $([ "$out" = "$nob $nogr $nogr CapEff: 0000000000000000 " ]; echo $?) \
	"user = nobody: uid, gid, groups, no capability: $out"
out=$(ids_of 7502)
tap_ok $([ "$out" = "$nob $dmn $dmn CapEff: 0000000000000000 " ]; echo $?) \
	"user = nobody, group = daemon: $out"
out=$(ids_of 7507)
tap_ok $([ "$out" = "$nob $dmn $dmn CapEff: 0000000000000000 " ]; echo $?) \
	"group = daemon before user = nobody: not overridden by nobody's group: $out"
out=$(ids_of 7503)
tap_ok $([[ "$out" == "0 0 "*"CapEff: "* ]] && [[ "$out" != *"CapEff: 0000000000000000"* ]]; echo $?) \
	"no user: root, with its capabilities: $out"

nd_wait_json "$st" "all(x['pid'] > 0 for x in w('mono') + w('hyb') + w('stall'))"
bad=0
for pid in $(nd_json "$st" "' '.join(str(x['pid']) for x in w('mono') + w('hyb') + w('stall'))"); do
	u=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' /proc/"$pid"/status)
	g=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' /proc/"$pid"/status)
	gs=$(awk '/^Groups:/ { print $2 }' /proc/"$pid"/status)
	[ "$u" = "$nob $nob $nob $nob" ] && [ "$g" = "$nogr $nogr $nogr $nogr" ] && [ "$gs" = "$nogr" ] ||
		{ bad=$((bad + 1)); echo "# $pid: uid $u gid $g groups $gs"; }
done
tap_ok $bad "monolithic copies and hybrid workers run as nobody (real, effective, saved, fs ids; groups)"
out=$(nd_run_client echo $nd_srv_ip 7504 20 $bytes 4)
tap_ok $(( $? != 0 )) "monolithic copies as nobody serve: $out"
out=$(nd_run_client echo $nd_srv_ip 7505 20 $bytes 4)
tap_ok $(( $? != 0 )) "hybrid workers as nobody take and serve: $out"
nd_wait_json "$st" "s('hyb')['taken'] == 20"
tap_ok $? "status: hyb taken $(nd_json "$st" "s('hyb')['taken']") of 20"
out=$(nd_run_client echo $nd_srv_ip 7506 12 $bytes 4)
nd_wait_json "$st" "s('stall')['served'] == 12 and s('stall')['regiven'] >= 1 and s('stall')['lost'] == 0"
tap_ok $? "a stalled worker's connections taken back by nstcpd and served: $out, $(nd_json "$st" "(s('stall')['served'], s('stall')['regiven'], s('stall')['lost'])")"
nd_stop

# nstcpd not root: a child cannot become root; it exits 126, counted.
pub=$tmp/pub
mkdir "$pub" && chmod 755 "$tmp" && chown nobody "$pub"
cat >"$pub/fail.conf" <<CONF
[service fail]
listen = 7510
model = standard
stdio = yes
user = root
timeout_ms = 1000
exec = cat
CONF
nd_start_as() {
	ip netns exec "$nd_srv" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$nd_bin" -f -c "$pub/fail.conf" -s "$pub/status.json" 2>"$pub/log" &
	nd_pid=$!
	for i in $(seq 200); do [ -s "$pub/status.json" ] && return 0; sleep 0.1; done
	return 1
}
nd_start_as
tap_ok $? "nstcpd as nobody started"
out=$(nd_run_client echo $nd_srv_ip 7510 1 100 1)
st=$pub/status.json
nd_wait_json "$st" "s('fail')['failed'] == 1 and s('fail')['served'] == 0"
r=$?
grep -q "nstcpd\[fail\]: drop privileges: EPERM" "$pub/log"
tap_ok $(( r != 0 || $? != 0 )) "user = root under a non-root nstcpd: the child fails (EPERM), counted failed: $out"
nd_stop
cat "$pub/log" >>"$tmp/nstcpd.log"
nd_finish
tap_done
