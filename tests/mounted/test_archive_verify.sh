#!/usr/bin/env bash
# The archived mark is only a claim (SPEC section 3: "nothing is ever marked
# archived that was not confirmed"): after a remount, an archived copy that
# was truncated, corrupted or deleted behind the node's back does not count
# (archived_lsn 0, nothing trimmed) until the snapshot has been archived
# again, and then the archive holds a correct copy.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"

STORE=$T/store
ARCH=$T/archive
M=$T/mnt
L=$M/p0
S=$L/snapshots
mkdir "$ARCH"
"$MKFS" --segment-size 4096 --node-id verify-node --archive "$ARCH" "$STORE" >/dev/null
mount_fs "$STORE" "$M" trim_delay=0
assert_eq "$(xattr_get "$M" user.lsnfs.archive)" "$ARCH" "user.lsnfs.archive of the root"
[[ -f $ARCH/.nodes/verify-node ]] || fail "node not registered in $ARCH/.nodes/"
mkdir "$L"
append_records "$L" "$T/ref" 42 1024 31

note "commit snapshot 24 (~2.5 MiB) and wait until it is archived"
rand_file "$T/state" $((2 * 1024 * 1024 + 500000)) 6
cp "$T/state" "$S/.incoming"
SNAP=$S/$(lsn20 24).snap
mv "$S/.incoming" "$SNAP"
wait_attr "$L" archived_lsn '^24$' 10
assert_eq "$(xattr_get "$SNAP" user.lsnfs.archived)" "yes" "archived after archiving"
AF=$ARCH/p0/$(lsn20 24).snap.zst
[[ -f $AF ]] || fail "no archived copy at $AF: $(find "$ARCH" | tr '\n' ' ')"
assert_eq "$(ls -A "$ARCH/p0")" "$(lsn20 24).snap.zst" "archive directory of p0 (no temporary files left)"
zstd -q -dc "$AF" >"$T/out" || fail "zstd -dc of the archived copy failed"
assert_file_eq "$T/out" "$T/state" "archived copy decompressed"
assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "24" "safe_trim_lsn once archived"
cp "$AF" "$T/good.zst"
umount_fs "$M"

# check_not_counted WHAT: the snapshot must not count now.
check_not_counted() {
	local a
	assert_eq "$(lsn_attr "$L" archived_lsn)" "0" "archived_lsn ($1)"
	assert_eq "$(lsn_attr "$L" safe_trim_lsn)" "0" "safe_trim_lsn ($1)"
	a=$(xattr_get "$SNAP" user.lsnfs.archived)
	[[ $a == no || $a == failed:?* ]] || fail "user.lsnfs.archived ($1): '$a', expected no or failed: ..."
	assert_errno rm "$L/segments/$(lsn20 1).log" "Operation not permitted"
	assert_errno setfattr -n user.lsnfs.trim -v 4 "$L" "Operation not permitted"
	assert_eq "$(lsn_attr "$L" trim_point)" "0" "trim_point ($1)"
	note "($1) archived='$a', archived_lsn 0, rm and trim refused"
}

# wait_rearchived WHAT: archived again, correct copy in the archive.
wait_rearchived() {
	wait_attr "$L" archived_lsn '^24$' 10
	assert_eq "$(xattr_get "$SNAP" user.lsnfs.archived)" "yes" "archived ($1)"
	[[ -f $AF ]] || fail "no archived copy at $AF ($1)"
	zstd -q -dc "$AF" >"$T/out" || fail "zstd -dc of the re-archived copy failed ($1)"
	assert_file_eq "$T/out" "$T/state" "re-archived copy decompressed ($1)"
	assert_eq "$(ls -A "$ARCH/p0")" "$(lsn20 24).snap.zst" "archive directory of p0 ($1)"
}

# While the node re-archives, whenever archived_lsn says 24 the copy in the
# archive must already be complete.
watch_invariant() { # WHAT
	local i v
	for ((i = 0; i < 100; i++)); do
		v=$(lsn_attr "$L" archived_lsn)
		if [[ $v == 24 ]]; then
			zstd -q -dc "$AF" 2>/dev/null | cmp -s - "$T/state" ||
				fail "archived_lsn is 24 but the archived copy is not the snapshot ($1)"
			return 0
		fi
		assert_eq "$v" "0" "archived_lsn while re-archiving ($1)"
		sleep 0.1
	done
	fail "not re-archived within 10 s ($1)"
}

can_block=1
if ! block_dir "$ARCH/p0"; then
	can_block=0
	note "chattr +i not supported here: checking the truncation case without a blocker"
else
	unblock_dir "$ARCH/p0"
fi

note "1. truncate the archived copy while unmounted"
truncate -s $(($(stat -c %s "$AF") / 2)) "$AF"
if ((can_block)); then
	note "   (the archive directory made immutable, so the node cannot rewrite it yet)"
	block_dir "$ARCH/p0"
fi
mount_fs "$STORE" "$M" trim_delay=0
if ((can_block)); then
	assert_log_within 10 "snapshot 24 was marked archived but .*differs" "$DAEMON_LOG" \
		"daemon log (verification of the truncated copy)"
	check_not_counted "truncated copy"
	sleep 2
	check_not_counted "truncated copy, 2 s later"
	unblock_dir "$ARCH/p0"
	watch_invariant "truncated copy"
else
	watch_invariant "truncated copy"
	assert_log "snapshot 24 was marked archived but"
fi
wait_rearchived "truncated copy"
umount_fs "$M"

note "2. same size, one byte flipped (checksum, not size, must catch it)"
python3 - "$AF" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x55
open(p, "wb").write(bytes(b))
EOF
((can_block)) && block_dir "$ARCH/p0"
mount_fs "$STORE" "$M" trim_delay=0
if ((can_block)); then
	assert_log_within 10 "snapshot 24 was marked archived but" "$DAEMON_LOG" \
		"daemon log (verification of the corrupted copy)"
	check_not_counted "corrupted copy"
	unblock_dir "$ARCH/p0"
fi
watch_invariant "corrupted copy"
wait_rearchived "corrupted copy"
umount_fs "$M"

note "3. delete the archived copy (and put a file where the log's archive directory was)"
rm "$AF"
rmdir "$ARCH/p0"
echo "not a directory" >"$ARCH/p0"
mount_fs "$STORE" "$M" trim_delay=0
assert_log_within 10 "snapshot 24 was marked archived but" "$DAEMON_LOG" \
	"daemon log (verification of the deleted copy)"
for ((i = 0; i < 100; i++)); do
	[[ $(xattr_get "$SNAP" user.lsnfs.archived) == failed:* ]] && break
	sleep 0.1
done
check_not_counted "deleted copy"
assert_eq "$(ls "$S" | tr '\n' ' ')" "$(lsn20 24).snap " "snapshots/ listing (the snapshot stays local)"
assert_file_eq "$SNAP" "$T/state" "local snapshot while the archive copy is missing"
rm "$ARCH/p0"
watch_invariant "deleted copy"
wait_rearchived "deleted copy"

note "now the node trusts it: trim safe goes to 24"
set_attr "$L" trim safe
assert_eq "$(lsn_attr "$L" trim_point)" "24" "trim_point after trim safe"
umount_fs "$M"

note "4. an intact copy is verified at mount and counted again"
mount_fs "$STORE" "$M" trim_delay=0
wait_attr "$L" archived_lsn '^24$' 10
assert_log "snapshot 24 archived copy verified"
cmp -s "$AF" "$T/good.zst" || note "(the re-archived stream differs from the first one byte-wise; it decompresses equal)"
umount_fs "$M"
echo "ok"
