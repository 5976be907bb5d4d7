#!/usr/bin/env bash
# A shared archive (SPEC sections 3, 4, 5).
#
# 1. A snapshot name listed in snapshots/ is immutable, also when the
#    snapshot was archived by another node and is read through from the
#    archive: mv of a staging file onto it is refused and neither B's view
#    nor A's archived copy changes.
# 2. Coverage is cluster-wide (issue 9 item 2): node A publishes its trim
#    point in its registration under the archive before it trims, and node
#    B's unlink of the snapshot A's trimmed prefix depends on is refused
#    (EPERM, the log names node-a and its trim point), also while A is
#    unmounted; `lsnfsctl status` on B lists node-a with its trim point.
# 3. A's archived copy removed behind its back (an operator's rm in the
#    archive): within a bounded time A either archives its copy again or
#    stops counting it and warns (user.lsnfs.archived != yes, archived_lsn
#    < trim point, trim_blocked says the trim point is not covered).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"

problems=()
problem() { printf '  ! %s\n' "$*"; problems+=("$*"); }

ARCH=$T/archive
mkdir "$ARCH"
"$MKFS" --segment-size 4096 --node-id node-a "$T/storeA" >/dev/null
"$MKFS" --segment-size 4096 --node-id node-b "$T/storeB" >/dev/null
A=$T/mntA
B=$T/mntB
mount_fs "$T/storeA" "$A" "archive=$ARCH" trim_delay=0
LOG_A=$DAEMON_LOG
mount_fs "$T/storeB" "$B" "archive=$ARCH" trim_delay=0
mkdir "$A/p0" "$B/p0"
append_records "$A/p0" "$T/ref" 30 1024 91

note "1. A archives snapshot 20 of p1; B (which has p1 too, tail 30) sees it"
mkdir "$A/p1" "$B/p1"
append_records "$A/p1" "$T/ref1a" 30 100 92
append_records "$B/p1" "$T/ref1b" 30 100 93
printf 'A state of p1 at 20' >"$A/p1/snapshots/.s"
mv "$A/p1/snapshots/.s" "$A/p1/snapshots/$(lsn20 20).snap"
wait_attr "$A/p1" archived_lsn '^20$' 10
P1F=$ARCH/p1/$(lsn20 20).snap.zst
wait_for 10 "B to list A's p1 snapshot" test -e "$B/p1/snapshots/$(lsn20 20).snap"
assert_eq "$(cat "$B/p1/snapshots/$(lsn20 20).snap")" "A state of p1 at 20" "A's p1 snapshot read on B"
note "   B: mv of a staging file onto the listed 20.snap must be refused"
printf 'B state of p1 at 20' >"$B/p1/snapshots/.s"
if do_rename "$B/p1/snapshots/.s" "$B/p1/snapshots/$(lsn20 20).snap" 2>"$T/err"; then
	problem "B: rename of a staging file onto the listed (remote) snapshot $(lsn20 20).snap succeeded; SPEC: a <lsn>.snap is immutable, overwriting must be refused"
else
	note "   refused: $(cat "$T/err")"
fi
v=$(cat "$B/p1/snapshots/$(lsn20 20).snap")
[[ $v == "A state of p1 at 20" ]] || problem "B: $(lsn20 20).snap of p1 changed from 'A state of p1 at 20' to '$v'"
sleep 2
v=$(zstd -q -dc "$P1F" 2>/dev/null || echo "(unreadable)")
[[ $v == "A state of p1 at 20" ]] ||
	problem "archive: A's archived snapshot $P1F now holds '$v' (written by B), while A still says archived=$(xattr_get "$A/p1/snapshots/$(lsn20 20).snap" user.lsnfs.archived) for its 'A state of p1 at 20'"

note "2. A's only archived snapshot of p0 removed from the archive by B"

note "   A commits and archives snapshot 20 of p0, then trims to 20"
printf 'state of p0 at 20' >"$A/p0/snapshots/.s"
mv "$A/p0/snapshots/.s" "$A/p0/snapshots/$(lsn20 20).snap"
wait_attr "$A/p0" archived_lsn '^20$' 10
set_attr "$A/p0" trim safe
assert_eq "$(lsn_attr "$A/p0" trim_point)" "20" "A's trim_point"
AF=$ARCH/p0/$(lsn20 20).snap.zst

grep -qx "trim.p0=20" "$ARCH/.nodes/node-a" || fail "A's registration does not publish trim.p0=20: $(cat "$ARCH/.nodes/node-a")"

note "   B lists it; B's unlink is refused: node-a's trimmed prefix depends on it"
wait_for 10 "B to list A's snapshot" test -e "$B/p0/snapshots/$(lsn20 20).snap"
assert_errno rm "$B/p0/snapshots/$(lsn20 20).snap" "Operation not permitted"
[[ -e $AF ]] || fail "B's refused unlink removed the archived file"
assert_log "unlink of snapshot 20 refused: node node-a trimmed this log through LSN 20" "$(daemon_log "$B")"
st=$("$BUILD/lsnfsctl" status "$B")
assert_match "$st" "node-a updated [0-9-]+ [0-9:]+ UTC:.* p0=20" "B's lsnfsctl status lists node-a's trim point"

note "   A unmounted: B's unlink is still refused (A's registration stays)"
umount_fs "$A"
assert_errno rm "$B/p0/snapshots/$(lsn20 20).snap" "Operation not permitted"
[[ -e $AF ]] || fail "B's unlink removed the archived file while A was unmounted"
mount_fs "$T/storeA" "$A" trim_delay=0
LOG_A=$DAEMON_LOG
wait_attr "$A/p0" archived_lsn '^20$' 10

note "3. an operator removes A's archived copy from the archive"
rm "$AF"

note "   within 15 s A re-archives its copy, or stops counting it and warns"
ok=""
for ((i = 0; i < 150; i++)); do
	if [[ -f $AF ]] && zstd -q -dc "$AF" 2>/dev/null | cmp -s - <(printf 'state of p0 at 20'); then
		ok="re-archived"
		break
	fi
	arch=$(xattr_get "$A/p0/snapshots/$(lsn20 20).snap" user.lsnfs.archived)
	alsn=$(lsn_attr "$A/p0" archived_lsn)
	blocked=$(lsn_attr "$A/p0" trim_blocked)
	if [[ $arch != yes && $alsn -lt 20 && $blocked == *"not covered"* ]]; then
		ok="no longer counted"
		break
	fi
	sleep 0.1
done
[[ -n $ok ]] || problem "15 s after B removed A's only archived snapshot of p0 from the archive, A still says archived='$arch', archived_lsn=$alsn, trim_point $(lsn_attr "$A/p0" trim_point), trim_blocked='$blocked'; $AF is $([[ -e $AF ]] && echo present || echo absent)"
if [[ $ok == "no longer counted" ]]; then
	note "   A: $ok"
	log_has "trim point 20 is not covered" "$LOG_A" || problem "A's daemon log does not say trim point 20 is not covered"
elif [[ -n $ok ]]; then
	note "   A: $ok"
fi
umount_fs "$B"
umount_fs "$A"
if ((${#problems[@]})); then
	fail "$(printf '%s; ' "${problems[@]}")"
fi
echo "ok"
