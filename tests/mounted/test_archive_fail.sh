#!/usr/bin/env bash
# A failing archive_command (SPEC sections 3, 4): the snapshot is never
# counted as archived, nothing is trimmed - not by rm, not by setfattr, not
# after a crash - until a working command confirms it; then trimming works
# and the disk space comes back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"

STORE=$T/store
M=$T/mnt
L=$M/p0
S=$L/snapshots
"$MKFS" --segment-size 4096 --node-id fail-node "$STORE" >/dev/null

# A failing command that also records that it ran.
cat >"$T/failing.sh" <<EOF
#!/bin/sh
echo "\$1 \$2" >> "$T/failing.calls"
exit 1
EOF
chmod +x "$T/failing.sh"
FAILING="$T/failing.sh %p %f"

mount_fs "$STORE" "$M" "archive_command=false" trim_delay=0
mkdir "$L"
note "40 records of 1024 bytes: 10 sealed segments of 4 records; then 2 more in the active one"
append_records "$L" "$T/ref" 40 1024 21
append_records "$L" "$T/ref" 2 1024 22
assert_eq "$(seg_names "$L" | wc -l)" "11" "number of segments"
assert_eq "$(lsn_attr "$L" trim_strategy)" "archived" "trim_strategy with archive_command"

note "commit a snapshot covering LSN 1..24 (6 sealed segments)"
rand_file "$T/state" 300000 5
cp "$T/state" "$S/.incoming-1"
SNAP=$S/$(lsn20 24).snap
mv "$S/.incoming-1" "$SNAP"
assert_file_eq "$SNAP" "$T/state" "committed snapshot"

note "archive_command=false: user.lsnfs.archived becomes 'failed: ...' and the log says so"
for ((i = 0; i < 100; i++)); do
	a=$(xattr_get "$SNAP" user.lsnfs.archived)
	[[ $a == failed:* ]] && break
	[[ $a == no ]] || fail "user.lsnfs.archived while failing: '$a' (expected no or failed: ...)"
	sleep 0.1
done
[[ $a == failed:?* ]] || fail "user.lsnfs.archived did not become 'failed: REASON' within 10 s (got '$a')"
note "archived = '$a'"
assert_log "log p0: .*snapshot 24.*fail" "$DAEMON_LOG" "daemon log (failure of snapshot 24)"
note "retried with backoff: a second attempt comes, not one per tick"
assert_log_within 6 "snapshot 24 failed.*retry in 2 s"
sleep 3
attempts=$(grep -c "snapshot 24 failed" "$DAEMON_LOG" || true)
(( attempts >= 2 && attempts <= 5 )) ||
	fail "archiving attempts in ~5 s: $attempts (expected a retry with backoff 1,2,4 s: 2..5)"
assert_eq "$(lsn_attr "$L" archived_lsn)" "0" "archived_lsn while the command fails"
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "0" "safe_trim_lsn while the command fails"
[[ -n $(lsn_attr "$L" trim_blocked) ]] || fail "trim_blocked is empty while nothing may be trimmed"

note "rm of the oldest segment: EPERM, the segment stays, the reason is readable and logged"
OLDEST=$L/segments/$(lsn20 1).log
assert_errno rm "$OLDEST" "Operation not permitted"
[[ -e $OLDEST ]] || fail "oldest segment gone after a refused rm"
blocked=$(xattr_get "$OLDEST" user.lsnfs.trim_blocked)
[[ -n $blocked ]] || fail "user.lsnfs.trim_blocked of the oldest segment is empty after refused rm"
note "trim_blocked: $blocked"
assert_log "trim refused"
note "setfattr trim 4 (the first segment): EPERM; trim 24: EPERM"
assert_errno setfattr -n user.lsnfs.trim -v 4 "$L" "Operation not permitted"
assert_errno setfattr -n user.lsnfs.trim -v 24 "$L" "Operation not permitted"
note "trim safe trims nothing"
set_attr "$L" trim safe || true
assert_eq "$(lsn_attr "$L" trim_point)" "0" "trim_point while the command fails"
assert_eq "$(lsn_attr "$L" first_lsn)" "1" "first_lsn while the command fails"
dump_records "$L" >"$T/dump0" || fail "dump_records failed"
assert_file_eq "$T/dump0" "$T/ref" "records while the command fails"
state=$(segs_state "$L")

note "kill -9, remount with a failing command (that records its calls)"
crash_fs "$M"
mount_fs "$STORE" "$M" "archive_command=$FAILING" trim_delay=0
wait_for 10 "the failing archive_command to be called again" test -s "$T/failing.calls"
a=$(xattr_get "$SNAP" user.lsnfs.archived)
[[ $a == no || $a == failed:?* ]] || fail "archived after crash with a failing command: '$a'"
note "archived = '$a'; the command got: $(head -n 1 "$T/failing.calls")"
read -r p f <"$T/failing.calls"
assert_eq "$f" "p0/$(lsn20 24).snap.zst" "%f given to archive_command"
assert_eq "$(lsn_attr "$L" archived_lsn)" "0" "archived_lsn after crash with failing command"
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "0" "safe_trim_lsn after crash with failing command"
assert_errno rm "$OLDEST" "Operation not permitted"
assert_errno setfattr -n user.lsnfs.trim -v 4 "$L" "Operation not permitted"
assert_eq "$(segs_state "$L")" "$state" "segments and index files after crash (failing command)"
assert_eq "$(lsn_attr "$L" trim_point)" "0" "trim_point after crash (failing command)"
assert_file_eq "$SNAP" "$T/state" "snapshot after crash"
umount_fs "$M"

