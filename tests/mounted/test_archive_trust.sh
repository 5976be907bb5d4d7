#!/usr/bin/env bash
# An archive that is not mounted is not an archive (issue 9 items 1, 4, 5).
#
# 1. -o archive=DIR on a store without an archive writes the marker and the
#    store keeps archive and archive_id (a later mount without -o uses it).
# 2. The archive (a bind mount under the test dir) is unmounted: the marker
#    is missing, so nothing new is confirmed and nothing is written into the
#    empty mount point, archived_lsn counts nothing, no trim, trim_blocked,
#    lsnfsctl status and the snapshot's archived xattr say "archive
#    unavailable: marker missing at DIR", one warning.  Mounted again: it
#    comes back (one message), the snapshots are confirmed, trim works.
# 3. Another archive's marker is refused (foreground and daemonized: one
#    line on the terminal, non-zero exit); an empty -o archive= on a store
#    with an archive is refused, archive=none is explicit.
# 4. Effective options as root xattrs user.lsnfs.option.<key>; an override
#    is logged.
# 5. Mount point: a regular file is refused, so is a mount point unless
#    -o nonempty.  A read-only archive does not stop the mount.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"

REAL=$T/real-archive
ARCH=$T/archive
M=$T/mnt
mkdir -p "$REAL" "$ARCH"
mount --bind "$REAL" "$ARCH"
on_exit umount -l "$ARCH"
"$MKFS" --segment-size 4096 --node-id solo "$T/store" >/dev/null

note "1. -o archive=DIR adopts: marker written, the store keeps it"
mount_fs "$T/store" "$M" "archive=$ARCH" trim_delay=0
[[ -f $REAL/.lsnfs-archive ]] || fail "no marker written at the archive's root"
ID=$(sed -n 's/^archive_id=//p' "$REAL/.lsnfs-archive")
assert_eq "$(xattr_get "$M" user.lsnfs.option.archive_id)" "$ID" "option.archive_id"
assert_eq "$(xattr_get "$M" user.lsnfs.option.trim_delay)" "0" "option.trim_delay (-o)"
assert_eq "$(xattr_get "$M" user.lsnfs.option.segment_size)" "4096" "option.segment_size (store)"
getfattr --absolute-names -d -m - "$M" | grep -q 'user.lsnfs.option.archive_timeout="300"' ||
	fail "listxattr of the root does not show option.archive_timeout=300"
assert_log "-o trim_delay=0 overrides the store's value '600' for this mount"
assert_eq "$(lsn_attr "$M" archive_state)" "available" "archive_state"
umount_fs "$M"
mount_fs "$T/store" "$M" trim_delay=0
assert_eq "$(lsn_attr "$M" archive)" "$ARCH" "archive kept by the store (no -o)"

note "2. archived snapshot 20, then the archive is unmounted"
mkdir "$M/p"
append_records "$M/p" "$T/ref" 30 1024 7
printf 'state at 20' >"$M/p/snapshots/.s"
mv "$M/p/snapshots/.s" "$M/p/snapshots/$(lsn20 20).snap"
wait_attr "$M/p" archived_lsn '^20$' 10
umount "$ARCH"
want="archive unavailable: marker missing at $ARCH"
wait_attr "$M" archive_state "^$want\$" 10
assert_eq "$(lsn_attr "$M/p" archived_lsn)" "0" "archived_lsn while unavailable"
assert_match "$(lsn_attr "$M/p" trim_blocked)" "^$want" "trim_blocked"
assert_match "$(xattr_get "$M/p/snapshots/$(lsn20 20).snap" user.lsnfs.archived)" "^failed: $want" \
	"archived of snapshot 20"
assert_errno setfattr -n user.lsnfs.trim -v 20 "$M/p" "Operation not permitted"
set_attr "$M/p" trim safe
assert_eq "$(lsn_attr "$M/p" trim_point)" "0" "trim_point while unavailable"
st=$("$BUILD/lsnfsctl" status "$M")
assert_match "$st" "$want" "lsnfsctl status"
note "   a new snapshot is not confirmed, and nothing lands in the empty mount point"
printf 'state at 25' >"$M/p/snapshots/.s"
mv "$M/p/snapshots/.s" "$M/p/snapshots/$(lsn20 25).snap"
sleep 3
assert_match "$(xattr_get "$M/p/snapshots/$(lsn20 25).snap" user.lsnfs.archived)" "^failed: $want" \
	"archived of snapshot 25"
assert_eq "$(ls -A "$ARCH")" "" "the unmounted archive's mount point"
assert_eq "$(grep -c 'WARNING: archive unavailable: marker missing' "$DAEMON_LOG")" "1" "warnings logged"

