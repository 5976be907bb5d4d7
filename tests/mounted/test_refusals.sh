#!/usr/bin/env bash
# Every refusal of SPEC sections 2 and 5 returns its errno, changes nothing,
# and (section 6) leaves a line in the daemon's log.  Plus the xattrs that
# are allowed: persisted_lsn, hold.NAME, seal, the root's mode/node_id/archive.
source "$(dirname "$0")/lib.sh"

"$MKFS" --segment-size 4096 --node-id refusal-node "$T/store" >/dev/null
mount_fs "$T/store" "$T/mnt"
M=$T/mnt
mkdir "$M/r"
L=$M/r

# 5 records of 2000 bytes: segment 1 holds 1-3 and is sealed, 4-5 are in
# the active segment 4.
python3 - "$L/append" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
for i in range(5):
    os.write(fd, bytes([65 + i]) * 2000)
EOF
S=$L/segments/00000000000000000001.log
A=$L/segments/00000000000000000004.log
IS=$L/index/00000000000000000001.index
IA=$L/index/00000000000000000004.index
assert_eq "$(seg_names "$L" | tr '\n' ' ')" "00000000000000000001.log 00000000000000000004.log " \
	"segments of the test log"
assert_eq "$(stat -c %s "$S") $(stat -c %s "$A")" "6000 4000" "segment sizes"

# Everything observable about the log and the root, in one process (fast).
state_all() {
	python3 - "$M" "$L" <<'EOF'
import hashlib, os, sys
m, log = sys.argv[1], sys.argv[2]
for d in (m, log, log + "/snapshots"):
    print(d, sorted(os.listdir(d)))
for p in (m, log):
    for name in sorted(os.listxattr(p)):
        if not name.endswith(("safe_trim_lsn", "trim_blocked")):
            print(p, name, os.getxattr(p, name))
for sub in ("segments", "index"):
    for f in sorted(os.listdir(os.path.join(log, sub))):
        p = os.path.join(log, sub, f)
        st = os.stat(p)
        print(sub, f, st.st_size, oct(st.st_mode), st.st_mtime_ns,
              hashlib.md5(open(p, "rb").read()).hexdigest())
EOF
}

# refused ERE CMD...: CMD fails with a message matching ERE, nothing changes,
# and the daemon logged why.
# STATE is the state before; after a legitimate change, call snap_state.
refused() {
	local expect=$1 lines
	shift
	lines=$(wc -l <"$DAEMON_LOG")
	assert_errno "$@" "$expect"
	assert_eq "$(state_all)" "$STATE" "state after refused '$*'"
	if ((CHECK_LOG)); then
		softly assert_ge "$(($(wc -l <"$DAEMON_LOG") - lines))" 1 \
			"daemon log lines for the refusal of '$*' (SPEC 6: every refusal is logged)"
	fi
}
snap_state() { STATE=$(state_all); }
snap_state
CHECK_LOG=1
EPERM="Operation not permitted"
EPERM_OR_EACCES="Operation not permitted|Permission denied"

note "segments and index files (sealed and active) cannot be written, truncated, chmod-ed, moved, linked"
for f in "$S" "$A" "$IS" "$IA"; do
	refused "$EPERM_OR_EACCES" sh -c 'echo x > "$1"' sh "$f"
	refused "$EPERM_OR_EACCES" sh -c 'echo x >> "$1"' sh "$f"
	refused "$EPERM_OR_EACCES" python3 -c 'import os,sys; os.open(sys.argv[1], os.O_RDWR)' "$f"
	refused "$EPERM_OR_EACCES" python3 -c 'import os,sys; os.open(sys.argv[1], os.O_WRONLY)' "$f"
	refused "$EPERM_OR_EACCES" truncate -s 0 "$f"
	refused "$EPERM" chmod 644 "$f"
	refused "$EPERM" mv "$f" "$(dirname "$f")/00000000000000000099.${f##*.}"
	refused "$EPERM" ln "$f" "$(dirname "$f")/00000000000000000099.${f##*.}"
	refused "$EPERM_OR_EACCES" touch -d @1000000000 "$f"
