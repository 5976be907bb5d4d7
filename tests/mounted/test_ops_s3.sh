#!/usr/bin/env bash
# A real S3 round trip (SPEC section 3, archiving; section 5, cluster mode)
# against a local S3 server (s3rver, 127.0.0.1 only) started by this test:
#
#  1. archive_command with rclone: node a archives a committed snapshot with
#     `rclone copyto %p s3:BUCKET/%f`; the object in the bucket decompresses
#     to the snapshot's bytes.
#  2. archive=DIR over s3fs: node a (remounted, archive on an s3fs mount of
#     the bucket) archives another snapshot; node b, on its own store with a
#     second s3fs mount of the same bucket (another "machine"), lists both
#     snapshots in its snapshots/ and reads them byte for byte, and both
#     nodes switch to cluster mode when they see each other in .nodes/.
#
# Needs s3rver (npm, cached in $BUILD/s3rver), rclone and s3fs (Debian):
# s3-setup.sh installs them, and prints SKIP only when that fails.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"
source "$(dirname "$0")/s3-setup.sh"

START=$SECONDS
elapsed() { echo "$((SECONDS - START)) s"; }

note "installing / checking s3rver $S3RVER_VERSION, rclone, s3fs"
s3_install
note "using $(s3_versions) ($(elapsed))"

BUCKET=lsnfs-archive
s3_start "$BUCKET"
note "s3rver answers on $S3_URL (listening on 127.0.0.1 only), bucket $BUCKET exists ($(elapsed))"

# archived_copy_eq OBJECT EXPECTED_FILE WHAT: the object, fetched with rclone,
# is a zstd stream that decompresses to EXPECTED_FILE.
archived_copy_eq() {
	rm -f -- "$T/fetched.zst" "$T/fetched"
	rclone copyto "s3:$BUCKET/$1" "$T/fetched.zst" 2>"$T/rclone.err" ||
		fail "$3: rclone copyto s3:$BUCKET/$1 failed: $(cat "$T/rclone.err")"
	zstd -q -dc "$T/fetched.zst" >"$T/fetched" 2>"$T/zstd.err" ||
		fail "$3: s3:$BUCKET/$1 is not a valid zstd stream: $(cat "$T/zstd.err")"
	assert_file_eq "$T/fetched" "$2" "$3"
}

# ======================================================================
# Path 1: archive_command with rclone
# ======================================================================
note "PATH 1: archive_command='rclone copyto %p s3:$BUCKET/%f'"
SA=$T/store-a
MA=$T/mnt-a
"$MKFS" --segment-size 65536 --node-id a "$SA" >/dev/null
CMD="rclone copyto %p s3:$BUCKET/%f"
mount_fs "$SA" "$MA" "archive_command=$CMD" trim_delay=0
LOG_A1=$DAEMON_LOG
assert_eq "$(xattr_get "$MA" user.lsnfs.archive)" "$CMD" "user.lsnfs.archive of node a's root"
assert_eq "$(xattr_get "$MA" user.lsnfs.node_id)" "a" "user.lsnfs.node_id of node a's root"

mkdir "$MA/p0"
append_records "$MA/p0" "$T/ref-p0" 40 1000 11
note "p0: 40 records appended; committing snapshot 30 (~2 MiB random, cp to staging + mv)"
rand_file "$T/state-p0" $((2 * 1024 * 1024 + 4321)) 21
cp "$T/state-p0" "$MA/p0/snapshots/.incoming"
SNAP_P0=$MA/p0/snapshots/$(lsn20 30).snap
mv "$MA/p0/snapshots/.incoming" "$SNAP_P0"
assert_file_eq "$SNAP_P0" "$T/state-p0" "committed snapshot p0/30 read back"

note "waiting (<= 20 s) until user.lsnfs.archived of p0/30 is yes"
wait_attr "$SNAP_P0" archived '^yes$' 20
assert_eq "$(lsn_attr "$MA/p0" archived_lsn)" "30" "archived_lsn of p0 after the upload"
assert_log "log p0: snapshot 30 archived" "$LOG_A1" "node a's log (archived by archive_command)"
note "archived after $(elapsed); checking the object with rclone"

