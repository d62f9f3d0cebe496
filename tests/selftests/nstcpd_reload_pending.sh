#!/bin/bash
# Selftest: a hybrid service reloaded (SIGHUP) with hundreds of
# connections handed to its workers and not yet taken.  The workers are
# stopped (SIGSTOP), 200 clients connect at once: nstcpd accepts each
# (split accept) and gives its token to a worker, where it waits.  The
# reload re-execs nstcpd: the old image passes the 200 tokens to the new
# one (NSTCPD_GIVEN; a memfd, not capped at 128 KiB as an environment
# string is), whose own workers take and serve them.  Counted by the
# clients: all 200 echoed whole, none reset or refused; by the new
# image's status: none arrived, 200 taken and served, none re-given or
# lost; by the workers' log: 200 connections with all their bytes.  The
# old workers, let go (SIGCONT), find their tokens taken (their takes
# fail) and their channel closed: each exits 0 (drained; one that took a
# connection could not report it and would exit 1).  Build first: make
# tools.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/helpers/nstcpd_lib.sh"
nd_reload_begin 4 12
worker=$nd_helpers/nstcpd_worker
conns=200 bytes=1024
# A client waits this long for its echo: past it, the test fails (the
# run's 300 s for a test holds it with the waits below, on stock).
export ND_IO_TIMEOUT_MS=$((60000 * slow))

# takeback_ms 0 and a long timeout: the tokens wait for the stopped
# workers (none taken back, none expired) until the reload; the old
# workers' drain is not cut while they are stopped.
{
	nd_conf_hybrid hyb 7321 120000 0
	echo "drain_timeout = 600"
} >"$tmp/nstcpd.conf"
nd_start "$tmp/nstcpd.conf" "$st" "$tmp/nstcpd.log"
up="all(x['pid'] > 0 for x in w('hyb')) and len(w('hyb')) == $ncpu"
nd_wait_json "$st" "$up"
rc=$?
old=$(nd_json "$st" "' '.join(str(x['pid']) for x in w('hyb'))")
[ "$(wc -w <<<"$old")" -eq "$ncpu" ] || rc=1
tap_ok $rc "nstcpd started: a hybrid worker per CPU ($old)"
cli=
trap 'kill -KILL $old $cli 2>/dev/null; nd_pair_cleanup; rm -rf "$tmp"' EXIT
kill -STOP $old

ip netns exec "$nd_cli" "$nd_client" echo $nd_srv_ip 7321 $conns $bytes $conns >"$tmp/clients" 2>"$tmp/clients.err" &
cli=$!
nd_wait_json "$st" "s('hyb')['given'] == $conns and s('hyb')['taken'] == 0"
tap_ok $? "$conns connections given to the stopped workers, none taken: given $(nd_json "$st" "s('hyb')['given']"), load $(nd_json "$st" "[x['load'] for x in w('hyb')]")"

kill -HUP "$nd_pid"
nd_wait_json "$st" "d['reloads'] == 1 and $up and not set(str(x['pid']) for x in w('hyb')) & set('$old'.split())"
tap_ok $? "SIGHUP: reloads $(nd_json "$st" "d['reloads']"), new workers up"
wait $cli
rc=$?
cli=
read -r out <"$tmp/clients"
tap_ok $([ $rc = 0 ] && [ "$out" = "conns $conns ok $conns bad 0 resets 0 refused 0" ]; echo $?) "the clients, all served by the new image: $out"
[ -s "$tmp/clients.err" ] && sed 's/^/# client: /' "$tmp/clients.err"
nd_wait_json "$st" "s('hyb')['served'] == $conns"
r=$(nd_json "$st" "(s('hyb')['given'], s('hyb')['taken'], s('hyb')['served'], s('hyb')['regiven'], s('hyb')['lost'], s('hyb')['dropped'], sum(x['load'] for x in w('hyb')))")
tap_ok $([ "$r" = "(0, $conns, $conns, 0, 0, 0, 0)" ]; echo $?) "the new image's status: given (new arrivals), taken, served, re-given, lost, dropped, load $r"
r=$(nd_logged_full "$tmp/hyb.log")
tap_ok $? "the workers logged each connection with all $bytes bytes: $r"
grep -q "NSTCPD_GIVEN.*ignored\|NSTCPD_GIVEN: .*stay here" "$tmp/nstcpd.log"
tap_ok $([ $? -eq 1 ]; echo $?) "no handed-over connection ignored or left behind (log)"

# The old workers let go: their takes fail (taken by the new ones), their
# channel is closed; each exits 0, counted drained.
kill -CONT $old
nd_wait_json "$st" "d['retiring'] == 0"
r=$(nd_json "$st" "(d['drained'], d['drain_expired'], d['retire_killed'])")
tap_ok $([ "$r" = "($ncpu, 0, 0)" ] && [ "$(nd_alive $old)" = 0 ]; echo $?) "the old workers, let go, exited 0: drained, drain_expired, retire_killed $r"
r=$(wc -l <"$tmp/hyb.log")
tap_ok $(( r != conns )) "and served nothing more: $r connections logged"

nd_stop
tap_ok $? "SIGTERM: nstcpd stopped"
nd_finish
tap_done
