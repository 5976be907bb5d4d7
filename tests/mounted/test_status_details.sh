#!/usr/bin/env bash
# lsnfsctl status shows, per log, segments, logical and stored bytes, holds
# (name and LSN) and snapshots that are pending or failing with their
# reason, in text (every line within 80 columns for a typical log set, long
# reasons wrapped on indented lines) and in --json; the new read-only xattrs
# behind it (segments, logical_bytes, stored_bytes, holds,
# snapshots_unarchived) are listed and refuse writes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"

"$MKFS" --segment-size 4096 "$T/s" >/dev/null
M=$T/m
# The archive command runs for 3 s and then fails with a long message.
cat >"$T/arch.sh" <<'SH'
#!/bin/sh
sleep 3
echo "the archive host refused the upload because its quota for this tenant is exhausted; ask the storage team" >&2
exit 3
SH
chmod +x "$T/arch.sh"
mount_fs "$T/s" "$M" "archive_command=$T/arch.sh %p %f" trim_delay=0
mkdir "$M/orders" "$M/payments-eu-west-1" "$M/x"
seq 1 3000 >"$M/orders/append.lines"
seq 1 10 >"$M/payments-eu-west-1/append.lines"
"$CTL" hold "$M/orders" backup 1200 >/dev/null
"$CTL" hold "$M/orders" cdc-replicator 2900 >/dev/null
seq 1 5 >"$T/state"
"$CTL" snapshot "$M/orders" 1000 "$T/state" >/dev/null

note "pending while the archive command runs"
assert_eq "$(lsn_attr "$M/orders" snapshots_unarchived)" "1000 pending" "snapshots_unarchived"
out=$("$CTL" status "$M")
assert_match "$out" "    snapshot 1000: pending" "pending line"

note "the xattrs"
assert_eq "$(lsn_attr "$M/orders" segments)" "$(seg_names "$M/orders" | wc -l)" "segments"
assert_eq "$(lsn_attr "$M/orders" logical_bytes)" "$(cat "$M"/orders/segments/*.log | wc -c)" "logical_bytes"
assert_eq "$(lsn_attr "$M/orders" holds)" "backup=1200 cdc-replicator=2900" "holds"
assert_eq "$(lsn_attr "$M/x" holds)" "" "holds of a log without any"
assert_ge "$(lsn_attr "$M/orders" stored_bytes)" 0 "stored_bytes"
for a in segments logical_bytes stored_bytes holds snapshots_unarchived; do
	getfattr -d -m - --absolute-names "$M/orders" | grep -q "^user.lsnfs.$a=" || fail "$a not listed"
	assert_errno setfattr -n "user.lsnfs.$a" -v 1 "$M/orders" "Operation not permitted"
done

note "failed with its reason after the command fails"
for ((i = 0; i < 100; i++)); do
	[[ $(lsn_attr "$M/orders" snapshots_unarchived) == "1000 failed: "* ]] && break
	sleep 0.1
done
reason=$(lsn_attr "$M/orders" snapshots_unarchived)
assert_match "$reason" "^1000 failed: .*quota for this tenant" "snapshots_unarchived after the failure"

note "text: within 80 columns, details on indented lines"
"$CTL" status "$M" >"$T/status.txt"
awk 'NR > 2 && length($0) > 80 { print "line " NR " has " length($0) " columns: " $0; bad = 1 } END { exit bad }' \
	"$T/status.txt" || fail "status text wider than 80 columns"
text=$(cat "$T/status.txt")
assert_match "$text" "^    segments $(lsn_attr "$M/orders" segments), logical [0-9.]+ KiB, stored [0-9.]+ (B|KiB)$" "sizes line"
assert_match "$text" "^    holds: backup at 1200, cdc-replicator at 2900$" "holds line"
assert_match "$text" "^    snapshot 1000: failed: .*archive" "failed snapshot line"
# The long reason continues on lines indented under it: joined, it is the reason.
assert_ge "$(grep -A3 '^    snapshot 1000: failed' "$T/status.txt" | grep -c '^                   [a-z]')" 1 \
	"continuation lines of the long reason"
joined=$(awk '/^    snapshot 1000: failed: /{on=1; sub(/^    snapshot 1000: failed: /, ""); printf "%s", $0; next}
	on && /^      / {sub(/^ +/, " "); printf "%s", $0; next} {on=0}' "$T/status.txt")
assert_eq "$joined" "${reason#1000 failed: }" "the reason, unwrapped"
assert_match "$text" "^payments-eu-west-1 " "a long log name keeps its row"

note "--json: the same details"
"$CTL" status "$M" --json >"$T/status.json"
python3 - "$T/status.json" "$reason" <<'PY' || fail "status --json details"
import json, sys
doc = json.load(open(sys.argv[1]))
logs = {l["name"]: l for l in doc["logs"]}
o = logs["orders"]
assert o["holds"] == [{"name": "backup", "lsn": 1200}, {"name": "cdc-replicator", "lsn": 2900}], o["holds"]
u = o["snapshots_unarchived"]
assert len(u) == 1 and u[0]["lsn"] == 1000 and u[0]["state"] == "failed", u
assert u[0]["reason"] == sys.argv[2][len("1000 failed: "):], (u[0]["reason"], sys.argv[2])
assert o["segments"] >= 2 and o["logical_bytes"] > 10000 and isinstance(o["stored_bytes"], int), o
assert logs["x"]["holds"] == [] and logs["x"]["snapshots_unarchived"] == [] and logs["x"]["segments"] == 1
PY
umount_fs "$M"
finish
