#!/usr/bin/env bash
# The tree of a log, log name rules, rmdir of a log (SPEC sections 1, 2).
source "$(dirname "$0")/lib.sh"

"$MKFS" --segment-size 4096 --node-id basic-node "$T/store" >/dev/null
mount_fs "$T/store" "$T/mnt"
M=$T/mnt

note "a new mount is empty"
assert_eq "$(ls -A "$M")" "" "ls of a fresh mount"

note "mkdir creates a log with append, append.lines, segments, index, snapshots"
mkdir "$M/orders"
assert_eq "$(ls "$M")" "orders" "ls of the mount root"
assert_eq "$(ls "$M/orders" | tr '\n' ' ')" "active.log append append.lines index segments snapshots " \
	"ls of a log"
assert_eq "$(stat -c %F "$M/orders")" "directory" "type of a log"
assert_eq "$(stat -c %F "$M/orders/append")" "regular empty file" "type of append"
assert_eq "$(stat -c %F "$M/orders/append.lines")" "regular empty file" "type of append.lines"
for d in segments index snapshots; do
	assert_eq "$(stat -c %F "$M/orders/$d")" "directory" "type of $d"
done
assert_eq "$(ls -A "$M/orders/snapshots")" "" "snapshots/ of a new log"
assert_eq "$(tail_of "$M/orders")" "0" "tail_lsn of a new log"
assert_eq "$(lsn_attr "$M/orders" trim_point)" "0" "trim_point of a new log"

note "mkdir of an existing log: File exists"
assert_errno mkdir "$M/orders" "File exists"

note "valid names: 1 and 64 characters, [A-Za-z0-9._-], dots and dashes inside"
name64=$(printf 'n%.0s' $(seq 64))
for n in a "$name64" "A-z_0.9" "x.y" "p-1" "_u" "-dash" "9"; do
	mkdir "$M/$n" || fail "mkdir of valid log name '$n' failed"
	[[ -d "$M/$n/segments" ]] || fail "log '$n' has no segments/"
done

note "invalid names: EINVAL (Invalid argument) and nothing created"
before=$(ls -A "$M")
name65=$(printf 'n%.0s' $(seq 65))
for n in ".x" ".hidden" "$name65" "a b" "a:b" "tab	x" "é" "a*b" "a\\b"; do
	assert_errno mkdir "$M/$n" "Invalid argument"
done
assert_eq "$(ls -A "$M")" "$before" "root listing after refused mkdirs"

note "mkdir inside a log (or its subdirectories): Operation not permitted"
assert_errno mkdir "$M/orders/sub" "Operation not permitted"
assert_errno mkdir "$M/orders/segments/sub" "Operation not permitted"
assert_errno mkdir "$M/orders/index/sub" "Operation not permitted"
assert_eq "$(ls "$M/orders" | tr '\n' ' ')" "active.log append append.lines index segments snapshots " \
	"ls of a log after refused mkdirs"

note "rmdir of a never-written log removes it"
rmdir "$M/a"
[[ ! -e "$M/a" ]] || fail "log a still exists after rmdir"
if ls "$M" | grep -qx a; then fail "log a still listed after rmdir"; fi
note "the name can be reused for a new, empty log"
mkdir "$M/a"
assert_eq "$(tail_of "$M/a")" "0" "tail_lsn of a re-created log"

note "rmdir of a written log: Directory not empty, and its data stays"
printf 'r1' >"$M/orders/append"
printf 'r2\n' >"$M/orders/append.lines"
state=$(log_state "$M/orders")
assert_errno rmdir "$M/orders" "Directory not empty"
assert_eq "$(log_state "$M/orders")" "$state" "log state after refused rmdir"
assert_eq "$(cat "$M"/orders/segments/*.log)" "r1r2" "data after refused rmdir"
assert_eq "$(tail_of "$M/orders")" "2" "tail_lsn after refused rmdir"

note "a removed log is gone for good (after remount too)"
rmdir "$M/$name64"
umount_fs "$M"
mount_fs "$T/store" "$M"
[[ ! -e "$M/$name64" ]] || fail "removed log came back after remount"
assert_eq "$(ls "$M" | grep -c .)" "8" "number of logs after remount"
assert_eq "$(cat "$M"/orders/segments/*.log)" "r1r2" "data after remount"

finish