done
for f in "$S" "$A"; do
	refused "$EPERM_OR_EACCES" truncate -s 100000 "$f"
	refused "$EPERM" chown 1:1 "$f"
	refused "$EPERM" mv "$f" "$L/moved"
	refused "$EPERM" ln "$f" "$L/linked"
done

note "an index file cannot be removed (it goes with its segment)"
refused "$EPERM" rm -f "$IS"
refused "$EPERM" rm -f "$IA"

note "no new files in a log, segments/, index/; append files and subdirectories stay"
for p in "$L/newfile" "$L/segments/newfile" "$L/segments/00000000000000000099.log" \
	"$L/index/newfile" "$L/index/00000000000000000099.index" "$L/segments/00000000000000000001.index"; do
	refused "$EPERM" touch "$p"
	refused "$EPERM" sh -c 'echo x > "$1"' sh "$p"
done
refused "$EPERM" mkfifo "$L/fifo"
refused "$EPERM" ln -s append "$L/symlink"
refused "$EPERM" mkdir "$L/segments/d"
refused "$EPERM" rm -f "$L/append"
refused "$EPERM" rm -f "$L/append.lines"
refused "$EPERM" rmdir "$L/segments"
refused "$EPERM" rmdir "$L/snapshots"
refused "$EPERM" mv "$L/append" "$L/append2"
refused "$EPERM" mv "$L" "$M/renamed"

note "<20 digits>.snap cannot be created directly in snapshots/"
refused "$EPERM" touch "$L/snapshots/00000000000000000002.snap"
refused "$EPERM" sh -c 'echo x > "$1"' sh "$L/snapshots/00000000000000000003.snap"
refused "$EPERM" python3 -c 'import os,sys; os.open(sys.argv[1], os.O_WRONLY|os.O_CREAT|os.O_EXCL, 0o644)' \
	"$L/snapshots/00000000000000000004.snap"

note "unknown user.lsnfs.* name: ENODATA on get, EINVAL on set"
CHECK_LOG=0
refused "No such attribute|No data available" getfattr -n user.lsnfs.x "$L"
refused "No such attribute|No data available" getfattr -n user.lsnfs.x "$M"
CHECK_LOG=1
refused "Invalid argument" setfattr -n user.lsnfs.x -v 1 "$L"
refused "Invalid argument" setfattr -n user.lsnfs.x -v 1 "$M"

note "other namespaces: ENOTSUP"
CHECK_LOG=0
for ns in trusted.x security.x; do
	refused "Operation not supported" setfattr -n "$ns" -v 1 "$L"
	refused "Operation not supported" setfattr -n "$ns" -v 1 "$M"
	refused "Operation not supported" setfattr -n "$ns" -v 1 "$S"
	refused "Operation not supported" getfattr -n "$ns" "$L"
done
CHECK_LOG=1

note "persisted_lsn: malformed values, above the tail, or decreasing: EINVAL"
assert_eq "$(lsn_attr "$L" persisted_lsn)" "0" "initial persisted_lsn"
for v in abc -1 12x "" " 5" "5 " 0x307833 1e3 3.0 +3 99999999999999999999999; do
	refused "Invalid argument" setfattr -n user.lsnfs.persisted_lsn -v "$v" "$L"
done
refused "Invalid argument" setfattr -n user.lsnfs.persisted_lsn -v 6 "$L"
setfattr -n user.lsnfs.persisted_lsn -v 3 "$L"
assert_eq "$(lsn_attr "$L" persisted_lsn)" "3" "persisted_lsn after setting 3"
snap_state
refused "Invalid argument" setfattr -n user.lsnfs.persisted_lsn -v 2 "$L"
refused "Invalid argument" setfattr -n user.lsnfs.persisted_lsn -v 0 "$L"
setfattr -n user.lsnfs.persisted_lsn -v 3 "$L" || fail "setting persisted_lsn to its current value failed"
setfattr -n user.lsnfs.persisted_lsn -v 5 "$L"
assert_eq "$(lsn_attr "$L" persisted_lsn)" "5" "persisted_lsn = tail"
snap_state

