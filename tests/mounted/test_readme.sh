#!/usr/bin/env bash
# README's command blocks run verbatim.  The blocks marked in README.md with
# an HTML comment (<!-- test:NAME --> on the line before the ```sh fence)
# are extracted and run as written, with `sh -e` (a failing command fails):
#
#   quickstart-mount  in the source tree: `make run`, in the background (the
#                     README says it stays in the foreground); only RUN_STORE
#                     and RUN_MNT (environment) put its store and mount in $T
#   quickstart        in "a second shell": cd $T, so mnt/ is that mount; it
#                     ends with `fusermount3 -u mnt`, after which make run
#                     must return 0
#   single-node       the operations guide's single node, then
#   to-cluster        the switch to a cluster; both use /srv/...: the test
#                     runs in a private mount namespace (unshare -m) where
#                     $T/srv is bind-mounted on /srv, and PATH starts with
#                     $BUILD (the README assumes `make install`)
#
# Nothing in the blocks is edited.  Between the two /srv blocks the test
# waits until the daemon of the first has exited (a reader types slower).
set -euo pipefail
source "$(dirname "$0")/lib_ns.sh"
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"

README=$ROOT/README.md

# The ```sh block after <!-- test:NAME -->, exactly as written.
block() {
	local text
	text=$(awk -v mark="<!-- test:$1 -->" '
		$0 == mark { found = 1; next }
		found && !body && /^```sh$/ { body = 1; next }
		found && !body { exit } # the fence must follow the mark
		body && /^```$/ { exit }
		body { print }' "$README")
	[[ -n $text ]] || fail "README.md has no \`\`\`sh block right after <!-- test:$1 -->"
	printf '%s\n' "$text"
}

# Wait until no lsnfs daemon serves STORE-or-MNT (matched in its command line).
wait_no_daemon() { # PATH
	local i
	for ((i = 0; i < 200; i++)); do
		daemon_of "$1" >/dev/null || return 0
		sleep 0.05
	done
	fail "an lsnfs daemon for $1 is still running 10 s after its unmount"
}

for name in quickstart-mount quickstart single-node to-cluster; do block "$name" >/dev/null; done

note "README links only files of the repository, and they exist"
links=$(grep -o '\]([^)]*)' "$README" | sed 's/^](//; s/)$//' | sort -u)
[[ -n $links ]] || fail "no links found in README.md (the contract is linked)"
grep -qx 'doc/SPEC.md' <<<"$links" || fail "README.md does not link doc/SPEC.md: $links"
while read -r link; do
	case $link in
	http://* | https://*) fail "README.md links outside the repository: $link" ;;
	\#*) continue ;;
	esac
	[[ $link != /* && $link != ../* ]] || fail "README.md links outside the repository: $link"
	[[ -e $ROOT/${link%%#*} ]] || fail "README.md links $link, which does not exist"
done <<<"$links"

# ---- quick start ------------------------------------------------------------
note "quick start: make run in the source tree (RUN_STORE, RUN_MNT in \$T), the second shell in \$T"
Q=$T/qs
mkdir -p "$Q"
track_mount "$Q/mnt"
(cd "$ROOT" && exec env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	RUN_STORE="$Q/var/store" RUN_MNT="$Q/mnt" sh -e -c "$(block quickstart-mount)") \
	>"$Q/run.log" 2>&1 </dev/null &
run_pid=$!
ops_on_exit "kill $run_pid 2>/dev/null"
for ((i = 0; i < 1200; i++)); do
	mountpoint -q "$Q/mnt" 2>/dev/null && break
	_alive "$run_pid" || fail "make run exited before mounting: $(tail -n 20 "$Q/run.log")"
	sleep 0.05
done
mountpoint -q "$Q/mnt" || fail "make run did not mount $Q/mnt within 60 s: $(tail -n 20 "$Q/run.log")"
[[ -f $Q/var/store/lsnfs.store ]] || fail "make run did not create the store in RUN_STORE"
rc=0
(cd "$Q" && sh -e -c "$(block quickstart)") >"$Q/out" 2>&1 || rc=$?
((rc == 0)) || fail "the quick start block failed (exit $rc): $(cat "$Q/out")"
rc=0
wait "$run_pid" || rc=$?
assert_eq "$rc" "0" "make run's exit status after fusermount3 -u mnt ($(tail -n 5 "$Q/run.log"))"
grep -qx '00000000000000000001.log' "$Q/out" || fail "quick start: ls of segments: $(cat "$Q/out")"
grep -qx 'user.lsnfs.tail_lsn="100000"' "$Q/out" || fail "quick start: getfattr: $(cat "$Q/out")"
! mountpoint -q "$Q/mnt" || fail "the quick start left $Q/mnt mounted"

# ---- operations guide ------------------------------------------------------
note "single node, then the switch to a cluster: /srv is \$T/srv in this mount namespace"
mkdir -p "$T/srv"
mount --bind "$T/srv" /srv
track_mount /srv/log
export PATH=$BUILD:$PATH
rc=0
(cd "$T" && sh -e -c "$(block single-node)") >"$T/single.out" 2>&1 || rc=$?
((rc == 0)) || fail "the single-node block failed (exit $rc): $(cat "$T/single.out")"
[[ -f $T/srv/lsnfs/store/lsnfs.store ]] || fail "the single-node store is not under $T/srv"
# mode, archive, header, then the row: first 465264 (3 segments of 1 MiB trimmed).
grep -Eq '^p0 +465264 +1000000 +465263 +500000 +0 +500000 persisted$' "$T/single.out" ||
	fail "single node: lsnfsctl status after the trim: $(cat "$T/single.out")"
! mountpoint -q /srv/log || fail "the single-node block left /srv/log mounted"
wait_no_daemon /srv/log

rc=0
(cd "$T" && sh -e -c "$(block to-cluster)") >"$T/cluster.out" 2>&1 || rc=$?
((rc == 0)) || fail "the to-cluster block failed (exit $rc): $(cat "$T/cluster.out")"
grep -q '^mode cluster, node ' "$T/cluster.out" || fail "to cluster: status: $(cat "$T/cluster.out")"
grep -Eq '^p0 +465264 +1000000 +465263 +500000 +500000 +[0-9]+ archived$' "$T/cluster.out" ||
	fail "to cluster: the row of p0: $(cat "$T/cluster.out")"
[[ -s $T/srv/archive/p0/00000000000000500000.snap.zst ]] || fail "no archived snapshot in $T/srv/archive"
! mountpoint -q /srv/log || fail "the to-cluster block left /srv/log mounted"
wait_no_daemon /srv/log
finish
