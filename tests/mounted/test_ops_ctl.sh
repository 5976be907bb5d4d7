#!/usr/bin/env bash
# lsnfsctl against real mounts (SPEC sections 1, 3-5; lsnfsctl(8)): status as a
# table and as JSON, checked against getfattr; persisted, hold, snapshot, trim,
# seal and mode, checked against getfattr and the tree; refusals exit 1 with
# the rule in a one-line message; bad arguments exit 2, one line plus "Try --help".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"

[[ -x $CTL ]] || fail "$CTL is not built"

# Appends one record per argument, each with exactly one write(2).
append_records() { # LOG PAYLOAD...
	python3 - "$@" <<'EOF'
import os, sys
fd = os.open(os.path.join(sys.argv[1], "append"), os.O_WRONLY)
for p in sys.argv[2:]:
    if os.write(fd, p.encode()) != len(p.encode()):
        sys.exit("short write")
os.close(fd)
EOF
}

# `lsnfsctl status --json` against getfattr: exactly one line, the documented
# keys in the documented order, every value equal to its xattr.
check_json() { # MNT
	"$CTL" status "$1" --json >"$T/status.json" || fail "lsnfsctl status --json $1 failed"
	python3 - "$1" "$T/status.json" <<'EOF' || fail "status --json does not match getfattr"
import json, os, subprocess, sys
mnt, path = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
if raw.count(b"\n") != 1 or not raw.endswith(b"\n"):
    sys.exit("not exactly one line: %r" % raw)
doc = json.loads(raw)
def attr(p, name):
    return subprocess.run(["getfattr", "--absolute-names", "--only-values", "-n",
                           "user.lsnfs." + name, p], check=True,
                          capture_output=True).stdout.decode()
if list(doc) != ["mode", "node_id", "archive", "archive_state", "archive_nodes", "logs"]:
    sys.exit("top-level keys %r" % list(doc))
for k in ("mode", "node_id", "archive", "archive_state", "archive_nodes"):
    if doc[k] != attr(mnt, k):
        sys.exit("%s: json %r, getfattr %r" % (k, doc[k], attr(mnt, k)))
dirs = sorted(e for e in os.listdir(mnt) if os.path.isdir(os.path.join(mnt, e)))
if [l["name"] for l in doc["logs"]] != dirs:
    sys.exit("logs %r, directories %r" % ([l["name"] for l in doc["logs"]], dirs))
nums = ["first_lsn", "tail_lsn", "trim_point", "persisted_lsn", "archived_lsn", "safe_trim_lsn"]
for l in doc["logs"]:
    details = ["segments", "logical_bytes", "stored_bytes", "holds", "snapshots_unarchived"]
    if list(l) != ["name"] + nums + ["strategy", "blocked"] + details:
        sys.exit("log keys %r" % list(l))
    p = os.path.join(mnt, l["name"])
    for n in ("segments", "logical_bytes"):
        if type(l[n]) is not int or l[n] != int(attr(p, n)):
            sys.exit("%s %s: json %r, getfattr %r" % (l["name"], n, l[n], attr(p, n)))
    if type(l["stored_bytes"]) is not int:
        sys.exit("stored_bytes %r" % l["stored_bytes"])
    holds = " ".join("%s=%d" % (h["name"], h["lsn"]) for h in l["holds"])
    if holds != attr(p, "holds"):
        sys.exit("%s holds: json %r, getfattr %r" % (l["name"], l["holds"], attr(p, "holds")))
    un = "\n".join("%d %s" % (u["lsn"], "failed: " + u["reason"] if u["state"] == "failed"
                              else "pending") for u in l["snapshots_unarchived"])
    if un != attr(p, "snapshots_unarchived"):
        sys.exit("%s unarchived: json %r, getfattr %r" % (l["name"], l["snapshots_unarchived"],
                                                           attr(p, "snapshots_unarchived")))
    for n in nums:
        if type(l[n]) is not int or l[n] != int(attr(p, n)):
            sys.exit("%s %s: json %r, getfattr %r" % (l["name"], n, l[n], attr(p, n)))
    for k, n in (("strategy", "trim_strategy"), ("blocked", "trim_blocked")):
        if l[k] != attr(p, n):
            sys.exit("%s %s: json %r, getfattr %r" % (l["name"], k, l[k], attr(p, n)))
EOF
}