OBJ_P0=p0/$(lsn20 30).snap.zst
assert_eq "$(rclone lsf "s3:$BUCKET/p0/" 2>&1)" "$(lsn20 30).snap.zst" \
	"rclone lsf s3:$BUCKET/p0/ (exactly the archived snapshot)"
rclone cat "s3:$BUCKET/$OBJ_P0" 2>"$T/rclone.err" | zstd -q -dc >"$T/cat-p0" ||
	fail "rclone cat s3:$BUCKET/$OBJ_P0 | zstd -dc failed: $(cat "$T/rclone.err")"
assert_file_eq "$T/cat-p0" "$T/state-p0" "rclone cat s3:$BUCKET/$OBJ_P0 | zstd -dc vs the snapshot"
note "rclone cat s3:$BUCKET/$OBJ_P0 | zstd -dc equals the snapshot byte for byte"
umount_fs "$MA"
assert_eq "$DAEMON_RC" "0" "node a's exit status (path 1)"

# ======================================================================
# Path 2: archive=DIR over s3fs, two "machines" sharing one bucket
# ======================================================================
note "PATH 2: archive=DIR on s3fs mounts of the same bucket"
XA=$T/s3fs-a # machine a's view of the bucket
XB=$T/s3fs-b # machine b's view of the bucket
s3fs_mount "$BUCKET" "$XA"
s3fs_mount "$BUCKET" "$XB"
note "two s3fs mounts of $BUCKET up ($(elapsed))"
[[ -f $XA/$OBJ_P0 ]] || fail "s3fs does not show the rclone-uploaded $OBJ_P0: $(ls -la "$XA" "$XA/p0" 2>&1)"
note "s3fs shows the object rclone uploaded in path 1"

note "node a remounted with archive=$XA (node a')"
mount_fs "$SA" "$MA" "archive=$XA" trim_delay=0
LOG_A2=$DAEMON_LOG
assert_eq "$(xattr_get "$MA" user.lsnfs.archive)" "$XA" "user.lsnfs.archive of node a' root"
wait_for 20 "node a registered as $XA/.nodes/a" test -f "$XA/.nodes/a"
rclone lsf "s3:$BUCKET/.nodes/" 2>/dev/null | grep -qx a ||
	fail "rclone does not see node a's registration .nodes/a: $(rclone lsf "s3:$BUCKET/.nodes/" 2>&1)"
note "node a registered in .nodes/ (seen through s3fs and rclone)"

note "p0/30 (uploaded by rclone) is verified through s3fs and counts as archived"
softly wait_attr "$SNAP_P0" archived '^yes$' 20
softly assert_eq "$(lsn_attr "$MA/p0" archived_lsn)" "30" "archived_lsn of p0 on node a'"

mkdir "$MA/p1"
append_records "$MA/p1" "$T/ref-p1" 25 2000 12
note "p1: 25 records appended; committing snapshot 20 (~2 MiB random)"
rand_file "$T/state-p1" $((2 * 1024 * 1024 + 777)) 22
cp "$T/state-p1" "$MA/p1/snapshots/.staging-p1"
SNAP_P1=$MA/p1/snapshots/$(lsn20 20).snap
mv "$MA/p1/snapshots/.staging-p1" "$SNAP_P1"
note "waiting (<= 20 s) until user.lsnfs.archived of p1/20 is yes"
wait_attr "$SNAP_P1" archived '^yes$' 20
assert_eq "$(lsn_attr "$MA/p1" archived_lsn)" "20" "archived_lsn of p1 on node a'"
note "archived after $(elapsed)"

OBJ_P1=p1/$(lsn20 20).snap.zst
[[ -f $XA/$OBJ_P1 ]] || fail "no $XA/$OBJ_P1 on node a's s3fs mount: $(ls -la "$XA/p1" 2>&1)"
zstd -q -dc "$XA/$OBJ_P1" | cmp -s - "$T/state-p1" ||
	fail "$XA/$OBJ_P1 (through s3fs) does not decompress to the snapshot"
