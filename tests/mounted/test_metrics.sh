#!/usr/bin/env bash
# Metrics for Prometheus: `lsnfsctl metrics MNT` prints the text exposition
# format, which `promtool check metrics` accepts (HELP/TYPE on every family,
# _total on counters, base units), with the values the xattrs show; the
# mount option metrics_file=PATH rewrites PATH atomically every 10 s (a
# reader never sees a partial file, no temporary is left), and a real
# prometheus-node-exporter on 127.0.0.1 serves lsnfs's series from it
# through its textfile collector (checked with curl).  A metrics_file that
# cannot be written is logged, the mount goes on.  stored_bytes is above 0
# and below the logical size for compressible data once RocksDB has
# flushed (after a remount).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"

# Debian's prometheus (promtool) and prometheus-node-exporter.
if ! command -v promtool >/dev/null || ! command -v prometheus-node-exporter >/dev/null ||
	! command -v curl >/dev/null; then
	note "installing prometheus, prometheus-node-exporter, curl (apt-get)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends prometheus prometheus-node-exporter curl; } >"$T/apt.log" 2>&1 || true
fi
if ! command -v promtool >/dev/null || ! command -v prometheus-node-exporter >/dev/null ||
	! command -v curl >/dev/null; then
	echo "SKIPPED: promtool / prometheus-node-exporter / curl missing and the Debian packages" \
		"prometheus, prometheus-node-exporter, curl could not be installed: $(tail -n 3 "$T/apt.log")"
	exit 0
fi

mkdir -p "$T/archive" "$T/textfile"
"$MKFS" --archive "$T/archive" --segment-size 4096 "$T/s" >/dev/null
M=$T/m
PROM=$T/textfile/lsnfs.prom
mount_fs "$T/s" "$M" "metrics_file=$PROM" trim_delay=0

metric() { # TEXT NAME{LABELS} -> value
	awk -v k="$2" '$1 == k { print $2; found = 1 } END { exit !found }' <<<"$1" ||
		fail "no sample $2 in the metrics"
}

note "a log with records, holds, an archived snapshot, a trim"
mkdir "$M/p0" "$M/p1"
seq 1 2000 >"$M/p0/append.lines"
setfattr -n user.lsnfs.seal -v 1 "$M/p0"
seq 1 20 >"$T/state"
"$CTL" snapshot "$M/p0" 1500 "$T/state" --archived --timeout 30 >/dev/null
"$CTL" trim "$M/p0" safe >/dev/null
"$CTL" hold "$M/p0" backup 1600 >/dev/null
seq 1 5 >"$M/p1/append.lines"

note "lsnfsctl metrics: promtool accepts it"
out=$("$CTL" metrics "$M")
if ! lint=$(promtool check metrics <<<"$out" 2>&1); then
	fail "promtool check metrics: $lint"
fi
note "every family has HELP and TYPE and the lsnfs_ prefix; counters end in _total"
printf '%s\n' "$out" >"$T/metrics.txt"
python3 - "$T/metrics.txt" <<'PY' || fail "format check failed"
import sys, re
text = open(sys.argv[1]).read()
helps = set(re.findall(r"^# HELP (\S+) ", text, re.M))
types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
samples = set(re.findall(r"^([a-z_]+)[{ ]", text, re.M))
assert samples, "no samples"
for s in samples:
    assert s.startswith("lsnfs_"), s
    assert s in helps and s in types, "no HELP/TYPE for " + s
for n, t in types.items():
    assert (t == "counter") == n.endswith("_total"), (n, t)
PY

note "values agree with the xattrs and what was done"
for a in first_lsn tail_lsn persisted_lsn archived_lsn safe_trim_lsn; do
	assert_eq "$(metric "$out" "lsnfs_log_${a}{log=\"p0\"}")" "$(lsn_attr "$M/p0" "$a")" "lsnfs_log_$a"
