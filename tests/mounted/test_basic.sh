#!/usr/bin/env bash
# The tree of a log, log name rules, rmdir of a log (SPEC sections 1, 2).
# Each step is a named case (lib.sh test_case): one failing does not hide the rest.
source "$(dirname "$0")/lib.sh"

"$MKFS" --segment-size 4096 --node-id basic-node "$T/store" >/dev/null
mount_fs "$T/store" "$T/mnt"
M=$T/mnt
name64=$(printf 'n%.0s' $(seq 64))

fresh_mount_is_empty() {
	assert_eq "$(ls -A "$M")" "" "ls of a fresh mount"
}

mkdir_creates_a_log() {
	mkdir "$M/orders"
	assert_eq "$(ls "$M")" "orders" "ls of the mount root"
	assert_eq "$(ls "$M/orders" | tr '\n' ' ')" "active.log append append.frames append.lines index segments snapshots " \
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
}

mkdir_of_an_existing_log() {
	assert_errno mkdir "$M/orders" "File exists"
}

valid_names() {
	for n in a "$name64" "A-z_0.9" "x.y" "p-1" "_u" "-dash" "9"; do
		mkdir "$M/$n" || fail "mkdir of valid log name '$n' failed"
		[[ -d "$M/$n/segments" ]] || fail "log '$n' has no segments/"
	done
}

invalid_names() {
	local before name65
	before=$(ls -A "$M")
	name65=$(printf 'n%.0s' $(seq 65))
	for n in ".x" ".hidden" "$name65" "a b" "a:b" "tab	x" "é" "a*b" "a\\b"; do
		assert_errno mkdir "$M/$n" "Invalid argument"
	done
	assert_eq "$(ls -A "$M")" "$before" "root listing after refused mkdirs"
}

no_mkdir_inside_a_log() {
	assert_errno mkdir "$M/orders/sub" "Operation not permitted"
	assert_errno mkdir "$M/orders/segments/sub" "Operation not permitted"
	assert_errno mkdir "$M/orders/index/sub" "Operation not permitted"
	assert_eq "$(ls "$M/orders" | tr '\n' ' ')" "active.log append append.frames append.lines index segments snapshots " \
		"ls of a log after refused mkdirs"
}

rmdir_of_a_never_written_log() {
	rmdir "$M/a"
	[[ ! -e "$M/a" ]] || fail "log a still exists after rmdir"
	if ls "$M" | grep -qx a; then fail "log a still listed after rmdir"; fi
	mkdir "$M/a"
	assert_eq "$(tail_of "$M/a")" "0" "tail_lsn of a re-created log"
}

rmdir_of_a_written_log() {
	local state
	printf 'r1' >"$M/orders/append"
	printf 'r2\n' >"$M/orders/append.lines"
	state=$(log_state "$M/orders")
	assert_errno rmdir "$M/orders" "Directory not empty"
	assert_eq "$(log_state "$M/orders")" "$state" "log state after refused rmdir"
	assert_eq "$(cat "$M"/orders/segments/*.log)" "r1r2" "data after refused rmdir"
	assert_eq "$(tail_of "$M/orders")" "2" "tail_lsn after refused rmdir"
}

removed_log_stays_gone() {
	[[ ! -e "$M/$name64" ]] || fail "removed log came back after remount"
	assert_eq "$(ls "$M" | grep -c .)" "8" "number of logs after remount"
	assert_eq "$(cat "$M"/orders/segments/*.log)" "r1r2" "data after remount"
}

test_case "a new mount is empty" fresh_mount_is_empty
test_case "mkdir creates a log with append, append.lines, segments, index, snapshots" \
	mkdir_creates_a_log
test_case "mkdir of an existing log: File exists" mkdir_of_an_existing_log
test_case "valid names: 1 and 64 characters, [A-Za-z0-9._-], dots and dashes inside" valid_names
test_case "invalid names: EINVAL and nothing created" invalid_names
test_case "mkdir inside a log (or its subdirectories): EPERM" no_mkdir_inside_a_log
test_case "rmdir of a never-written log removes it; the name can be reused" \
	rmdir_of_a_never_written_log
test_case "rmdir of a written log: ENOTEMPTY, and its data stays" rmdir_of_a_written_log
rmdir "$M/$name64"
umount_fs "$M"
mount_fs "$T/store" "$M"
test_case "a removed log is gone for good (after remount too)" removed_log_stays_gone

finish