# `lsnfsctl status` (the table) against getfattr; every line but the archive
# line within 80 columns; each blocked text (unwrapped) equal to trim_blocked;
# the details lines (segments and sizes, holds, snapshots not archived) equal
# to their xattrs.
check_table() { # MNT
	"$CTL" status "$1" >"$T/status.txt" || fail "lsnfsctl status $1 failed"
	python3 - "$1" "$T/status.txt" <<'EOF' || { cat "$T/status.txt" >&2; fail "status table does not match getfattr"; }
import os, subprocess, sys
mnt, path = sys.argv[1], sys.argv[2]
lines = open(path, encoding="utf-8").read().split("\n")
if lines[-1] != "":
    sys.exit("no final newline")
lines = lines[:-1]
def attr(p, name):
    return subprocess.run(["getfattr", "--absolute-names", "--only-values", "-n",
                           "user.lsnfs." + name, p], check=True,
                          capture_output=True).stdout.decode()
archive = attr(mnt, "archive") or "(none)"
want = ["mode %s, node %s" % (attr(mnt, "mode"), attr(mnt, "node_id")), "archive " + archive]
if lines[:2] != want:
    sys.exit("first lines %r, expected %r" % (lines[:2], want))
# The archive's state when unavailable, then its nodes ("; "-separated).
i = 2
state = attr(mnt, "archive_state")
if state not in ("none", "available"):
    if lines[i] != "  " + state:
        sys.exit("archive state line %r, expected %r" % (lines[i], state))
    i += 1
nodes = attr(mnt, "archive_nodes")
if nodes:
    want_nodes = ["archive nodes:"] + ["  " + n for n in nodes.split("; ")]
    if lines[i:i + len(want_nodes)] != want_nodes:
        sys.exit("archive nodes %r, expected %r" % (lines[i:i + len(want_nodes)], want_nodes))
    i += len(want_nodes)
lines = lines[:2] + lines[i:]
for l in lines[2:]:
    if len(l) > 80:
        sys.exit("line longer than 80 columns: %r" % l)
dirs = sorted(e for e in os.listdir(mnt) if os.path.isdir(os.path.join(mnt, e)))
if not dirs:
    if lines[2:] != ["(no logs)"]:
        sys.exit("expected (no logs), got %r" % lines[2:])
    sys.exit(0)
if lines[2].split() != ["LOG", "FIRST", "TAIL", "TRIMMED", "PERSISTED", "ARCHIVED", "SAFE", "STRATEGY"]:
    sys.exit("header %r" % lines[2])
rows, i = [], 3
while i < len(lines):
    f = lines[i].split()
    i += 1
    items = []  # indented details: "    what: ..." with deeper continuation lines
    while i < len(lines) and lines[i].startswith(" "):
        if lines[i].startswith("    ") and lines[i][4] != " ":
            items.append(lines[i].strip())
        else:
            items[-1] += " " + lines[i].strip()
        i += 1
    rows.append((f, items))
if [r[0][0] for r in rows] != dirs:
    sys.exit("rows %r, directories %r" % ([r[0][0] for r in rows], dirs))
import re
for f, items in rows:
    p = os.path.join(mnt, f[0])
    blocked = next((x for x in items if x.startswith("blocked: ")), "")
    sizes = [x for x in items if x.startswith("segments ")]
    if len(sizes) != 1 or not re.fullmatch(r"segments %s, logical [0-9.]+ [KMGT]?i?B, stored [0-9.]+ [KMGT]?i?B"
                                           % attr(p, "segments"), sizes[0]):
        sys.exit("%s: sizes line %r (segments %s)" % (f[0], sizes, attr(p, "segments")))
    holds = ", ".join("%s at %s" % tuple(h.split("=")) for h in attr(p, "holds").split())
    got = [x for x in items if x.startswith("holds: ")]
    if got != (["holds: " + holds] if holds else []):
        sys.exit("%s: holds %r, getfattr %r" % (f[0], got, holds))
    un = [" ".join(("snapshot " + u.replace(" ", ": ", 1)).split())
          for u in attr(p, "snapshots_unarchived").split("\n") if u]
    if [x for x in items if x.startswith("snapshot ")] != un:
        sys.exit("%s: snapshots %r, getfattr %r" % (f[0], items, un))
    p = os.path.join(mnt, f[0])
    want = [f[0]] + [attr(p, n) for n in ("first_lsn", "tail_lsn", "trim_point", "persisted_lsn",
                                         "archived_lsn", "safe_trim_lsn", "trim_strategy")]
    if f != want:
        sys.exit("row %r, getfattr %r" % (f, want))
    tb = " ".join(attr(p, "trim_blocked").split())
    if (blocked and not blocked.startswith("blocked: ")) or blocked[len("blocked: "):] != tb:
        sys.exit("%s: blocked line %r, trim_blocked %r" % (f[0], blocked, tb))
EOF
}

