#!/usr/bin/env bash
# lsnfsctl remove-log MNT LOG --yes (setfattr -n user.lsnfs.remove_log -v
# LOG MNT): asks for --yes, is refused while the log has holds (the hold is
# named in the daemon's log), removes the log's segments, snapshots and
# staging files in one step, logs it, and leaves the archived copy in the
# archive.  A log whose trimmed prefix is covered by its only snapshot
# (which rmdir and unlink cannot remove) goes this way.  kill -9 of the
# daemon at varied moments around a removal: after remounting, the log is
# either fully there (same records, same snapshot) or fully gone (a new
# log of that name starts empty).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"

mkdir -p "$T/archive"
"$MKFS" --archive "$T/archive" --segment-size 4096 "$T/s" >/dev/null
M=$T/m
mount_fs "$T/s" "$M" trim_delay=0

# A log that can never be removed otherwise: trimmed, covered by one snapshot.
fill() { # LOG
	mkdir "$1"
	seq 1 3000 >"$1/append.lines"
	setfattr -n user.lsnfs.seal -v 1 "$1"
	seq 100 200 >"$T/state"
	"$CTL" snapshot "$1" 2000 "$T/state" --archived --timeout 30 >/dev/null
	"$CTL" trim "$1" safe >/dev/null
}
fill "$M/p0"
assert_ge "$(lsn_attr "$M/p0" trim_point)" 1 "p0 trimmed"
echo partial >"$M/p0/snapshots/staged"
assert_errno rmdir "$M/p0" "Directory not empty"
assert_errno rm "$M/p0/snapshots/$(printf '%020d' 2000).snap" "Operation not permitted"
archived=$(find "$T/archive" -type f -name '*2000*' | head -n1)
[[ -n $archived ]] || fail "no archived copy of snapshot 2000 in $T/archive: $(find "$T/archive")"

note "without --yes: refused, nothing removed"
expect_ctl 2 "add --yes" remove-log "$M" p0
assert_eq "$(tail_of "$M/p0")" "3000" "p0 after remove-log without --yes"

note "refused while the log has holds; the hold is named"
"$CTL" hold "$M/p0" backup 2500 >/dev/null
expect_ctl 1 "refused: the log has holds" remove-log "$M" p0 --yes
assert_errno setfattr -n user.lsnfs.remove_log -v p0 "$M" "Device or resource busy"
assert_match "$(cat "$DAEMON_LOG")" "remove-log p0 refused: hold backup at 2500" "daemon log"
assert_eq "$(tail_of "$M/p0")" "3000" "p0 after refusals"
"$CTL" hold "$M/p0" backup --remove >/dev/null

note "unknown log: refused"
expect_ctl 1 "has no log named nosuch" remove-log "$M" nosuch --yes
expect_ctl 2 "not a log name" remove-log "$M" ../etc --yes

note "remove-log --yes: gone in one step, logged; the archived copy stays"
expect_ctl 0 "" remove-log "$M" p0 --yes
assert_match "$CTL_OUT" "log p0 removed" "lsnfsctl's output"
[[ ! -e $M/p0 ]] || fail "p0 still there: $(ls "$M")"
assert_eq "$(ls "$M")" "" "mount root"
assert_match "$(cat "$DAEMON_LOG")" "log p0 removed by remove-log: [0-9]+ segment\(s\), records [0-9]+\.\.3000, 1 local snapshot" "daemon log"
[[ -f $archived ]] || fail "the archived copy $archived was removed"
assert_eq "$(find "$T/s/staging" -mindepth 1 | wc -l)" "0" "staging files or directories left in the store"
note "the attribute is write only and not listed"
assert_errno getfattr -n user.lsnfs.remove_log "$M" "No such attribute"
getfattr -d -m - "$M" 2>/dev/null | grep -q "^user.lsnfs.remove_log" && fail "remove_log is listed"
note "a new log of the same name starts empty"
mkdir "$M/p0"
assert_eq "$(tail_of "$M/p0")" "0" "tail of the new p0"
assert_eq "$(ls -A "$M/p0/snapshots")" "" "snapshots of the new p0"
rmdir "$M/p0"
umount_fs "$M"

note "kill -9 around a removal: after remount, fully there or fully gone"
there=0 gone=0
for delay in none none 0.0005 0.001 0.002 0.005 0.02 0.3; do
	mount_fs "$T/s" "$M" trim_delay=0
	fill "$M/k"
	before=$(log_state "$M/k")
	snap_md5=$(md5sum <"$M/k/snapshots/$(printf '%020d' 2000).snap")
	pid=$DAEMON_PID
	setfattr -n user.lsnfs.remove_log -v k "$M" 2>/dev/null &
	sf=$!
	[[ $delay == none ]] || sleep "$delay"
	kill -9 "$pid"
	crash_fs "$M"
	wait "$sf" 2>/dev/null || true
	mount_fs "$T/s" "$M" trim_delay=0
	if [[ -d $M/k ]]; then
		assert_eq "$(log_state "$M/k")" "$before" "log k after kill -9 at $delay s (there)"
		assert_eq "$(md5sum <"$M/k/snapshots/$(printf '%020d' 2000).snap")" "$snap_md5" "snapshot after kill -9"
		there=$((there + 1))
		"$CTL" remove-log "$M" k --yes >/dev/null
	else
		mkdir "$M/k"
		assert_eq "$(tail_of "$M/k")" "0" "a new k after kill -9 at $delay s (gone)"
		assert_eq "$(ls -A "$M/k/snapshots")" "" "snapshots of a new k"
		assert_eq "$(seg_names "$M/k" | wc -l)" "1" "segments of a new k"
		rmdir "$M/k"
		gone=$((gone + 1))
	fi
	umount_fs "$M"
done
note "outcomes: $there there, $gone gone"
finish
