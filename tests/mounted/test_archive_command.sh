#!/usr/bin/env bash
# archive_command (issue 9 item 3, issue 10 item 1).
#
# 1. A confirmation is durable: with the no-overwrite idiom
#    `test ! -f DIR/%f && cp %p DIR/%f` the snapshot is uploaded once and
#    stays archived over three remounts (the command is run once in all).
# 2. archive_check_command re-checks at mount: the copy removed from DIR
#    while unmounted makes the snapshot count no more and go again.
# 3. A command that hangs: appends and reads go on, archive_timeout kills
#    it and the snapshot (and trim_blocked, lsnfsctl status) says failed:
#    ... with the command's last stderr line; unmount and SIGTERM with a command hanging finish in < 10 s,
#    the command's process group is gone, and the store mounts again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"

DEST=$T/dest
CALLS=$T/calls
M=$T/mnt
mkdir -p "$DEST/p"
: >"$CALLS"
"$MKFS" --segment-size 4096 "$T/store" >/dev/null
CMD="echo %f >>$CALLS; test ! -f $DEST/%f && cp %p $DEST/%f"

note "1. one upload, three remounts"
mount_fs "$T/store" "$M" "archive_command=$CMD" trim_delay=0
mkdir "$M/p"
append_records "$M/p" "$T/ref" 30 1024 3
printf 'state at 20' >"$M/p/snapshots/.s"
mv "$M/p/snapshots/.s" "$M/p/snapshots/$(lsn20 20).snap"
wait_for 10 "snapshot 20 archived" snap_archived_is "$M/p/snapshots/$(lsn20 20).snap" yes
assert_eq "$(zstd -q -dc "$DEST/p/$(lsn20 20).snap.zst")" "state at 20" "the uploaded copy"
for i in 1 2 3; do
	umount_fs "$M"
	mount_fs "$T/store" "$M" "archive_command=$CMD" trim_delay=0
	wait_attr "$M/p" archived_lsn '^20$' 10
	assert_eq "$(xattr_get "$M/p/snapshots/$(lsn20 20).snap" user.lsnfs.archived)" "yes" \
		"archived after remount $i"
done
sleep 2
assert_eq "$(wc -l <"$CALLS")" "1" "archive_command runs over three remounts"
umount_fs "$M"

note "2. archive_check_command re-checks at mount"
CHECK="test -f $DEST/%f"
rm "$DEST/p/$(lsn20 20).snap.zst"
mount_fs "$T/store" "$M" "archive_command=$CMD" "archive_check_command=$CHECK" trim_delay=0
wait_for 10 "snapshot 20 archived again" test -f "$DEST/p/$(lsn20 20).snap.zst"
wait_attr "$M/p" archived_lsn '^20$' 10
assert_eq "$(wc -l <"$CALLS")" "2" "archive_command runs after the check said absent"
assert_log "snapshot 20 was marked archived but"
umount_fs "$M"

note "3. a hanging command"
TAG=lsnfs-hang-$$
hang_gone() { ! pgrep -f "true lsnfs-hang-[0-9]+" >/dev/null; }
HANG="echo about to hang >&2; sleep 1000; true $TAG"
mount_fs "$T/store" "$M" "archive_command=$HANG" archive_timeout=2 trim_delay=0
printf 'state at 25' >"$M/p/snapshots/.s"
mv "$M/p/snapshots/.s" "$M/p/snapshots/$(lsn20 25).snap"
wait_for 10 "the command to start" pgrep -f "$TAG"
append_records "$M/p" "$T/ref" 5 100 4
assert_eq "$(tail_of "$M/p")" "35" "tail while the command hangs"
cat "$M/p/segments/"* >/dev/null
wait_for 10 "the timeout to fire" bash -c \
	"getfattr --only-values -n user.lsnfs.archived '$M/p/snapshots/$(lsn20 25).snap' | grep -q '^failed: .*about to hang'"
assert_log "archive_command.*(timed out|timeout)"
assert_match "$(lsn_attr "$M/p" trim_blocked)" "archiving snapshot 25 failed: .*about to hang" \
	"trim_blocked names the command's last stderr line"
"$BUILD/lsnfsctl" status "$M" --json | grep -q "about to hang" ||
	fail "lsnfsctl status does not show the command's last stderr line"
umount_fs "$M"

mount_fs "$T/store" "$M" "archive_command=$HANG" archive_timeout=1000
wait_for 10 "the command to start" pgrep -f "$TAG"
t0=$(date +%s%N)
umount_fs "$M"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
note "   unmount with the command hanging took $ms ms"
((ms < 10000)) || fail "unmount took $ms ms with a hanging archive_command"
wait_for 5 "the hanging command to be killed" hang_gone

mount_fs "$T/store" "$M" "archive_command=$HANG" archive_timeout=1000
wait_for 10 "the command to start" pgrep -f "$TAG"
pid=$DAEMON_PID
t0=$(date +%s%N)
kill -TERM "$pid"
for ((i = 0; i < 200; i++)); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
note "   SIGTERM with the command hanging took $ms ms"
((ms < 10000)) || fail "SIGTERM took $ms ms with a hanging archive_command"
mountpoint -q "$M" && fail "still mounted after SIGTERM"
wait_for 5 "the hanging command to be killed" hang_gone
mount_fs "$T/store" "$M" trim_delay=0
assert_eq "$(tail_of "$M/p")" "35" "tail after the remount"
umount_fs "$M"
finish
