#!/usr/bin/env bash
# Two nodes sharing one archive directory (SPEC sections 3, 5): a snapshot
# archived by A is listed and readable on B; B, started in single mode,
# switches itself to cluster mode on seeing A (and says so loudly).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"

ARCH=$T/archive
mkdir "$ARCH"
"$MKFS" --segment-size 4096 --node-id node-a "$T/storeA" >/dev/null
"$MKFS" --segment-size 4096 --node-id node-b "$T/storeB" >/dev/null
A=$T/mntA
B=$T/mntB

mount_fs "$T/storeA" "$A" "archive=$ARCH" trim_delay=0
LOG_A=$DAEMON_LOG
assert_eq "$(xattr_get "$A" user.lsnfs.node_id)" "node-a" "node_id of A"
assert_eq "$(xattr_get "$A" user.lsnfs.mode)" "single" "mode of A, alone"
[[ -f $ARCH/.nodes/node-a ]] || fail "A did not register in $ARCH/.nodes"
sleep 1.5
assert_eq "$(xattr_get "$A" user.lsnfs.mode)" "single" "mode of A, alone, after 1.5 s"

mkdir "$A/p0"
append_records "$A/p0" "$T/ref" 30 1024 71
note "A commits snapshot 20 (~1.6 MiB) and archives it"
rand_file "$T/state" $((1600 * 1024 + 77)) 8
cp "$T/state" "$A/p0/snapshots/.incoming"
mv "$A/p0/snapshots/.incoming" "$A/p0/snapshots/$(lsn20 20).snap"
wait_attr "$A/p0" archived_lsn '^20$' 10
[[ -f $ARCH/p0/$(lsn20 20).snap.zst ]] || fail "A's snapshot not in the archive"

note "B (single mode) mounts the same archive"
mount_fs "$T/storeB" "$B" "archive=$ARCH" trim_delay=0
LOG_B=$DAEMON_LOG
assert_eq "$(xattr_get "$B" user.lsnfs.node_id)" "node-b" "node_id of B"
[[ -f $ARCH/.nodes/node-b ]] || fail "B did not register in $ARCH/.nodes"
mkdir "$B/p0"
note "within 10 s B lists A's snapshot"
wait_for 10 "B to list A's snapshot" test -e "$B/p0/snapshots/$(lsn20 20).snap"
assert_eq "$(ls "$B/p0/snapshots" | tr '\n' ' ')" "$(lsn20 20).snap " "B's snapshots/"
assert_eq "$(stat -c %s "$B/p0/snapshots/$(lsn20 20).snap")" "$(stat -c %s "$T/state")" "size of the snapshot on B"
assert_file_eq "$B/p0/snapshots/$(lsn20 20).snap" "$T/state" "A's snapshot read on B"
python3 - "$B/p0/snapshots/$(lsn20 20).snap" "$T/state" <<'EOF' || fail "random-offset reads on B differ"
import os, random, sys
want = open(sys.argv[2], "rb").read()
fd = os.open(sys.argv[1], os.O_RDONLY)
rnd = random.Random(3)
for _ in range(200):
    off = rnd.randrange(0, len(want) + 10)
    n = rnd.choice([1, 100, 4096, 200000])
    if os.pread(fd, n, off) != want[off:off + n]:
        sys.exit("pread %d at %d differs" % (n, off))
EOF
assert_eq "$(xattr_get "$B/p0/snapshots/$(lsn20 20).snap" user.lsnfs.archived)" "yes" "archived on B"
assert_eq "$(lsn_attr "$B/p0" archived_lsn)" "20" "archived_lsn on B"
note "a remote snapshot is read-only on B too"
assert_errno sh -c "echo x >> '$B/p0/snapshots/$(lsn20 20).snap'" "Operation not permitted|Permission denied"