note "remount with a working archive_command: archived 'yes' within 10 s"
DEST=$T/dest
mkdir "$DEST"
make_copy_archiver "$T/archive.sh" "$DEST"
mount_fs "$STORE" "$M" "archive_command=$T/archive.sh %p %f" trim_delay=0
for ((i = 0; i < 100; i++)); do
	[[ $(xattr_get "$SNAP" user.lsnfs.archived) == yes ]] && break
	sleep 0.1
done
assert_eq "$(xattr_get "$SNAP" user.lsnfs.archived)" "yes" "archived with a working command"
ARCH=$DEST/p0/$(lsn20 24).snap.zst
[[ -f $ARCH ]] || fail "the command did not get the stream to $ARCH: $(find "$DEST" -type f)"
zstd -q -dc "$ARCH" >"$T/from_archive" || fail "zstd -dc $ARCH failed"
assert_file_eq "$T/from_archive" "$T/state" "archived stream decompressed"
assert_eq "$(lsn_attr "$L" archived_lsn)" "24" "archived_lsn after archiving"
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "24" "safe_trim_lsn after archiving"
assert_log "snapshot 24 archived"

note "rm of the oldest segment now succeeds"
rm "$OLDEST"
[[ ! -e $OLDEST ]] || fail "oldest segment still there after rm"
[[ ! -e $L/index/$(lsn20 1).index ]] || fail "index of a trimmed segment still there"
assert_eq "$(lsn_attr "$L" trim_point)" "4" "trim_point after rm of segment 1"
assert_eq "$(lsn_attr "$L" first_lsn)" "5" "first_lsn after rm of segment 1"
note "trim above the archived snapshot (28): EPERM"
assert_errno setfattr -n user.lsnfs.trim -v 28 "$L" "Operation not permitted"
assert_eq "$(lsn_attr "$L" trim_point)" "4" "trim_point after refused trim 28"
note "setfattr trim safe trims every sealed segment ending <= 24"
set_attr "$L" trim safe
assert_eq "$(lsn_attr "$L" trim_point)" "24" "trim_point after trim safe"
assert_eq "$(lsn_attr "$L" first_lsn)" "25" "first_lsn after trim safe"
assert_eq "$(first_seg "$L")" "$(lsn20 25).log" "first segment after trim safe"
dump_records "$L" >"$T/dump1" || fail "dump_records after trim failed"
expected_records "$T/ref" 25 >"$T/want1"
assert_file_eq "$T/dump1" "$T/want1" "retained records after trim safe"
assert_file_eq "$SNAP" "$T/state" "snapshot after trimming"

note "the archived point is lowered to a persisted_lsn that is set and lower"
printf 'state at 36' >"$S/.s36"
mv "$S/.s36" "$S/$(lsn20 36).snap"
set_attr "$L" persisted_lsn 26
wait_attr "$L" archived_lsn '^36$' 10
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "26" "safe_trim_lsn with archived 36 and persisted 26"
blocked=$(lsn_attr "$L" trim_blocked)
[[ $blocked == *persisted* ]] || fail "trim_blocked with persisted below archived: '$blocked'"
assert_errno setfattr -n user.lsnfs.trim -v 28 "$L" "Operation not permitted"
set_attr "$L" persisted_lsn 40
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "36" "safe_trim_lsn with archived 36 and persisted 40"
set_attr "$L" trim safe
assert_eq "$(lsn_attr "$L" trim_point)" "36" "trim_point after trim safe (archived 36)"
expected_records "$T/ref" 37 >"$T/want1"
dump_records "$L" >"$T/dump1" || fail "dump_records after trim to 36"
assert_file_eq "$T/dump1" "$T/want1" "retained records after trim to 36"

note "disk space: ~20 MiB of incompressible records, archived, trimmed -> du STORE shrinks"
mkdir "$M/big"
append_records "$M/big" "$T/ref_big" 20 1044480 23
assert_eq "$(seg_names "$M/big" | wc -l)" "21" "segments of big (one record each + empty active)"
printf 'big state' >"$M/big/snapshots/.s"
mv "$M/big/snapshots/.s" "$M/big/snapshots/$(lsn20 20).snap"
wait_attr "$M/big" archived_lsn '^20$' 10
sync
before=$(du -sk "$STORE" | cut -f1)
note "du STORE before: $before KiB"
(( before >= 20000 )) || fail "du STORE after writing 20 MiB is only $before KiB"
set_attr "$M/big" trim safe
assert_eq "$(lsn_attr "$M/big" trim_point)" "20" "big trim_point after trim safe"
limit=$((before - 16000))
for ((i = 0; i < 300; i++)); do
	sync
	now=$(du -sk "$STORE" | cut -f1)
	((now <= limit)) && break
	sleep 0.1
done
note "du STORE after: $now KiB"
((now <= limit)) || fail "du STORE after trimming 20 MiB: $now KiB (before $before KiB, expected <= $limit within 30 s)"

note "the data survives an unmount and remount"
umount_fs "$M"
mount_fs "$STORE" "$M" "archive_command=$T/archive.sh %p %f" trim_delay=0
dump_records "$L" >"$T/dump2" || fail "dump_records after remount failed"
assert_file_eq "$T/dump2" "$T/want1" "retained records after remount"
assert_eq "$(lsn_attr "$L" trim_point)" "36" "trim_point after remount"
umount_fs "$M"
echo "ok"