note "read-only xattrs refuse setfattr and setfattr -x"
for a in first_lsn tail_lsn trim_point archived_lsn safe_trim_lsn trim_strategy trim_blocked; do
	v=$(lsn_attr "$L" "$a")
	refused "$EPERM|Invalid argument" setfattr -n "user.lsnfs.$a" -v 1 "$L"
	refused "$EPERM|Invalid argument|No such attribute" setfattr -x "user.lsnfs.$a" "$L"
	case $a in safe_trim_lsn | trim_blocked) ;; # the engine's live answer
	*) assert_eq "$(lsn_attr "$L" "$a")" "$v" "$a after refused setfattr" ;;
	esac
done
assert_eq "$(lsn_attr "$L" first_lsn) $(tail_of "$L") $(lsn_attr "$L" trim_point)" "1 5 0" \
	"first_lsn tail_lsn trim_point"

note "getfattr -d -m - lists every attribute of a log"
names=$(getfattr --absolute-names -d -m - "$L" | grep -o '^user\.lsnfs\.[a-z_.]*' | sort | tr '\n' ' ')
assert_eq "$names" "user.lsnfs.archived_lsn user.lsnfs.first_lsn user.lsnfs.holds user.lsnfs.logical_bytes user.lsnfs.persisted_lsn user.lsnfs.safe_trim_lsn user.lsnfs.segments user.lsnfs.snapshots_unarchived user.lsnfs.stored_bytes user.lsnfs.tail_lsn user.lsnfs.trim_blocked user.lsnfs.trim_point user.lsnfs.trim_strategy " \
	"attributes of a log"

note "hold.NAME: set, get, listed, removed with setfattr -x"
setfattr -n user.lsnfs.hold.reader-1 -v 2 "$L"
assert_eq "$(lsn_attr "$L" hold.reader-1)" "2" "hold.reader-1"
getfattr --absolute-names -d -m - "$L" | grep -qx 'user.lsnfs.hold.reader-1="2"' ||
	fail "hold.reader-1 not listed by getfattr -d -m -"
setfattr -n user.lsnfs.hold.reader-1 -v 4 "$L"
assert_eq "$(lsn_attr "$L" hold.reader-1)" "4" "hold.reader-1 after update"
setfattr -n user.lsnfs.hold.other -v 1 "$L"
assert_eq "$(getfattr --absolute-names -d -m - "$L" | grep -c '^user.lsnfs.hold\.')" "2" "holds listed"
setfattr -x user.lsnfs.hold.reader-1 "$L"
snap_state
CHECK_LOG=0
refused "No such attribute|No data available" getfattr -n user.lsnfs.hold.reader-1 "$L"
CHECK_LOG=1
if getfattr --absolute-names -d -m - "$L" | grep -q 'hold.reader-1'; then
	fail "hold.reader-1 still listed after setfattr -x"
fi
setfattr -x user.lsnfs.hold.other "$L"
snap_state
CHECK_LOG=0
refused "No such attribute|No data available" setfattr -x user.lsnfs.hold.other "$L"
refused "No such attribute|No data available" getfattr -n user.lsnfs.hold.never "$L"
CHECK_LOG=1
for bad in ".x" "a b" "$(printf 'h%.0s' $(seq 65))"; do
	refused "Invalid argument" setfattr -n "user.lsnfs.hold.$bad" -v 1 "$L"
done
for v in abc -1 "" 1x; do
	refused "Invalid argument" setfattr -n user.lsnfs.hold.ok -v "$v" "$L"
done

