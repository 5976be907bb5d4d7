#!/usr/bin/env bash
# Inputs that could be read two ways get one documented meaning (README,
# Decisions):
# - xattr values are exactly decimal text (or a word) with no newline and no
#   NUL: "5\n" and "5\0" are EINVAL and change nothing (the seal's value is
#   ignored, whatever it is);
# - truncate of append/append.lines: to 0 (O_TRUNC, the shell's '>') is
#   accepted and removes nothing; to any other size EPERM;
# - a write at an offset (pwrite, lseek) to append/append.lines appends at the
#   log's end as with O_APPEND: the offset is ignored.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"

"$MKFS" --segment-size 4096 "$T/store" >/dev/null
M=$T/mnt
mount_fs "$T/store" "$M"
L=$M/p
mkdir "$L"
printf 'one' >"$L/append"
printf 'two' >"$L/append"
printf 'three' >"$L/append"

# setx PATH NAME PYTHON-BYTES-LITERAL: os.setxattr; prints "ok" or the errno name.
setx() {
	python3 - "$1" "$2" "$3" <<'EOF'
import ast, errno, os, sys
try:
    os.setxattr(sys.argv[1], sys.argv[2], ast.literal_eval(sys.argv[3]))
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
EOF
}
# logged_since LINES: the daemon log grew since it had LINES lines.
log_lines() { wc -l <"$DAEMON_LOG"; }

note "xattr values with a trailing newline or NUL: EINVAL, nothing changes, logged"
for v in 'b"2\n"' 'b"2\0"' 'b"2\n\0"' 'b"2\r\n"' 'b"\n"' 'b"2\0\0"'; do
	before=$(log_lines)
	assert_eq "$(setx "$L" user.lsnfs.persisted_lsn "$v")" "EINVAL" "persisted_lsn = $v"
	assert_eq "$(setx "$L" user.lsnfs.hold.h "$v")" "EINVAL" "hold.h = $v"
	assert_eq "$(setx "$L" user.lsnfs.trim "$v")" "EINVAL" "trim = $v"
	assert_ge "$(($(log_lines) - before))" 3 "daemon log lines for the refusals of $v"
done
for v in 'b"single\n"' 'b"single\0"' 'b"cluster\n"'; do
	assert_eq "$(setx "$M" user.lsnfs.mode "$v")" "EINVAL" "mode = $v"
done
for v in 'b"safe\n"' 'b"safe\0"'; do
	assert_eq "$(setx "$L" user.lsnfs.trim "$v")" "EINVAL" "trim = $v"
done
assert_eq "$(lsn_attr "$L" persisted_lsn)" "0" "persisted_lsn after the refusals"
assert_errno getfattr -n user.lsnfs.hold.h "$L" "No such attribute|No data available"
assert_eq "$(lsn_attr "$M" mode)" "single" "mode after the refusals"
note "the same values without the newline are accepted"
assert_eq "$(setx "$L" user.lsnfs.persisted_lsn 'b"2"')" "ok" "persisted_lsn = 2"
assert_eq "$(setx "$L" user.lsnfs.hold.h 'b"1"')" "ok" "hold.h = 1"
assert_eq "$(setx "$M" user.lsnfs.mode 'b"single"')" "ok" "mode = single"
assert_eq "$(lsn_attr "$L" persisted_lsn) $(lsn_attr "$L" hold.h)" "2 1" "persisted_lsn and hold.h"
note "seal ignores its value, newline or not"
assert_eq "$(setx "$L" user.lsnfs.seal 'b"1\n"')" "ok" "seal = 1\\n"
printf 'four' >"$L/append"
assert_eq "$(seg_names "$L" | tr '\n' ' ')" "00000000000000000001.log 00000000000000000004.log " \
	"segments after the seal"

note "truncate of an append file: to 0 accepted (nothing removed), to any other size EPERM"
for f in append append.lines; do
	STATE=$(log_state "$L")
	before=$(log_lines)
	assert_errno truncate -s 10 "$L/$f" "Operation not permitted"
	assert_errno truncate -s 1 "$L/$f" "Operation not permitted"
	assert_errno python3 -c 'import os,sys; os.truncate(sys.argv[1], 4096)' "$L/$f" "Operation not permitted"
	assert_errno python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.ftruncate(fd, 3)' "$L/$f" "Operation not permitted"
	assert_ge "$(($(log_lines) - before))" 4 "daemon log lines for the refused truncates of $f"
	truncate -s 0 "$L/$f" || fail "truncate -s 0 $f"
	: >"$L/$f"
	assert_eq "$(log_state "$L")" "$STATE" "the log after truncates of $f"
	assert_eq "$(stat -c %s "$L/$f")" "0" "size of $f"
done

note "writes at an offset append at the end (the offset is ignored, as with O_APPEND)"
python3 - "$L" <<'EOF'
import os, sys
log = sys.argv[1]
fd = os.open(log + "/append", os.O_WRONLY)
assert os.pwrite(fd, b"at-12345", 12345) == 8
os.lseek(fd, 1 << 40, os.SEEK_SET)
assert os.write(fd, b"after-seek") == 10
assert os.pwrite(fd, b"at-0", 0) == 4
os.close(fd)
fd = os.open(log + "/append.lines", os.O_WRONLY | os.O_APPEND)
assert os.pwrite(fd, b"line-a\n", 999) == 7
fd2 = os.open(log + "/append.lines", os.O_WRONLY)
os.lseek(fd2, 77, os.SEEK_SET)
assert os.write(fd2, b"line-b\n") == 7
os.close(fd2)
os.close(fd)
EOF
assert_eq "$(tail_of "$L")" "9" "tail after 5 writes at offsets"
assert_eq "$(cat "$L/segments/"*.log)" "onetwothreefourat-12345after-seekat-0line-a
line-b" "the log's bytes: each write appended once, in order, no holes"
assert_eq "$(cat "$L/index/00000000000000000004.index")" "4 0 4
5 4 8
6 12 10
7 22 4
8 26 7
9 33 7" "index of the active segment"
assert_eq "$(stat -c %s "$L/append") $(stat -c %s "$L/append.lines")" "0 0" "sizes of the append files"

umount_fs "$M"
finish