# ---- store A: single mode, an archive whose path JSON must escape ------------
ARCH=$T/'arch "q" \ é'
mkdir -p "$ARCH"
"$MKFS" --segment-size 4096 --node-id ops-node --archive "$ARCH" "$T/a" >/dev/null
mount_fs "$T/a" "$T/ma" trim_delay=0
M=$T/ma

note "status of an empty mount: table and JSON"
check_table "$M"
check_json "$M"
assert_eq "$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["logs"], d["archive"] == sys.argv[1])' "$ARCH" <"$T/status.json")" \
	"[] True" "logs and archive of an empty mount"

note "three logs: p0 with 12 records (segments 1-5, 6-10, 11-), orders with 3, p1 empty"
mkdir "$M/p0" "$M/orders" "$M/p1"
recs=()
for i in $(seq 1 12); do recs+=("$(printf "%01000d" "$i")"); done
append_records "$M/p0" "${recs[@]}"
append_records "$M/orders" one two three
assert_eq "$(seg_names "$M/p0" | tr '\n' ' ')" \
	"00000000000000000001.log 00000000000000000006.log 00000000000000000011.log " "p0 segments"
check_table "$M"
check_json "$M"

note "trim before any snapshot is archived: exit 1, safe trim LSN and trim_blocked in the message"
expect_ctl 1 "safe trim LSN 0 .*strategy archived.*archived: no snapshot has been archived yet \(tail 12\)" \
	trim "$M/p0" 3
assert_eq "$(lsn_attr "$M/p0" trim_point)" "0" "trim point after a refused trim"

note "persisted: set, refused when it decreases or passes the tail"
expect_ctl 0 "persisted_lsn 3" persisted "$M/p0" 3
assert_eq "$(lsn_attr "$M/p0" persisted_lsn)" "3" "persisted_lsn after lsnfsctl persisted"
expect_ctl 1 "persisted_lsn 2 .*refused: it never decreases \(now 3\)" persisted "$M/p0" 2
expect_ctl 1 "persisted_lsn 13 .*refused: it must be <= tail_lsn \(12\)" persisted "$M/p0" 13
assert_eq "$(lsn_attr "$M/p0" persisted_lsn)" "3" "persisted_lsn after refusals"

note "snapshot --archived: staged, renamed to <lsn20>.snap, archived; no staging file left"
head -c 5000 /dev/urandom >"$T/state.bin"
expect_ctl 0 "00000000000000000007\.snap: committed" snapshot "$M/p0" 7 "$T/state.bin" --archived --timeout 60
grep -q "00000000000000000007\.snap: archived" <<<"$CTL_OUT" || fail "no 'archived' line: $CTL_OUT"
assert_eq "$(ls -A "$M/p0/snapshots")" "00000000000000000007.snap" "snapshots/ after lsnfsctl snapshot"
assert_file_eq "$M/p0/snapshots/00000000000000000007.snap" "$T/state.bin" "committed snapshot"
assert_eq "$(xattr_get "$M/p0/snapshots/00000000000000000007.snap" user.lsnfs.archived)" "yes" "archived"
[[ -f "$ARCH/p0/00000000000000000007.snap.zst" ]] || fail "no archived copy in $ARCH/p0"
assert_eq "$(lsn_attr "$M/p0" archived_lsn)" "7" "archived_lsn"
assert_eq "$(lsn_attr "$M/p0" safe_trim_lsn)" "3" "safe trim LSN lowered to persisted_lsn"
check_table "$M"
check_json "$M"

note "snapshot refusals: existing LSN, LSN past the tail, unreadable file; staging removed"
expect_ctl 1 "already exists; a committed snapshot is immutable" snapshot "$M/p0" 7 "$T/state.bin"
expect_ctl 1 "snapshot 99 of .* refused: its LSN must be between the log's trim point \(0\) and its tail \(12\)" \
	snapshot "$M/p0" 99 "$T/state.bin"
expect_ctl 1 "cannot read .*/nonexistent: No such file" snapshot "$M/p0" 8 "$T/nonexistent"
assert_eq "$(ls -A "$M/p0/snapshots")" "00000000000000000007.snap" "snapshots/ after refusals"

