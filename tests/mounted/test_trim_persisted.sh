#!/usr/bin/env bash
# Strategy "persisted" (SPEC section 4): single-node mode without an archive
# trims by the consumer's persisted_lsn, lowered to reader holds; rm only of
# the oldest sealed segment; setfattr trim refused above the safe point;
# auto_trim does it by itself.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"

STORE=$T/store
M=$T/mnt
L=$M/p0
"$MKFS" --segment-size 4096 --node-id persisted-node "$STORE" >/dev/null
mount_fs "$STORE" "$M" trim_delay=0
assert_eq "$(xattr_get "$M" user.lsnfs.mode)" "single" "mode"
note "the mount log warns that this node cannot later join a cluster"
assert_log "single-node mode without an archive.*cannot later join a cluster"
mkdir "$L"
assert_eq "$(lsn_attr "$L" trim_strategy)" "persisted" "trim_strategy (single, no archive)"
note "40 records of 1024 bytes: segments 1,5,..,37 sealed; 41 active with 2 records"
append_records "$L" "$T/ref" 42 1024 41
assert_eq "$(seg_names "$L" | wc -l)" "11" "segments"
assert_eq "$(last_seg "$L")" "$(lsn20 41).log" "active segment"

note "persisted_lsn 0: nothing is trimmable"
assert_eq "$(lsn_attr "$L" persisted_lsn)" "0" "persisted_lsn of a new log"
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "0" "safe_trim_lsn without persisted_lsn"
blocked=$(lsn_attr "$L" trim_blocked)
[[ $blocked == *persisted* ]] || fail "trim_blocked without persisted_lsn: '$blocked'"
assert_errno rm "$L/segments/$(lsn20 1).log" "Operation not permitted"
set_attr "$L" trim safe
assert_eq "$(lsn_attr "$L" trim_point)" "0" "trim_point after trim safe with persisted 0"
assert_errno setfattr -n user.lsnfs.trim -v 4 "$L" "Operation not permitted"

note "persisted_lsn must be <= tail"
assert_errno setfattr -n user.lsnfs.persisted_lsn -v 43 "$L" "Invalid argument"
assert_errno setfattr -n user.lsnfs.persisted_lsn -v abc "$L" "Invalid argument"
assert_eq "$(lsn_attr "$L" persisted_lsn)" "0" "persisted_lsn after refused sets"

note "persisted_lsn 18 -> safe_trim_lsn 18"
set_attr "$L" persisted_lsn 18
assert_eq "$(lsn_attr "$L" persisted_lsn)" "18" "persisted_lsn"
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "18" "safe_trim_lsn = persisted_lsn"

note "rm of the oldest segment works (and the log warns about cluster join)"
rm "$L/segments/$(lsn20 1).log"
assert_eq "$(first_seg "$L")" "$(lsn20 5).log" "first segment after rm"
[[ ! -e $L/index/$(lsn20 1).index ]] || fail "index 1 still there after its segment was trimmed"
assert_eq "$(lsn_attr "$L" trim_point)" "4" "trim_point after rm"
assert_eq "$(lsn_attr "$L" first_lsn)" "5" "first_lsn after rm"
assert_log "log p0: trimmed by persisted position.*cannot later join a cluster"

note "rm of a segment that is not the oldest: EPERM, reason in trim_blocked and the log"
SEG13=$L/segments/$(lsn20 13).log
assert_errno rm "$SEG13" "Operation not permitted"
[[ -e $SEG13 ]] || fail "segment 13 gone after refused rm"
blocked=$(xattr_get "$SEG13" user.lsnfs.trim_blocked)
[[ $blocked == *oldest* ]] || fail "trim_blocked of segment 13: '$blocked' (expected: not the oldest)"
assert_log "trim refused: segment 0*13 is not the oldest"
note "rm of the active segment: EPERM"
assert_errno rm "$L/segments/$(lsn20 41).log" "Operation not permitted"
[[ -n $(xattr_get "$L/segments/$(lsn20 41).log" user.lsnfs.trim_blocked) ]] ||
	fail "trim_blocked of the active segment is empty"
assert_eq "$(xattr_get "$L/segments/$(lsn20 5).log" user.lsnfs.trim_blocked)" "" \
	"trim_blocked of a segment that may go"
note "rm of the oldest segment beyond the safe point: segment 17 ends at 20 > 18"
set_attr "$L" trim 16
assert_eq "$(first_seg "$L")" "$(lsn20 17).log" "first segment after trim 16"
assert_errno rm "$L/segments/$(lsn20 17).log" "Operation not permitted"
blocked=$(xattr_get "$L/segments/$(lsn20 17).log" user.lsnfs.trim_blocked)
[[ $blocked == *18* ]] || fail "trim_blocked of segment 17 does not name the safe point 18: '$blocked'"

note "setfattr trim above the safe trim LSN: EPERM, nothing trimmed"
state=$(segs_state "$L")
assert_errno setfattr -n user.lsnfs.trim -v 20 "$L" "Operation not permitted"
assert_errno setfattr -n user.lsnfs.trim -v 42 "$L" "Operation not permitted"
assert_eq "$(segs_state "$L")" "$state" "segments after refused trims"
assert_eq "$(lsn_attr "$L" trim_point)" "16" "trim_point after refused trims"
assert_log "trim to 20 refused: safe trim LSN is 18"

