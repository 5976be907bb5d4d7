#!/usr/bin/env bash
# Trim engine rules (SPEC sections 4, 5): strategy none in cluster mode
# without an archive; startup and settling protection (trim_delay); the
# mode-switch guard and the persistence of the mode.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"

# ---------------------------------------------------------------------------
note "A. cluster mode without an archive: strategy none, nothing is ever trimmed"
"$MKFS" --mode cluster --segment-size 4096 --node-id cluster-node "$T/cstore" >/dev/null
mount_fs "$T/cstore" "$T/cmnt" trim_delay=0 auto_trim=1
C=$T/cmnt
assert_eq "$(xattr_get "$C" user.lsnfs.mode)" "cluster" "mode of a cluster store"
assert_log "cluster mode without a snapshot archive.*needs a snapshot archive" "$DAEMON_LOG" "mount log"
mkdir "$C/c0"
append_records "$C/c0" "$T/cref" 22 1024 51
set_attr "$C/c0" persisted_lsn 22
assert_eq "$(lsn_attr "$C/c0" trim_strategy)" "none" "trim_strategy (cluster, no archive)"
assert_eq "$(lsn_attr "$C/c0" safe_trim_lsn)" "0" "safe_trim_lsn (cluster, no archive)"
blocked=$(lsn_attr "$C/c0" trim_blocked)
[[ $blocked == *"cluster mode needs a snapshot archive"* ]] || fail "trim_blocked (strategy none): '$blocked'"
state=$(segs_state "$C/c0")
n0=$(grep -c "cluster mode needs a snapshot archive" "$DAEMON_LOG" || true)
assert_errno rm "$C/c0/segments/$(lsn20 1).log" "Operation not permitted"
n1=$(grep -c "cluster mode needs a snapshot archive" "$DAEMON_LOG" || true)
((n1 > n0)) || fail "refused rm in cluster mode: no log line saying cluster mode needs a snapshot archive"
assert_errno setfattr -n user.lsnfs.trim -v 4 "$C/c0" "Operation not permitted"
n2=$(grep -c "cluster mode needs a snapshot archive" "$DAEMON_LOG" || true)
((n2 > n1)) || fail "refused setfattr trim in cluster mode: no log line saying cluster mode needs a snapshot archive"
assert_errno setfattr -n user.lsnfs.trim -v 1 "$C/c0" "Operation not permitted"
set_attr "$C/c0" trim safe 2>/dev/null || true
set_attr "$C/c0" hold.x 22
setfattr -x user.lsnfs.hold.x "$C/c0"
note "auto_trim=1 does nothing either (2.5 s)"
sleep 2.5
assert_eq "$(lsn_attr "$C/c0" trim_point)" "0" "trim_point (cluster, no archive)"
assert_eq "$(segs_state "$C/c0")" "$state" "segments (cluster, no archive)"
note "cluster -> single is refused"
assert_errno setfattr -n user.lsnfs.mode -v single "$C" "Operation not permitted"
assert_eq "$(xattr_get "$C" user.lsnfs.mode)" "cluster" "mode after refused switch"
assert_errno setfattr -n user.lsnfs.mode -v bogus "$C" "Invalid argument"
umount_fs "$C"

# ---------------------------------------------------------------------------
note "B. trim_delay=3: startup protection, then settling of a raised point"
STORE=$T/store
M=$T/mnt
L=$M/p0
"$MKFS" --segment-size 4096 --node-id rules-node "$STORE" >/dev/null
mount_fs "$STORE" "$M" trim_delay=0
mkdir "$L"
append_records "$L" "$T/ref" 42 1024 52
set_attr "$L" persisted_lsn 18
umount_fs "$M"

mount_fs "$STORE" "$M" trim_delay=3
t0=$SECONDS
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "0" "safe_trim_lsn right after mount (trim_delay 3)"
blocked=$(lsn_attr "$L" trim_blocked)
[[ $blocked == *startup* ]] || fail "trim_blocked right after mount: '$blocked' (expected startup protection)"
assert_errno rm "$L/segments/$(lsn20 1).log" "Operation not permitted"
blocked=$(xattr_get "$L/segments/$(lsn20 1).log" user.lsnfs.trim_blocked)
[[ $blocked == *startup* ]] || fail "trim_blocked of segment 1 right after mount: '$blocked'"
assert_errno setfattr -n user.lsnfs.trim -v 4 "$L" "Operation not permitted"
set_attr "$L" trim safe
assert_eq "$(lsn_attr "$L" trim_point)" "0" "trim_point right after mount"
assert_log "trim refused.*startup protection"
sleep 0.5
assert_errno setfattr -n user.lsnfs.trim -v 4 "$L" "Operation not permitted"
assert_eq "$(lsn_attr "$L" trim_point)" "0" "trim_point ~0.5 s after mount"
note "after the delay the persisted point is usable"
wait_attr "$L" safe_trim_lsn '^18$' 10
note "safe_trim_lsn 18 after ~$((SECONDS - t0)) s"
rm "$L/segments/$(lsn20 1).log"
set_attr "$L" trim 16
assert_eq "$(lsn_attr "$L" trim_point)" "16" "trim_point after the startup delay"