note "hold: set (lowers the safe trim LSN), trim refused naming the hold, removed"
expect_ctl 0 "persisted_lsn 9" persisted "$M/p0" 9
assert_eq "$(lsn_attr "$M/p0" safe_trim_lsn)" "7" "safe trim LSN = archived"
expect_ctl 0 "hold backup at LSN 2" hold "$M/p0" backup 2
assert_eq "$(xattr_get "$M/p0" user.lsnfs.hold.backup)" "2" "hold xattr"
assert_eq "$(lsn_attr "$M/p0" safe_trim_lsn)" "2" "safe trim LSN under a hold"
check_json "$M"
expect_ctl 1 "trim of .*p0 to 7 refused: it is above the safe trim LSN 2 \(strategy archived\): reader hold backup at 2" \
	trim "$M/p0" 7
assert_eq "$(lsn_attr "$M/p0" trim_point)" "0" "trim point after a refused trim"
expect_ctl 0 "hold backup removed" hold "$M/p0" backup --remove
if getfattr --absolute-names -n user.lsnfs.hold.backup "$M/p0" >/dev/null 2>&1; then
	fail "hold still there after lsnfsctl hold --remove"
fi
expect_ctl 1 "has no hold named backup" hold "$M/p0" backup --remove

note "trim to the safe point: the first segment goes, the rest stays"
expect_ctl 0 "trim point 0 -> 5 \(first LSN now 6\)" trim "$M/p0" 7
assert_eq "$(lsn_attr "$M/p0" trim_point)" "5" "trim point"
assert_eq "$(lsn_attr "$M/p0" first_lsn)" "6" "first LSN"
assert_eq "$(seg_names "$M/p0" | tr '\n' ' ')" "00000000000000000006.log 00000000000000000011.log " \
	"segments after trim"
expect_ctl 0 "nothing trimmed \(trim point stays 5\)" trim "$M/p0" safe
expect_ctl 1 "above the safe trim LSN 7" trim "$M/p0" 8
check_table "$M"
check_json "$M"

note "seal: the next record starts a new segment"
expect_ctl 0 "active segment sealed \(tail 3\)" seal "$M/orders"
append_records "$M/orders" four
assert_eq "$(seg_names "$M/orders" | tr '\n' ' ')" "00000000000000000001.log 00000000000000000004.log " \
	"orders segments after seal"

note "mode cluster (archive present, trim point covered), then single is refused"
expect_ctl 0 "mode cluster" mode "$M" cluster
assert_eq "$(xattr_get "$M" user.lsnfs.mode)" "cluster" "mode after lsnfsctl mode cluster"
expect_ctl 0 "mode cluster \(unchanged\)" mode "$M" cluster
expect_ctl 1 "mode single refused: a node in cluster mode never switches back to single mode" mode "$M" single
assert_eq "$(xattr_get "$M" user.lsnfs.mode)" "cluster" "mode after a refused switch"
check_table "$M"
check_json "$M"

note "bad arguments: exit 2, one-line error, then a line pointing to --help"
bad_args() { # ERE ARGS...
	local ere=$1
	shift
	expect_ctl 2 "$ere" "$@"
	[[ $(head -n1 <<<"$CTL_ERR") == lsnfsctl:* ]] || fail "lsnfsctl $*: first line '$CTL_ERR'"
	assert_eq "$(sed -n 2,\$p <<<"$CTL_ERR")" "Try 'lsnfsctl --help' for more information." "lsnfsctl $*: after the error line"
	[[ -z $CTL_OUT ]] || fail "lsnfsctl $*: wrote to stdout: $CTL_OUT"
}
bad_args "missing COMMAND"
bad_args "unknown command 'bogus'" bogus "$M"
bad_args "status: missing arguments" status
bad_args "too many arguments \(unexpected 'extra'\)" status "$M" extra
bad_args "unknown option '--bogus'" status "$M" --bogus
bad_args "option --json is not valid here" trim "$M/p0" 1 --json
bad_args "LSN must be a decimal number or 'safe', not 'abc'" trim "$M/p0" abc
bad_args "unknown option '-5'" trim "$M/p0" -5
bad_args "snapshot: LSN must be an unsigned decimal number, not 'x'" snapshot "$M/p0" x "$T/state.bin"
bad_args "--timeout needs --archived" snapshot "$M/p0" 8 "$T/state.bin" --timeout 5
bad_args "--timeout must be an unsigned decimal number" snapshot "$M/p0" 8 "$T/state.bin" --archived --timeout x
bad_args "NAME must be 1-64 of" hold "$M/p0" .hidden 1
bad_args "expected LOG NAME LSN or LOG NAME --remove" hold "$M/p0" r1
bad_args "expected LOG NAME LSN or LOG NAME --remove" hold "$M/p0" r1 5 --remove
bad_args "mode: expected single or cluster, not 'both'" mode "$M" both
bad_args "persisted: LSN must be an unsigned decimal number, not '1.5'" persisted "$M/p0" 1.5

