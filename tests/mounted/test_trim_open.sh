#!/usr/bin/env bash
# Trimming a segment that a reader has open (SPEC sections 4, 6): the trim
# goes through (a reader without a hold is not protected), and the daemon
# must survive whatever the reader does next with its descriptor: fstat
# and pread either give the segment's original bytes or fail cleanly -
# never other bytes, never a crash ("Bad input never crashes the daemon").
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_trim.sh"

STORE=$T/store
M=$T/mnt
L=$M/p0
"$MKFS" --segment-size 4096 --node-id open-node "$STORE" >/dev/null
mount_fs "$STORE" "$M" trim_delay=0
PID=$DAEMON_PID
mkdir "$L"
append_records "$L" "$T/ref" 42 1024 101
set_attr "$L" persisted_lsn 40
dump_records "$L" >/dev/null || fail "dump_records before the test"

# reader SEGFILE TRIMCMD...: open SEGFILE, read it, run TRIMCMD, then fstat
# and pread the descriptor; prints what happened, exits 1 on wrong bytes.
reader() {
	python3 - "$@" <<'EOF'
import os, subprocess, sys
seg, cmd = sys.argv[1], sys.argv[2:]
fd = os.open(seg, os.O_RDONLY)
want = os.pread(fd, 1 << 20, 0)
if len(want) != 4096:
    sys.exit("segment read %d bytes before the trim" % len(want))
subprocess.run(cmd, check=True)
if os.path.exists(seg):
    sys.exit("%s still listed after the trim" % seg)
for what, fn in (("fstat", lambda: os.fstat(fd).st_size),
                 ("pread", lambda: os.pread(fd, 100, 1000)),
                 ("pread-all", lambda: os.pread(fd, 8192, 0))):
    try:
        got = fn()
    except OSError as e:
        print("  %s after trim: error %s" % (what, e.strerror))
        continue
    if what == "fstat":
        print("  fstat after trim: size %d" % got)
    elif what == "pread" and got != want[1000:1100]:
        sys.exit("pread after trim returned different bytes")
    elif what == "pread-all" and got not in (want, b""):
        sys.exit("pread of the whole trimmed segment returned %d different bytes" % len(got))
    else:
        print("  %s after trim: %d bytes, equal" % (what, len(got)))
os.close(fd)
EOF
}

alive() { # WHAT
	kill -0 "$PID" 2>/dev/null || fail "the daemon died ($1): $(tail -n 3 "$DAEMON_LOG")"
	mountpoint -q "$M" || fail "$M is no longer mounted ($1)"
	ls "$L/segments" >/dev/null 2>&1 || fail "ls of segments/ fails ($1)"
}

note "1. reader has segment 1 open, rm trims it"
out=$(reader "$L/segments/$(lsn20 1).log" rm "$L/segments/$(lsn20 1).log" 2>&1) || true
printf '%s\n' "$out"
alive "after reading segment 1 that rm trimmed"
[[ $out != *"different bytes"* ]] || fail "a trimmed segment's descriptor gave wrong bytes: $out"
assert_eq "$(lsn_attr "$L" trim_point)" "4" "trim_point after rm"

note "2. reader has segment 5 open, setfattr trim 12 trims it (and two more)"
out=$(reader "$L/segments/$(lsn20 5).log" setfattr -n user.lsnfs.trim -v 12 "$L" 2>&1) || true
printf '%s\n' "$out"
alive "after reading segment 5 that setfattr trim trimmed"
[[ $out != *"different bytes"* ]] || fail "a trimmed segment's descriptor gave wrong bytes: $out"

note "3. the log is still consistent and usable"
assert_eq "$(lsn_attr "$L" trim_point)" "12" "trim_point"
dump_records "$L" >"$T/dump" || fail "dump_records after the trims"
expected_records "$T/ref" 13 >"$T/want"
assert_file_eq "$T/dump" "$T/want" "retained records"
append_records "$L" "$T/ref" 1 10 102
umount_fs "$M"
echo "ok"