done
assert_eq "$(metric "$out" 'lsnfs_log_trim_point_lsn{log="p0"}')" "$(lsn_attr "$M/p0" trim_point)" "trim point"
assert_ge "$(lsn_attr "$M/p0" trim_point)" 1 "p0 trimmed something"
assert_eq "$(metric "$out" 'lsnfs_log_tail_lsn{log="p1"}')" "5" "p1 tail"
assert_eq "$(metric "$out" 'lsnfs_log_segments{log="p0"}')" "$(seg_names "$M/p0" | wc -l)" "segments"
logical=$(cat "$M"/p0/segments/*.log | wc -c)
assert_eq "$(metric "$out" 'lsnfs_log_logical_bytes{log="p0"}')" "$logical" "logical bytes"
assert_eq "$(metric "$out" 'lsnfs_log_holds{log="p0"}')" "1" "holds"
assert_eq "$(metric "$out" 'lsnfs_log_snapshots{log="p0"}')" "1" "snapshots"
assert_eq "$(metric "$out" 'lsnfs_log_snapshots_pending{log="p0"}')" "0" "snapshots pending"
assert_eq "$(metric "$out" 'lsnfs_log_snapshots_failed{log="p0"}')" "0" "snapshots failed"
assert_eq "$(metric "$out" 'lsnfs_appended_records_total')" "2005" "records appended"
assert_eq "$(metric "$out" 'lsnfs_appended_bytes_total')" "$(( $(seq 1 2000 | wc -c) + $(seq 1 5 | wc -c) ))" "bytes appended"
assert_ge "$(metric "$out" 'lsnfs_trimmed_segments_total')" 1 "segments trimmed"
assert_ge "$(metric "$out" 'lsnfs_trimmed_bytes_total')" 1 "bytes trimmed"
assert_eq "$(metric "$out" 'lsnfs_archive_successes_total')" "1" "archive successes"
assert_ge "$(metric "$out" 'lsnfs_archive_attempts_total')" 1 "archive attempts"
assert_eq "$(metric "$out" 'lsnfs_archive_failures_total')" "0" "archive failures"
assert_eq "$(metric "$out" 'lsnfs_durable_appends_total')" "0" "no group commit under sync=fsync"
assert_eq "$(metric "$out" 'lsnfs_wal_syncs_total')" "0" "no group-commit syncs under sync=fsync"
ts=$(metric "$out" 'lsnfs_archive_last_success_timestamp_seconds')
(( ts > $(date +%s) - 120 && ts <= $(date +%s) )) || fail "last archive time $ts is not recent"
node=$(lsn_attr "$M" node_id)
assert_eq "$(metric "$out" "lsnfs_node_mode{node=\"$node\",mode=\"single\"}")" "1" "mode single"
assert_eq "$(metric "$out" "lsnfs_node_mode{node=\"$node\",mode=\"cluster\"}")" "0" "mode cluster"
assert_ge "$(metric "$out" 'lsnfs_node_uptime_seconds')" 0 "uptime"

note "a refused trim counts"
before=$(metric "$("$CTL" metrics "$M")" lsnfs_trims_refused_total)
setfattr -n user.lsnfs.trim -v 2000 "$M/p0" 2>/dev/null && fail "trim beyond the hold accepted"
assert_eq "$(metric "$("$CTL" metrics "$M")" lsnfs_trims_refused_total)" "$((before + 1))" "trims refused"

note "metrics_file: written at mount, accepted by promtool, rewritten every 10 s, atomically"
[[ -s $PROM ]] || fail "$PROM not written"
promtool check metrics <"$PROM" >/dev/null 2>&1 || fail "promtool rejects $PROM: $(promtool check metrics <"$PROM" 2>&1)"
up0=$(metric "$(cat "$PROM")" lsnfs_node_uptime_seconds)
# Read it as fast as possible for 13 s (one period and some): every read is a whole file.
python3 - "$PROM" <<'PY' || fail "a reader saw a partial metrics file"
import sys, time
path, seen, end = sys.argv[1], set(), time.time() + 13
while time.time() < end:
    data = open(path).read()
    if not data.endswith("\n") or "# TYPE lsnfs_log_snapshots_failed gauge" not in data:
        sys.exit("partial file: %r" % data[-200:])
    seen.add(data)
if len(seen) < 2:
    sys.exit("the file did not change in 13 s")
PY
up1=$(metric "$(cat "$PROM")" lsnfs_node_uptime_seconds)
(( up1 >= up0 + 9 )) || fail "uptime in the file went from $up0 to $up1 in 13 s: not rewritten every 10 s (13 s of reading)"
assert_eq "$(ls -A "$T/textfile")" "lsnfs.prom" "files in the textfile directory (no temporary left)"
assert_eq "$(metric "$(cat "$PROM")" 'lsnfs_log_tail_lsn{log="p0"}')" "2000" "tail in the file"

note "prometheus-node-exporter serves lsnfs's series through its textfile collector"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prometheus-node-exporter --web.listen-address="127.0.0.1:$port" --collector.disable-defaults \
	--collector.textfile --collector.textfile.directory="$T/textfile" >"$T/ne.log" 2>&1 &
NE=$!
ops_on_exit "kill $NE 2>/dev/null; wait $NE 2>/dev/null"
scraped=""
for ((i = 0; i < 50; i++)); do
	scraped=$(curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null) && break
	sleep 0.2
done
[[ -n $scraped ]] || fail "node_exporter did not answer on 127.0.0.1:$port: $(cat "$T/ne.log")"
assert_eq "$(metric "$scraped" 'lsnfs_log_tail_lsn{log="p0"}')" "2000" "tail through node_exporter"
assert_eq "$(metric "$scraped" 'lsnfs_log_tail_lsn{log="p1"}')" "5" "p1 through node_exporter"
assert_eq "$(metric "$scraped" 'lsnfs_archive_successes_total')" "1" "a counter through node_exporter"
assert_eq "$(metric "$scraped" 'node_textfile_scrape_error')" "0" "node_exporter's textfile scrape error"
kill "$NE"; wait "$NE" 2>/dev/null || true

note "stored_bytes after a remount (RocksDB flushed): above 0, below logical for text"
umount_fs "$M"
mount_fs "$T/s" "$M" trim_delay=0
out=$("$CTL" metrics "$M")
stored=$(metric "$out" 'lsnfs_log_stored_bytes{log="p0"}')
logical=$(metric "$out" 'lsnfs_log_logical_bytes{log="p0"}')
assert_ge "$stored" 1 "stored bytes"
(( stored < logical + 4096 )) || fail "stored $stored not below logical $logical (+ metadata)"
assert_eq "$(metric "$out" 'lsnfs_appended_records_total')" "0" "counters start at 0 with the mount"
umount_fs "$M"

note "sync=always: every append made durable by a WAL sync; 4 logs at once share syncs"
mount_fs "$T/s" "$M" sync=always
mkdir "$M"/g{0,1,2,3}
writers=()
for i in 0 1 2 3; do
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
for i in range(300):
    os.write(fd, b"record %d\n" % i)' "$M/g$i/append" &
	writers+=($!)
done
for p in "${writers[@]}"; do wait "$p" || fail "writer $p failed"; done
out=$("$CTL" metrics "$M")
assert_eq "$(metric "$out" 'lsnfs_durable_appends_total')" "1200" "durable appends"
syncs=$(metric "$out" 'lsnfs_wal_syncs_total')
(( syncs >= 1 && syncs <= 1200 )) || fail "wal syncs $syncs not within 1..1200"
note "1200 appends on 4 logs took $syncs WAL syncs"
for i in 0 1 2 3; do assert_eq "$(tail_of "$M/g$i")" "300" "tail of g$i"; done
umount_fs "$M"

note "a metrics_file that cannot be written: logged, the mount works"
mount_fs "$T/s" "$M" "metrics_file=$T/no/such/dir/x.prom"
assert_eq "$(tail_of "$M/p1")" "5" "the mount works"
sleep 0.3
assert_match "$(cat "$DAEMON_LOG")" "metrics_file $T/no/such/dir/x.prom: cannot write it: No such file" "log line"
umount_fs "$M"
note "metrics_file is a mount option only: a relative path is refused"
rc=0; "$LSNFS" "$T/s" "$M" -o metrics_file=rel.prom 2>"$T/err" || rc=$?
assert_eq "$rc" "2" "exit status for a relative metrics_file"
assert_match "$(cat "$T/err")" "metrics_file must be an absolute path" "message"
finish