note "paths that are not a mount root or a log: exit 2, one line"
expect_ctl 2 "is not the root of a mounted lsnfs" status "$T"
expect_ctl 2 "is not the root of a mounted lsnfs" status "$M/p0"
expect_ctl 2 "no such mountpoint" status "$T/nowhere"
expect_ctl 2 "no such log" trim "$M/nope" 1
expect_ctl 2 "is not a log directory of a mounted lsnfs" trim "$M" 1
expect_ctl 2 "is not a log directory of a mounted lsnfs" persisted "$M/p0/segments" 1

note "--help: usage on stdout, exit 0"
for args in "--help" "-h" "help" "trim --help"; do
	# shellcheck disable=SC2086
	run_ctl $args
	assert_eq "$CTL_RC" "0" "lsnfsctl $args exit status"
	grep -q '^usage: lsnfsctl' <<<"$CTL_OUT" || fail "lsnfsctl $args: no usage on stdout"
	assert_eq "$CTL_ERR" "" "lsnfsctl $args stderr"
done

# ---- store B: cluster mode without an archive --------------------------------
note "cluster mode without an archive: strategy none, blocked text wrapped under the row"
"$MKFS" --mode cluster --segment-size 4096 "$T/b" >/dev/null
mount_fs "$T/b" "$T/mb" trim_delay=0
mkdir "$T/mb/logs-with-a-longer-name"
append_records "$T/mb/logs-with-a-longer-name" a b c
expect_ctl 0 "mode cluster" status "$T/mb"
blocked=$(grep -A3 '^logs-with-a-longer-name ' <<<"$CTL_OUT" | tail -n +2)
(($(grep -c '^    ' <<<"$blocked") >= 2)) || fail "blocked text not wrapped onto 2 lines: $CTL_OUT"
check_table "$T/mb"
check_json "$T/mb"
expect_ctl 1 "safe trim LSN 0 \(strategy none\): strategy none: cluster mode needs a snapshot archive" \
	trim "$T/mb/logs-with-a-longer-name" 1
expect_ctl 1 "never switches back to single mode" mode "$T/mb" single
expect_ctl 1 "snapshot --archived refused: the mount of .* has no archive" \
	snapshot "$T/mb/logs-with-a-longer-name" 2 "$T/state.bin" --archived
assert_eq "$(ls -A "$T/mb/logs-with-a-longer-name/snapshots")" "" "nothing committed by a refused --archived"
umount_fs "$T/mb"

# ---- store C: single mode without an archive (persisted trimming) ----------
note "single mode without an archive: mode cluster refused (no archive)"
"$MKFS" --segment-size 4096 "$T/c" >/dev/null
mount_fs "$T/c" "$T/mc" trim_delay=0
mkdir "$T/mc/c0"
append_records "$T/mc/c0" "${recs[@]}"
expect_ctl 1 "mode cluster refused: cluster mode needs a snapshot archive and this mount has none" \
	mode "$T/mc" cluster
expect_ctl 0 "persisted_lsn 7" persisted "$T/mc/c0" 7
expect_ctl 0 "trim point 0 -> 5" trim "$T/mc/c0" safe
check_json "$T/mc"
umount_fs "$T/mc"

note "with an archive that does not cover the trim point: mode cluster refused naming the log"
mkdir "$T/carch"
mount_fs "$T/c" "$T/mc" trim_delay=0 "archive=$T/carch"
expect_ctl 1 "every log's trim point must be covered by an archived snapshot; log c0 has trim point 5 but archived_lsn 0" \
	mode "$T/mc" cluster
umount_fs "$T/mc"

note "snapshot --archived with a failing archive_command: the failure shown, exit 1 on timeout"
mount_fs "$T/c" "$T/mc" trim_delay=0 "archive_command=false %p"
run_ctl snapshot "$T/mc/c0" 9 "$T/state.bin" --archived --timeout 2
assert_eq "$CTL_RC" "1" "exit status of a snapshot that is never archived"
grep -q "00000000000000000009.snap: committed" <<<"$CTL_OUT" || fail "not committed: $CTL_OUT"
grep -q "00000000000000000009.snap: failed: " <<<"$CTL_ERR" || fail "no 'failed:' line: $CTL_ERR"
grep -q "not archived after 2 s (user.lsnfs.archived: failed: " <<<"$CTL_ERR" || fail "no timeout line: $CTL_ERR"
umount_fs "$T/mc"

umount_fs "$M"
echo "ok"
