#!/usr/bin/env bash
# Trim is atomic and crash-safe (SPEC section 4): kill -9 the daemon while
# a large trim runs; after remount each segment is fully there or fully
# gone, trim_point == first_lsn - 1 matches the listing, and every retained
# byte and index line is what was written.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"

STORE=$T/store
ARCH=$T/archive
M=$T/mnt
L=$M/p0
mkdir "$ARCH"
"$MKFS" --segment-size 4096 --archive "$ARCH" --node-id crash-node "$STORE" >/dev/null
mount_fs "$STORE" "$M" trim_delay=0
mkdir "$L"
note "300 sealed segments of 4096 bytes (1200 records of 1024) + 2 records in the active one"
append_records "$L" "$T/ref" 1200 1024 81
append_records "$L" "$T/ref" 2 1024 82
assert_eq "$(seg_names "$L" | wc -l)" "301" "segments"
printf 'state at 1200' >"$L/snapshots/.s"
mv "$L/snapshots/.s" "$L/snapshots/$(lsn20 1200).snap"
wait_attr "$L" archived_lsn '^1200$' 10
dump_records "$L" >"$T/dump" || fail "dump_records before trimming"
assert_file_eq "$T/dump" "$T/ref" "records before trimming"

# check_log PREV TARGET WHAT: the state after a crash during "trim to TARGET"
check_log() {
	local prev=$1 target=$2 what=$3 tp fl first
	tp=$(lsn_attr "$L" trim_point)
	fl=$(lsn_attr "$L" first_lsn)
	assert_eq "$fl" "$((tp + 1))" "first_lsn vs trim_point ($what)"
	first=$(seg_first_lsn "$(first_seg "$L")")
	assert_eq "$first" "$fl" "first listed segment vs first_lsn ($what)"
	[[ $tp == "$prev" || $tp == "$target" ]] ||
		fail "trim_point $tp after a crash during trim $prev -> $target ($what): neither before nor after"
	assert_eq "$(tail_of "$L")" "1202" "tail_lsn ($what)"
	assert_eq "$(seg_names "$L" | wc -l)" "$(((1200 - tp) / 4 + 1))" "number of segments for trim point $tp ($what)"
	assert_eq "$(ls "$L/index" | wc -l)" "$(((1200 - tp) / 4 + 1))" "number of index files for trim point $tp ($what)"
	dump_records "$L" >"$T/dump" || fail "dump_records: index or segments inconsistent ($what)"
	expected_records "$T/ref" "$fl" >"$T/want"
	assert_file_eq "$T/dump" "$T/want" "retained records ($what)"
	assert_eq "$(cat "$L/snapshots/$(lsn20 1200).snap")" "state at 1200" "snapshot ($what)"
	note "$what: trim_point $tp ($( ((tp == target)) && echo "trim completed" || echo "trim not applied"))"
	LAST_TP=$tp
}

LAST_TP=0
round=0
completed=0
for spec in "120 now" "240 now" "360 0.001" "480 0.003" "600 0.005" "720 0.01" "840 0.02" "960 0.05" \
	"1080 now" "1200 0.002" "1200 0.2"; do
	read -r target delay <<<"$spec"
	round=$((round + 1))
	((LAST_TP >= target)) && continue
	prev=$LAST_TP
	note "round $round: setfattr trim $target in the background, kill -9 after ${delay}"
	pid=$(daemon_pid "$M")
	(setfattr -n user.lsnfs.trim -v "$target" "$L" 2>/dev/null || true) &
	bg=$!
	if [[ $delay == now ]]; then
		kill -9 "$pid"
	else
		sleep "$delay"
	fi
	crash_fs "$M"
	wait "$bg" 2>/dev/null || true
	mount_fs "$STORE" "$M" trim_delay=0
	check_log "$prev" "$target" "round $round"
	wait_attr "$L" archived_lsn '^1200$' 10
	((LAST_TP == target)) && completed=$((completed + 1))
done
note "$completed of $round crash rounds had completed their trim"

note "a trim after all that completes and the log stays consistent"
set_attr "$L" trim safe
check_log 1200 1200 "final trim safe"
umount_fs "$M"
mount_fs "$STORE" "$M" trim_delay=0
check_log 1200 1200 "after a clean remount"
umount_fs "$M"
echo "ok"