note "malformed trim values: EINVAL; trim 0 is a no-op"
for v in abc -1 "" 1x " 4" 18446744073709551616; do
	assert_errno setfattr -n user.lsnfs.trim -v "$v" "$L" "Invalid argument"
done
set_attr "$L" trim 0
assert_eq "$(lsn_attr "$L" trim_point)" "16" "trim_point after trim 0"
assert_errno setfattr -n user.lsnfs.hold.bad/name -v 3 "$L" "Invalid argument|No such file"
assert_errno setfattr -n user.lsnfs.hold.ok -v x "$L" "Invalid argument"

note "trim safe with persisted 22: trim_point = last LSN of the last covered sealed segment"
set_attr "$L" persisted_lsn 22
set_attr "$L" trim safe
assert_eq "$(lsn_attr "$L" trim_point)" "20" "trim_point after trim safe (persisted 22)"
assert_eq "$(lsn_attr "$L" first_lsn)" "21" "first_lsn after trim safe"
assert_eq "$(first_seg "$L")" "$(lsn20 21).log" "first segment after trim safe"
dump_records "$L" >"$T/dump" || fail "dump_records inconsistent after trims"
expected_records "$T/ref" 21 >"$T/want"
assert_file_eq "$T/dump" "$T/want" "retained records"

note "persisted_lsn never decreases"
assert_errno setfattr -n user.lsnfs.persisted_lsn -v 21 "$L" "Invalid argument"
assert_eq "$(lsn_attr "$L" persisted_lsn)" "22" "persisted_lsn after refused decrease"

note "a hold below persisted lowers safe_trim_lsn; it survives remount"
set_attr "$L" persisted_lsn 34
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "34" "safe_trim_lsn with persisted 34"
set_attr "$L" hold.backup 26
assert_eq "$(lsn_attr "$L" hold.backup)" "26" "hold.backup"
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "26" "safe_trim_lsn with a hold at 26"
blocked=$(lsn_attr "$L" trim_blocked)
[[ $blocked == *hold* ]] || fail "trim_blocked with a hold: '$blocked'"
getfattr -d -m - --absolute-names "$L" | grep -q 'user.lsnfs.hold.backup="26"' ||
	fail "getfattr -d does not list the hold"
assert_errno setfattr -n user.lsnfs.trim -v 28 "$L" "Operation not permitted"
umount_fs "$M"
mount_fs "$STORE" "$M" trim_delay=0
assert_eq "$(lsn_attr "$L" persisted_lsn)" "34" "persisted_lsn after remount"
assert_eq "$(lsn_attr "$L" hold.backup)" "26" "hold after remount"
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "26" "safe_trim_lsn after remount"
assert_eq "$(lsn_attr "$L" trim_point)" "20" "trim_point after remount"
set_attr "$L" trim safe
assert_eq "$(lsn_attr "$L" trim_point)" "24" "trim_point after trim safe under the hold"
note "a second, lower hold wins"
set_attr "$L" hold.other 25
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "25" "safe_trim_lsn with holds 26 and 25"
setfattr -x user.lsnfs.hold.other "$L"
note "removing the hold (setfattr -x) raises safe_trim_lsn again"
setfattr -x user.lsnfs.hold.backup "$L"
assert_errno getfattr -n user.lsnfs.hold.backup "$L" "No such attribute|No data"
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "34" "safe_trim_lsn after removing the holds"
note "trim to an LSN inside a segment trims only the segments that end at or before it"
set_attr "$L" trim 31
assert_eq "$(lsn_attr "$L" trim_point)" "28" "trim_point after trim 31 (segment 29..32 stays)"
set_attr "$L" trim safe
assert_eq "$(lsn_attr "$L" trim_point)" "32" "trim_point after trim safe (persisted 34)"
dump_records "$L" >"$T/dump" || fail "dump_records inconsistent after trims"
expected_records "$T/ref" 33 >"$T/want"
assert_file_eq "$T/dump" "$T/want" "retained records"

note "persisted_lsn survives remount; auto_trim=1 trims to the safe point by itself"
set_attr "$L" persisted_lsn 42
umount_fs "$M"
mount_fs "$STORE" "$M" auto_trim=1 trim_delay=0
assert_eq "$(lsn_attr "$L" persisted_lsn)" "42" "persisted_lsn after remount"
wait_attr "$L" trim_point '^40$' 10
assert_eq "$(seg_names "$L" | tr '\n' ' ')" "$(lsn20 41).log " "segments after auto trim"
assert_eq "$(lsn_attr "$L" first_lsn)" "41" "first_lsn after auto trim"
dump_records "$L" >"$T/dump" || fail "dump_records inconsistent after auto trim"
expected_records "$T/ref" 41 >"$T/want"
assert_file_eq "$T/dump" "$T/want" "retained records after auto trim"
note "the active segment, now the oldest, is never trimmed"
assert_errno rm "$L/segments/$(lsn20 41).log" "Operation not permitted"
blocked=$(xattr_get "$L/segments/$(lsn20 41).log" user.lsnfs.trim_blocked)
[[ $blocked == *active* ]] || fail "trim_blocked of the active segment: '$blocked'"
note "auto_trim keeps going: more records, persisted, sealed -> trimmed without a request"
append_records "$L" "$T/ref" 6 1024 42
set_attr "$L" persisted_lsn 48
seal "$L"
wait_attr "$L" trim_point '^48$' 10
assert_eq "$(tail_of "$L")" "48" "tail after auto trim"
umount_fs "$M"
echo "ok"