note "   remounted while the archive is away: the node mounts, the archive stays unavailable"
umount_fs "$M"
mount_fs "$T/store" "$M" trim_delay=0
wait_attr "$M" archive_state "^$want\$" 10
assert_eq "$(lsn_attr "$M/p" archived_lsn)" "0" "archived_lsn after a remount while unavailable"
assert_eq "$(ls -A "$ARCH")" "" "the unmounted archive's mount point after a remount"

note "   the archive comes back: confirmed (20 and 25), trim goes on"
mount --bind "$REAL" "$ARCH"
wait_attr "$M" archive_state '^available$' 10
wait_attr "$M/p" archived_lsn '^25$' 10
assert_log "archive $ARCH is available again"
assert_eq "$(xattr_get "$M/p/snapshots/$(lsn20 20).snap" user.lsnfs.archived)" "yes" "20 archived"
[[ -f $REAL/p/$(lsn20 25).snap.zst ]] || fail "snapshot 25 not in the archive after it came back"
set_attr "$M/p" trim safe
assert_ge "$(lsn_attr "$M/p" trim_point)" 20 "trim_point after recovery"
grep -q "^trim.p=" "$REAL/.nodes/solo" || fail "trim point not published: $(cat "$REAL/.nodes/solo")"
umount_fs "$M"

note "   a read-only archive does not stop the mount (issue 10 item 5)"
mount -o remount,bind,ro "$ARCH"
mount_fs "$T/store" "$M" trim_delay=0
assert_log_within 5 "cannot register node solo in archive $ARCH: Read-only file system"
assert_eq "$(lsn_attr "$M" archive_state)" "available" "archive_state of a read-only archive"
umount_fs "$M"
mount -o remount,bind,rw "$ARCH"

note "3. another archive's marker, an empty archive=, archive=none"
OTHER=$T/other-archive
mkdir "$OTHER"
"$MKFS" --archive "$OTHER" "$T/store2" >/dev/null
[[ -f $OTHER/.lsnfs-archive ]] || fail "mkfs --archive wrote no marker"
rc=0
out=$(timeout 20 "$LSNFS" "$T/store" "$M" -f -o "archive=$OTHER" 2>&1) || rc=$?
assert_ne "$rc" 0 "exit status with another archive's marker"
assert_match "$out" "belongs to another archive id" "refusal"
assert_eq "$(wc -l <<<"$out")" "1" "lines of the refusal"
mountpoint -q "$M" && fail "mounted despite another archive's marker"
note "   daemonized: the reason reaches the terminal"
rc=0
out=$(timeout 20 "$LSNFS" "$T/store" "$M" -o "archive=$OTHER" 2>&1) || rc=$?
assert_ne "$rc" 0 "daemonized exit status with another archive's marker"
assert_match "$out" "belongs to another archive id" "daemonized refusal"
mountpoint -q "$M" && fail "daemonized: mounted despite another archive's marker"
rc=0
out=$(timeout 20 "$LSNFS" "$T/store3-missing" "$M" 2>&1) || rc=$?
assert_ne "$rc" 0 "daemonized exit status for a missing store"
"$MKFS" "$T/store4" >/dev/null
rc=0
out=$(timeout 20 "$LSNFS" "$T/store4" "$M" -o "archive=$T/nowhere" 2>&1) || rc=$?
assert_ne "$rc" 0 "daemonized exit status for a missing archive dir"
assert_match "$out" "does not exist; lsnfs never creates it" "daemonized: missing archive dir"
[[ ! -e $T/nowhere ]] || fail "lsnfs created the archive root"
rc=0
out=$(timeout 20 "$LSNFS" "$T/store" "$M" -f -o archive= 2>&1) || rc=$?
assert_ne "$rc" 0 "exit status with an empty archive="
assert_match "$out" "store's archive is $ARCH.*archive=none" "empty archive= refusal"
mount_fs "$T/store" "$M" archive=none
assert_eq "$(lsn_attr "$M" archive)" "" "archive with -o archive=none"
assert_log "mounted with -o archive=none"
umount_fs "$M"

note "5. mount points: a regular file, an existing mount point"
touch "$T/file"
assert_errno timeout 20 "$LSNFS" "$T/store" "$T/file" -f "mount point .* is not a directory"
mkdir "$T/busy"
mount -t tmpfs tmpfs "$T/busy"
on_exit umount -l "$T/busy"
assert_errno timeout 20 "$LSNFS" "$T/store" "$T/busy" -f "is already a mount point"
"$LSNFS" "$T/store" "$T/busy" -o nonempty || fail "-o nonempty: the mount over a mount point failed"
[[ -d $T/busy/p ]] || fail "-o nonempty mount does not show the store"
fusermount3 -u "$T/busy"
wait_for 10 "the -o nonempty daemon to let the store go" \
	bash -c "! grep -q ' $T/busy fuse' /proc/mounts"
finish