note "B switches itself to cluster mode on seeing A, and warns"
wait_for 5 "B's mode to read cluster" sh -c "[ \"\$(getfattr --only-values -n user.lsnfs.mode '$B' 2>/dev/null)\" = cluster ]"
assert_log_within 5 "WARNING: another node \(node-a\) uses the archive: switching this node to cluster mode" "$LOG_B" "B's daemon log"
note "A sees B as well and switches too"
wait_for 5 "A's mode to read cluster" sh -c "[ \"\$(getfattr --only-values -n user.lsnfs.mode '$A' 2>/dev/null)\" = cluster ]"
assert_log_within 5 "another node \(node-b\) uses the archive" "$LOG_A" "A's daemon log"
note "no way back to single on either"
assert_errno setfattr -n user.lsnfs.mode -v single "$B" "Operation not permitted"
assert_errno setfattr -n user.lsnfs.mode -v single "$A" "Operation not permitted"

note "A, a cluster node now, still trims by its archived snapshot"
set_attr "$A/p0" trim safe
assert_eq "$(lsn_attr "$A/p0" trim_point)" "20" "A's trim_point after trim safe"
assert_eq "$(lsn_attr "$A/p0" trim_strategy)" "archived" "A's strategy"

note "B's mode stays cluster after a remount (even without the archive: the store keeps it, so -o archive=none)"
umount_fs "$B"
mount_fs "$T/storeB" "$B" archive=none trim_delay=0
assert_eq "$(xattr_get "$B" user.lsnfs.mode)" "cluster" "B's mode after remount"
assert_eq "$(lsn_attr "$B/p0" trim_strategy)" "none" "B's strategy without the archive"
umount_fs "$B"

note "C trimmed by persisted position alone, then joins the archive: loud about the uncovered trim point"
"$MKFS" --segment-size 4096 --node-id node-c "$T/storeC" >/dev/null
C=$T/mntC
mount_fs "$T/storeC" "$C" trim_delay=0
mkdir "$C/q0"
append_records "$C/q0" "$T/refC" 22 1024 72
set_attr "$C/q0" persisted_lsn 14
set_attr "$C/q0" trim safe
assert_eq "$(lsn_attr "$C/q0" trim_point)" "12" "C's trim_point by persisted position"
umount_fs "$C"
mount_fs "$T/storeC" "$C" "archive=$ARCH" trim_delay=0
LOG_C=$DAEMON_LOG
wait_for 5 "C's mode to read cluster" sh -c "[ \"\$(getfattr --only-values -n user.lsnfs.mode '$C' 2>/dev/null)\" = cluster ]"
assert_log_within 5 "another node .* uses the archive: switching this node to cluster mode" "$LOG_C" "C's daemon log"
assert_log_within 5 "WARNING: log q0: trim point 12 is not covered by an archived snapshot" "$LOG_C" "C's daemon log"
blocked=$(lsn_attr "$C/q0" trim_blocked)
[[ $blocked == *"trim point 12 is not covered"* ]] || fail "C's q0 trim_blocked: '$blocked' (expected: trim point 12 is not covered)"
note "a covering snapshot archived -> the warning leaves trim_blocked"
printf 'q0 state' >"$C/q0/snapshots/.s"
mv "$C/q0/snapshots/.s" "$C/q0/snapshots/$(lsn20 16).snap"
wait_attr "$C/q0" archived_lsn '^16$' 10
blocked=$(lsn_attr "$C/q0" trim_blocked)
[[ $blocked != *"not covered"* ]] || fail "C's q0 trim_blocked still says not covered: '$blocked'"
note "and A lists C's snapshot of q0 once it has the log"
mkdir "$A/q0"
wait_for 10 "A to list C's q0 snapshot" test -e "$A/q0/snapshots/$(lsn20 16).snap"
assert_eq "$(cat "$A/q0/snapshots/$(lsn20 16).snap")" "q0 state" "C's snapshot read on A"
umount_fs "$C"
umount_fs "$A"
echo "ok"