note "seal: the active segment is sealed now; the next append starts a new segment"
before_seg=$(md5sum <"$A")
setfattr -n user.lsnfs.seal -v 1 "$L"
printf 'after-seal' >"$L/append"
assert_eq "$(tail_of "$L")" "6" "tail_lsn after the append"
assert_eq "$(cat "$L/segments/00000000000000000006.log")" "after-seal" "new segment 6"
assert_eq "$(cat "$L/index/00000000000000000006.index")" "6 0 10" "index of segment 6"
assert_eq "$(md5sum <"$A")" "$before_seg" "sealed segment 4 unchanged"
assert_eq "$(stat -c %s "$A")" "4000" "size of sealed segment 4 (sealed below segment_size)"
printf 'more' >"$L/append"
assert_eq "$(md5sum <"$A")" "$before_seg" "segment 4 after a later append"
assert_eq "$(cat "$L/segments/00000000000000000006.log")" "after-sealmore" "segment 6 takes later records"
note "seal twice in a row makes no empty sealed segment"
setfattr -n user.lsnfs.seal -v 1 "$L"
setfattr -n user.lsnfs.seal -v x "$L"
printf 'z' >"$L/append"
assert_eq "$(seg_names "$L" | tr '\n' ' ')" \
	"00000000000000000001.log 00000000000000000004.log 00000000000000000006.log 00000000000000000008.log " \
	"segments after two seals and an append"
dump_records "$L" >/dev/null || fail "index check after seals"
snap_state

note "the mount root: mode, node_id, archive readable and listed"
assert_eq "$(xattr_get "$M" user.lsnfs.mode)" "single" "mode"
assert_eq "$(xattr_get "$M" user.lsnfs.node_id)" "refusal-node" "node_id"
assert_eq "$(xattr_get "$M" user.lsnfs.archive)" "" "archive"
assert_eq "$(getfattr --absolute-names -d -m - "$M" | grep -o '^user\.lsnfs\.[a-z_.]*' | grep -v '^user\.lsnfs\.option\.' | sort | tr '\n' ' ')" \
	"user.lsnfs.archive user.lsnfs.archive_nodes user.lsnfs.archive_state user.lsnfs.mode user.lsnfs.node_id " "attributes of the root"
# One option.KEY per row of the config table, read from the source itself.
table_keys=$(sed -n 's/^\t{ { "\([a-z_]*\)".*/\1/p' "$(dirname "$0")/../../storage/config.c" | sort | tr '\n' ' ')
[[ $(wc -w <<<"$table_keys") -ge 10 ]] || fail "could not read the keys of storage/config.c: '$table_keys'"
assert_eq "$(getfattr --absolute-names -d -m - "$M" | sed -n 's/^user\.lsnfs\.option\.\([a-z_]*\)=.*/\1/p' | sort | tr '\n' ' ')" \
	"$table_keys" "option.KEY attributes of the root (one per key of storage/config.c's table)"
assert_eq "$(xattr_get "$M" user.lsnfs.archive_state)" "none" "archive_state without an archive"
assert_errno setfattr -n user.lsnfs.option.trim_delay -v 5 "$M" "Operation not permitted"

note "mode single -> cluster without an archive: EPERM; bad values EINVAL; node_id, archive read only"
refused "$EPERM" setfattr -n user.lsnfs.mode -v cluster "$M"
refused "Invalid argument" setfattr -n user.lsnfs.mode -v bogus "$M"
refused "Invalid argument" setfattr -n user.lsnfs.mode -v "" "$M"
refused "$EPERM|Invalid argument" setfattr -n user.lsnfs.node_id -v other "$M"
refused "$EPERM|Invalid argument" setfattr -n user.lsnfs.archive -v /tmp "$M"
assert_eq "$(xattr_get "$M" user.lsnfs.mode)" "single" "mode after refusals"
assert_eq "$(lsn_attr "$L" trim_strategy)" "persisted" "trim_strategy in single mode without archive"

note "after all refusals the data is intact"
python3 - "$L" <<'EOF'
import os, sys
log = sys.argv[1]
data = b"".join(open(os.path.join(log, "segments", s), "rb").read()
                for s in sorted(os.listdir(os.path.join(log, "segments"))))
want = b"".join(bytes([65 + i]) * 2000 for i in range(5)) + b"after-sealmorez"
if data != want:
    sys.exit("FAILED: data of the log changed")
EOF

finish
