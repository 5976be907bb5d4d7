#!/usr/bin/env bash
# Rough edges of issue 11: an O_RDONLY read of append/append.lines is
# end-of-file (the O_RDWR LSN read stays), the daemon refuses an unknown
# option in one line before touching the store while standard FUSE options
# still mount, and the log lines: a refused persisted_lsn is one line, the
# "only logs (mkdir) live at the mount root" message appears only at the
# root, a malformed value is quoted, a hold that blocks a trim is named.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

"$MKFS" "$T/s" >/dev/null
M=$T/m

note "lsnfs refuses unknown options in one line plus 'Try', exit 2, store untouched"
before=$(find "$T/s" -printf '%p %s %T@\n' | sort | md5sum)
for args in "--bogus" "-x" "-o nosuch" "-o ro,nosuch=1"; do
	rc=0
	# shellcheck disable=SC2086
	"$LSNFS" "$T/s" "$T/never" $args >"$T/out" 2>"$T/err" || rc=$?
	assert_eq "$rc" "2" "lsnfs $args: exit status"
	assert_eq "$(wc -l <"$T/err")" "2" "lsnfs $args: lines on stderr ($(cat "$T/err"))"
	bad=${args##* }; [[ $args == -o* ]] && bad="-o ${bad##*,}"
	assert_eq "$(head -n1 "$T/err")" "lsnfs: unknown option '$bad'" "lsnfs $args: the error line"
	assert_eq "$(tail -n1 "$T/err")" "Try 'lsnfs --help' for more information." "lsnfs $args: second line"
	assert_eq "$(cat "$T/out")" "" "lsnfs $args: stdout"
done
after=$(find "$T/s" -printf '%p %s %T@\n' | sort | md5sum)
assert_eq "$after" "$before" "the store after refused invocations"
[[ ! -e $T/never ]] || fail "a refused invocation created the mount point"

note "standard FUSE options still pass (nonempty, allow_other, default_permissions, ro, fsname, noatime)"
mkdir -p "$M"
mount_fs "$T/s" "$M" nonempty allow_other default_permissions noatime,nosuid,nodev
assert_eq "$(findmnt -n -o OPTIONS --mountpoint "$M" | tr ',' '\n' | grep -cx -e nosuid -e nodev)" "2" "mount flags"
umount_fs "$M"
mount_fs "$T/s" "$M" ro fsname=whatever
assert_eq "$(findmnt -n -o OPTIONS --mountpoint "$M" | tr ',' '\n' | grep -x ro)" "ro" "ro mount"
umount_fs "$M"

mount_fs "$T/s" "$M"
LOG=$DAEMON_LOG
mkdir "$M/a"
printf 'one\ntwo\n' >"$M/a/append.lines"

note "O_RDONLY reads of append files are empty like stat says; O_RDWR still gives the LSN"
for f in append append.lines; do
	assert_eq "$(stat -c %s "$M/a/$f")" "0" "stat size of $f"
	assert_eq "$(cat "$M/a/$f" | wc -c)" "0" "bytes read from $f with O_RDONLY"
done
mkdir -p "$T/copy"
cp -r "$M/a/append" "$M/a/append.lines" "$T/copy/"
assert_eq "$(cat "$T/copy/append" "$T/copy/append.lines" | wc -c)" "0" "cp of the append files"
got=$(python3 - "$M/a/append" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.write(fd, b"three")
first = os.pread(fd, 64, 0)
os.close(fd)
print(first.decode().strip())
PY
)
assert_eq "$got" "3" "O_RDWR read after a write"
assert_eq "$(tail_of "$M/a")" "3" "tail"

note "a refused persisted_lsn logs exactly one line"
n0=$(wc -l <"$LOG")
assert_errno setfattr -n user.lsnfs.persisted_lsn -v 99 "$M/a" "Invalid argument"
sleep 0.2
new=$(tail -n +"$((n0 + 1))" "$LOG")
assert_eq "$(grep -c . <<<"$new")" "1" "lines logged for one refused persisted_lsn ($new)"
assert_match "$new" "persisted_lsn 99 refused" "the line"

note "a malformed value is quoted in the message"
n0=$(wc -l <"$LOG")
assert_errno setfattr -n user.lsnfs.persisted_lsn -v 12x "$M/a" "Invalid argument"
sleep 0.2
assert_match "$(tail -n +"$((n0 + 1))" "$LOG")" "malformed value '12x'" "quoted value"

note "'only logs (mkdir) live at the mount root' only for the root"
n0=$(wc -l <"$LOG")
assert_errno touch "$M/newfile" "Operation not permitted"
assert_errno touch "$M/a/newfile" "Operation not permitted"
assert_errno touch "$M/a/segments/x" "Operation not permitted"
sleep 0.2
new=$(tail -n +"$((n0 + 1))" "$LOG")
assert_match "$(grep "$M/newfile\|create /newfile" <<<"$new")" "only logs \(mkdir\) live at the mount root" "root create"
assert_eq "$(grep -c 'only logs (mkdir)' <<<"$new")" "1" "root message count ($new)"
assert_match "$(grep 'a/newfile' <<<"$new")" "files in a log are fixed" "create in a log"

note "a hold that blocks a trim is named in trim_blocked and in the refusal"
"$MKFS" --segment-size 4096 "$T/s2" >/dev/null
umount_fs "$M"
mount_fs "$T/s2" "$M" trim_delay=0
LOG=$DAEMON_LOG
mkdir "$M/b"
python3 -c "
import os
fd = os.open('$M/b/append', os.O_WRONLY)
for i in range(300): os.write(fd, b'x' * 100)
os.close(fd)"
setfattr -n user.lsnfs.seal -v 1 "$M/b"
setfattr -n user.lsnfs.persisted_lsn -v 300 "$M/b"
setfattr -n user.lsnfs.hold.backup -v 120 "$M/b"
setfattr -n user.lsnfs.hold.cdc -v 250 "$M/b"
assert_match "$(lsn_attr "$M/b" trim_blocked)" "hold backup at 120" "trim_blocked"
n0=$(wc -l <"$LOG")
assert_errno setfattr -n user.lsnfs.trim -v 300 "$M/b" "Operation not permitted"
sleep 0.2
assert_match "$(tail -n +"$((n0 + 1))" "$LOG")" "hold backup at 120" "the logged refusal"
umount_fs "$M"
finish