note "a freshly raised persisted point is not usable until it has been safe for 3 s"
set_attr "$L" persisted_lsn 30
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "18" "safe_trim_lsn right after raising persisted to 30"
blocked=$(lsn_attr "$L" trim_blocked)
[[ $blocked == *settling* ]] || fail "trim_blocked after raising the point: '$blocked' (expected settling)"
assert_errno setfattr -n user.lsnfs.trim -v 28 "$L" "Operation not permitted"
assert_errno rm "$L/segments/$(lsn20 17).log" "Operation not permitted"
sleep 0.5
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "18" "safe_trim_lsn ~0.5 s after raising persisted"
assert_eq "$(lsn_attr "$L" trim_point)" "16" "trim_point while settling"
wait_attr "$L" safe_trim_lsn '^30$' 10
set_attr "$L" trim 28
assert_eq "$(lsn_attr "$L" trim_point)" "28" "trim_point after settling"
note "a hold that dips and is removed restarts the clock for the higher point"
set_attr "$L" persisted_lsn 40
wait_attr "$L" safe_trim_lsn '^40$' 10
set_attr "$L" hold.r 32
v=$(lsn_attr "$L" safe_trim_lsn)
((v >= 28 && v <= 32)) || fail "safe_trim_lsn with a hold at 32: $v (expected 28..32; exactly 32 is checked in test_trim_delay)"
assert_errno setfattr -n user.lsnfs.trim -v 36 "$L" "Operation not permitted"
setfattr -x user.lsnfs.hold.r "$L"
v=$(lsn_attr "$L" safe_trim_lsn)
((v >= 28 && v <= 32)) || fail "safe_trim_lsn right after removing the hold: $v (40 must settle again)"
assert_errno setfattr -n user.lsnfs.trim -v 36 "$L" "Operation not permitted"
wait_attr "$L" safe_trim_lsn '^40$' 10
umount_fs "$M"

# ---------------------------------------------------------------------------
note "C. mode switch guard"
mount_fs "$STORE" "$M" trim_delay=0
assert_eq "$(lsn_attr "$L" trim_point)" "28" "trim_point after remount"
note "single -> cluster without an archive: EPERM"
assert_errno setfattr -n user.lsnfs.mode -v cluster "$M" "Operation not permitted"
assert_eq "$(xattr_get "$M" user.lsnfs.mode)" "single" "mode after refused switch"
assert_log "mode single -> cluster refused: .*archive"
umount_fs "$M"

ARCH=$T/archive
mkdir "$ARCH"
mount_fs "$STORE" "$M" "archive=$ARCH" trim_delay=0
assert_eq "$(lsn_attr "$L" trim_strategy)" "archived" "trim_strategy with archive=DIR"
note "with an archive but trim point 28 not covered by an archived snapshot: EPERM"
assert_errno setfattr -n user.lsnfs.mode -v cluster "$M" "Operation not permitted"
assert_eq "$(xattr_get "$M" user.lsnfs.mode)" "single" "mode after refused switch (uncovered)"
assert_log "mode single -> cluster refused: .*trim point 28 is not covered"
note "a second log with trim point 0 does not need a snapshot; p0 still does"
mkdir "$M/p1"
append_records "$M/p1" "$T/ref1" 3 10 53
assert_errno setfattr -n user.lsnfs.mode -v cluster "$M" "Operation not permitted"
note "archive a snapshot covering the trim point (LSN 28) -> switch allowed"
printf 'state at 28' >"$L/snapshots/.s"
mv "$L/snapshots/.s" "$L/snapshots/$(lsn20 28).snap"
wait_attr "$L" archived_lsn '^28$' 10
set_attr "$M" mode cluster
assert_eq "$(xattr_get "$M" user.lsnfs.mode)" "cluster" "mode after the allowed switch"
assert_log "switched to cluster mode"
note "cluster -> single: EPERM"
assert_errno setfattr -n user.lsnfs.mode -v single "$M" "Operation not permitted"
assert_eq "$(xattr_get "$M" user.lsnfs.mode)" "cluster" "mode after refused switch back"
set_attr "$M" mode cluster
note "the mode survives remount (with and without the archive)"
umount_fs "$M"
mount_fs "$STORE" "$M" "archive=$ARCH" trim_delay=0
assert_eq "$(xattr_get "$M" user.lsnfs.mode)" "cluster" "mode after remount"
assert_eq "$(lsn_attr "$L" trim_strategy)" "archived" "trim_strategy cluster + archive"
umount_fs "$M"
mount_fs "$STORE" "$M" archive=none trim_delay=0 # the store keeps its archive
assert_eq "$(xattr_get "$M" user.lsnfs.mode)" "cluster" "mode after remount without archive"
assert_eq "$(lsn_attr "$L" trim_strategy)" "none" "trim_strategy cluster without archive"
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "0" "safe_trim_lsn cluster without archive (persisted 40)"
assert_errno rm "$L/segments/$(lsn20 29).log" "Operation not permitted"
umount_fs "$M"
echo "ok"