assert_eq "$(rclone lsf "s3:$BUCKET/p1/" 2>&1)" "$(lsn20 20).snap.zst" \
	"rclone lsf s3:$BUCKET/p1/ (exactly the archived snapshot, no temporary file left)"
archived_copy_eq "$OBJ_P1" "$T/state-p1" "s3:$BUCKET/$OBJ_P1 fetched with rclone, decompressed"
note "the object is in the bucket (rclone) and decompresses to the snapshot"

note "node b: its own store, archive on the second s3fs mount"
SB=$T/store-b
MB=$T/mnt-b
"$MKFS" --segment-size 65536 --node-id b "$SB" >/dev/null
mount_fs "$SB" "$MB" "archive=$XB" trim_delay=0
LOG_B=$DAEMON_LOG
assert_eq "$(xattr_get "$MB" user.lsnfs.node_id)" "b" "user.lsnfs.node_id of node b's root"
note "waiting (<= 20 s) until node b's user.lsnfs.mode is cluster (it sees .nodes/a)"
wait_attr "$MB" mode '^cluster$' 20
assert_log_within 5 "another node \(a\) uses the archive" "$LOG_B" "node b's log (switch to cluster)"
note "node b switched to cluster after $(elapsed)"
note "waiting (<= 20 s) until node a' sees .nodes/b and switches to cluster too"
wait_attr "$MA" mode '^cluster$' 20
assert_log_within 5 "another node \(b\) uses the archive" "$LOG_A2" "node a's log (switch to cluster)"

note "node b: mkdir p1, wait (<= 20 s) for a's snapshot 20 in p1/snapshots/"
mkdir "$MB/p1"
B_SNAP_P1=$MB/p1/snapshots/$(lsn20 20).snap
wait_for 20 "$B_SNAP_P1 listed on node b" test -e "$B_SNAP_P1"
assert_eq "$(ls -A "$MB/p1/snapshots")" "$(lsn20 20).snap" "node b's p1/snapshots/ listing"
assert_eq "$(stat -c %s "$B_SNAP_P1")" "$(stat -c %s "$T/state-p1")" "size of p1/20 on node b"
assert_file_eq "$B_SNAP_P1" "$T/state-p1" "p1/20 read through on node b vs the original"
note "node b reads a's snapshot p1/20 byte for byte ($(elapsed))"
softly assert_eq "$(xattr_get "$B_SNAP_P1" user.lsnfs.archived)" "yes" \
	"user.lsnfs.archived of the remote snapshot on node b"
softly assert_eq "$(lsn_attr "$MB/p1" archived_lsn)" "20" "archived_lsn of p1 on node b"

note "node b: mkdir p0, the snapshot rclone uploaded in path 1 is listed and read through too"
mkdir "$MB/p0"
B_SNAP_P0=$MB/p0/snapshots/$(lsn20 30).snap
wait_for 20 "$B_SNAP_P0 listed on node b" test -e "$B_SNAP_P0"
assert_file_eq "$B_SNAP_P0" "$T/state-p0" "p0/30 read through on node b vs the original"
note "node b reads p0/30 (archived by rclone) byte for byte"

rclone lsf "s3:$BUCKET/.nodes/" 2>/dev/null | grep -qx b ||
	fail "rclone does not see node b's registration .nodes/b"
note "bucket .nodes/: $(rclone lsf "s3:$BUCKET/.nodes/" 2>/dev/null | tr '\n' ' ')"

umount_fs "$MB"
assert_eq "$DAEMON_RC" "0" "node b's exit status"
umount_fs "$MA"
assert_eq "$DAEMON_RC" "0" "node a's exit status (path 2)"
s3fs_umount "$XB"
s3fs_umount "$XA"
s3_stop
note "all unmounted, s3rver stopped; total $(elapsed)"
finish
