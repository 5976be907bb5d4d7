#!/usr/bin/env bash
# bench/run.sh - the lsnfs benchmark table (`make bench`).
#
#   BUILD=/abs/build bench/run.sh
#
# Every figure is measured in this run next to its reference (the FUSE
# ceiling bench/nullfs.c, the same operation on a plain file, RocksDB
# direct, or an lsnfs baseline), and printed as a markdown table with the
# ratio and PASS/MISS against the project's targets.  The table and machine
# info also go to bench/out/latest.md (git-ignored); the progress log to
# bench/out/latest.log.
#
# Needs root (drop_caches, /dev/fuse), fusermount3, setfattr/getfattr, cc,
# pkg-config fuse3 and rocksdb.  All data is generated at run time under a
# temp dir on the filesystem of $BENCH_TMP (default /tmp), removed at exit,
# and every mount is undone on exit, also on failure or Ctrl-C.  The run
# uses private copies of build/lsnfs and build/mkfs.lsnfs taken at its start
# and builds its helpers (nullfs, writer, randread, rocksdb_direct, genlog)
# into the temp dir, so a concurrent `make` cannot change them mid-run.
#
# Sizes (env):
#   BENCH_SCALE=full|small      default full; small is a quick smoke run
#   BENCH_APPEND_N              records for the append figures (full 200000)
#   BENCH_RECORD_SIZE           bytes per append record (100)
#   BENCH_INGEST_MB             size of the generated text log (full 1024)
#   BENCH_MEMCMP_MB             smaller ingest for the memory-growth compare (full 256)
#   BENCH_TRIM_SEGS             sealed segments trimmed (1000)
#   BENCH_TRIM_RECS             100-byte records per segment, 1x case (full 160, >= 41)
#   BENCH_MOUNT_MB              payload of the mount-time store (full 5120)
#   BENCH_RAND_READS            random 4 KiB reads (10000)
#   BENCH_TMP                   where the temp dir goes (/tmp)
#   BENCH_PERF=1                also run `perf stat` on the daemon during the ingest
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
: "${BUILD:=$root/build}"
LSNFS=$BUILD/lsnfs
MKFS=$BUILD/mkfs.lsnfs
OUT=$here/out

SCALE=${BENCH_SCALE:-full}
case $SCALE in
full)
	d_append=200000 d_ingest=1024 d_memcmp=256 d_trim_segs=1000 d_trim_recs=160 d_mount=5120 ;;
small)
	d_append=20000 d_ingest=128 d_memcmp=32 d_trim_segs=1000 d_trim_recs=41 d_mount=512 ;;
*)
	echo "bench: BENCH_SCALE must be full or small, not '$SCALE'" >&2
	exit 2 ;;
esac
APPEND_N=${BENCH_APPEND_N:-$d_append}
REC_SIZE=${BENCH_RECORD_SIZE:-100}
INGEST_MB=${BENCH_INGEST_MB:-$d_ingest}
MEMCMP_MB=${BENCH_MEMCMP_MB:-$d_memcmp}
TRIM_SEGS=${BENCH_TRIM_SEGS:-$d_trim_segs}
TRIM_RECS=${BENCH_TRIM_RECS:-$d_trim_recs}
MOUNT_MB=${BENCH_MOUNT_MB:-$d_mount}
RAND_READS=${BENCH_RAND_READS:-10000}
TMPBASE=${BENCH_TMP:-/tmp}
INGEST_BYTES=$((INGEST_MB * 1048576))
MEMCMP_BYTES=$((MEMCMP_MB * 1048576))
MOUNT_BYTES=$((MOUNT_MB * 1048576))
LSN_RECORD_MAX=1044480
OPTS="trim_delay=0"
# the main store has 16 segments, as 1 GiB has with the default 64 MiB
MAIN_SEG=$((INGEST_BYTES / 16))
if ((TRIM_RECS * 100 < 4096 || MAIN_SEG < 4096)); then
	echo "bench: BENCH_TRIM_RECS must be >= 41 and BENCH_INGEST_MB >= 1 (segments >= 4096 bytes)" >&2
	exit 2
fi
CLK_TCK=$(getconf CLK_TCK)

# ---- preflight -----------------------------------------------------------
missing=()
[[ -c /dev/fuse ]] || missing+=("/dev/fuse")
for tool in fusermount3 mountpoint getfattr setfattr cc pkg-config timeout dd du awk cmp; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
for bin in "$LSNFS" "$MKFS"; do
	[[ -x $bin ]] || missing+=("$bin (run make all)")
done
if ((${#missing[@]})); then
	echo "bench: missing: ${missing[*]}" >&2
	exit 1
fi

mkdir -p "$OUT"
T=$(mktemp -d "$TMPBASE/lsnfs-bench.XXXXXX")
REG=$T/registry # "MNT PID" of every filesystem daemon started and not yet stopped
ROWS=$T/rows    # figure<TAB>lsnfs<TAB>reference<TAB>ratio<TAB>target<TAB>result
NOTES=$T/notes  # free text under the table
VALS=$T/vals    # shell assignments shared between phases
LOGDIR=$T/logs
mkdir -p "$LOGDIR" "$T/bin"
# Run a private copy of the binaries: a concurrent `make` may relink build/
# in the middle of the run.
cp "$LSNFS" "$MKFS" "$T/bin/"
LSNFS_BUILT=$(date -u -r "$LSNFS" '+%Y-%m-%d %H:%M:%S UTC')
LSNFS=$T/bin/lsnfs
MKFS=$T/bin/mkfs.lsnfs
HB=$T/bin # the helpers (nullfs, writer, ...) are built there too
: >"$REG"
: >"$ROWS"
: >"$NOTES"
: >"$VALS"
exec 3>&2 # progress
PROGRESS=$OUT/latest.log
: >"$PROGRESS"
BENCH_T0=$(date +%s%N)

say() {
	local s
	s=$(awk -v a="$BENCH_T0" -v b="$(date +%s%N)" 'BEGIN{printf "%6.1f", (b-a)/1e9}')
	printf '[%ss] %s\n' "$s" "$*" | tee -a "$PROGRESS" >&3
}

# ---- numbers -------------------------------------------------------------
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.6f", (b-a)/1e9}'; } # T0_NS T1_NS
calc() { awk "BEGIN{printf \"%.6g\", $*}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b+0 == 0) print "n/a"; else if (a/b >= 10) printf "%.1f", a/b; else printf "%.3g", a/b }'; }
judge() { # VALUE OP LIMIT
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN{
		if (v == "n/a" || v == "") { print "MISS"; exit }
		r = (op == ">=") ? v >= l : (op == "<=") ? v <= l : (op == "<") ? v < l : v > l
		print r ? "PASS" : "MISS" }'
}
fmt_rate() { # per-second count -> "123.4k"
	awk -v v="$1" 'BEGIN{
		if (v >= 1e6) printf "%.2fM", v/1e6; else if (v >= 1e3) printf "%.1fk", v/1e3; else printf "%.0f", v }'
}
fmt_mibs() { awk -v v="$1" 'BEGIN{printf "%.0f MiB/s", v/1048576}'; }
fmt_mib() { awk -v v="$1" 'BEGIN{printf "%.1f MiB", v/1048576}'; }
fmt2() { awk -v v="$1" 'BEGIN{printf "%.2f", v}'; }
fmt_s() { awk -v v="$1" 'BEGIN{ if (v < 1) printf "%.0f ms", v*1000; else printf "%.2f s", v }'; }

row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$ROWS"; }
note() { printf -- '- %s\n' "$*" >>"$NOTES"; say "note: $*"; }
setval() { printf '%s=%q\n' "$1" "$2" >>"$VALS"; }

# ---- processes and mounts ------------------------------------------------
alive() { # PID: running and not a zombie
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ $st != Z ]]
}

wait_dead() { # PID SECONDS
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		alive "$1" || return 0
		sleep 0.05
	done
	return 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu_user_sys() { awk -v t="$CLK_TCK" '{printf "user %.1f s, sys %.1f s", $14/t, $15/t}' "/proc/$1/stat"; }
hwm_kb() { awk '/^VmHWM:/{print $2}' "/proc/$1/status"; }

wait_mounted() { # MNT PID LOG
	local i
	for ((i = 0; i < 600; i++)); do
		mountpoint -q "$1" && return 0
		if ! alive "$2"; then
			echo "bench: daemon for $1 exited before mounting:" >&2
			tail -n 20 "$3" >&2
			return 1
		fi
		sleep 0.02
	done
	echo "bench: $1 not mounted after 12 s" >&2
	return 1
}

# start_lsnfs STORE MNT -> DPID, DLOG
start_lsnfs() {
	mkdir -p "$2"
	DLOG=$LOGDIR/lsnfs.$(basename "$2").$(now).log
	"$LSNFS" "$1" "$2" -f -o "$OPTS" </dev/null >"$DLOG" 2>&1 &
	DPID=$!
	echo "$2 $DPID" >>"$REG"
	wait_mounted "$2" "$DPID" "$DLOG"
}

start_nullfs() { # MNT -> DPID
	mkdir -p "$1"
	DLOG=$LOGDIR/nullfs.$(now).log
	"$HB/nullfs" "$1" -f </dev/null >"$DLOG" 2>&1 &
	DPID=$!
	echo "$1 $DPID" >>"$REG"
	wait_mounted "$1" "$DPID" "$DLOG"
}

stop_fs() { # MNT PID
	fusermount3 -u "$1"
	if ! wait_dead "$2" 120; then
		echo "bench: daemon $2 for $1 still running 120 s after unmount" >&2
		return 1
	fi
	wait "$2" 2>/dev/null || true
	awk -v m="$1" -v p="$2" '!($1 == m && $2 == p)' "$REG" >"$REG.new" && mv "$REG.new" "$REG"
}

# Undo whatever a phase left mounted or running (only our own daemons).
cleanup_registry() {
	local m p
	[[ -s $REG ]] || return 0
	while read -r m p; do
		if mountpoint -q "$m" 2>/dev/null || ! stat "$m" >/dev/null 2>&1; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true
		fi
	done <"$REG"
	while read -r m p; do
		wait_dead "$p" 10 || kill -9 "$p" 2>/dev/null || true
		wait_dead "$p" 5 || true
		if mountpoint -q "$m" 2>/dev/null; then fusermount3 -uz "$m" 2>/dev/null || true; fi
	done <"$REG"
	: >"$REG"
}

on_exit() {
	local rc=$?
	set +e
	cleanup_registry
	# keep the daemons' logs (small) for a look at what a MISS or ERROR did
	if [[ -d $LOGDIR ]]; then
		rm -rf "$OUT/daemon-logs"
		cp -r "$LOGDIR" "$OUT/daemon-logs"
	fi
	rm -rf -- "$T"
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

DROP_OK=1
drop_caches() {
	sync
	if ! echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
		if ((DROP_OK)); then
			say "WARNING: cannot write /proc/sys/vm/drop_caches (not root?): cold figures are not cold"
			echo "- WARNING: caches could not be dropped; the cold figures are warm" >>"$NOTES"
		fi
		DROP_OK=0
	fi
}

xget() { getfattr --absolute-names --only-values -n "user.lsnfs.$2" -- "$1"; }
xset() { setfattr -n "user.lsnfs.$2" -v "$3" -- "$1"; }

# run_phase NAME FUNC: runs FUNC in a subshell with set -e; a failure becomes
# an ERROR row and the benchmark goes on with the next phase.
run_phase() {
	local name=$1 fn=$2 rc t0
	t0=$(now)
	say "== $name"
	set +e
	(
		set -eE
		trap 'echo "bench: command failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
		trap 'exit 130' INT
		trap 'exit 143' TERM
		# shellcheck disable=SC1090
		source "$VALS"
		"$fn"
	) 2> >(tee -a "$PROGRESS" >&3)
	rc=$?
	set -e
	cleanup_registry
	if ((rc == 130 || rc == 143)); then
		say "!! interrupted"
		exit "$rc"
	fi
	if ((rc != 0)); then
		say "!! phase '$name' failed (exit $rc)"
		row "$name" "ERROR (exit $rc, see bench/out/latest.log)" "" "" "" "MISS"
	fi
	say "== $name done in $(fmt_s "$(secs "$t0" "$(now)")")"
}

# ---- helpers built by the benchmark ---------------------------------------
build_helpers() {
	local cflags=(-O2 -g -std=c17 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Wall -Wextra)
	mkdir -p "$HB"
	say "building helpers into $HB"
	# shellcheck disable=SC2046
	cc "${cflags[@]}" -o "$HB/nullfs" "$here/nullfs.c" $(pkg-config --cflags --libs fuse3)
	# shellcheck disable=SC2046
	cc "${cflags[@]}" -o "$HB/rocksdb_direct" "$here/rocksdb_direct.c" $(pkg-config --cflags --libs rocksdb)
	cc "${cflags[@]}" -o "$HB/writer" "$here/writer.c"
	cc "${cflags[@]}" -o "$HB/randread" "$here/randread.c"
	cc "${cflags[@]}" -o "$HB/genlog" "$here/genlog.c"
}

# sealed segment files of LOG, in order (all but the active, i.e. last, one)
sealed_segments() { # LOG
	local -a all
	mapfile -t all < <(ls -1 "$1/segments")
	((${#all[@]} > 1)) || return 0
	printf '%s\n' "${all[@]:0:${#all[@]}-1}" | sed "s|^|$1/segments/|"
}

# writers_rate PATH TOTAL NPROC ID0: NPROC writer processes, TOTAL records in
# all; prints records/s over the span from the first start to the last end.
writers_rate() {
	local path=$1 total=$2 np=$3 id0=$4 i per pids=() outs=()
	per=$((total / np))
	for ((i = 0; i < np; i++)); do
		"$HB/writer" "$path" "$per" "$REC_SIZE" $((id0 + i)) >"$T/writer.$i.out" &
		pids+=($!)
		outs+=("$T/writer.$i.out")
	done
	for i in "${pids[@]}"; do wait "$i"; done
	cat "${outs[@]}" | awk '
		NR == 1 || $1 < s { s = $1 } NR == 1 || $2 > e { e = $2 } { n += $3 }
		END { printf "%.1f %.6f %d\n", n / ((e - s) / 1e9), (e - s) / 1e9, n }'
}

# ===========================================================================
# Phases
# ===========================================================================

best() { awk -v a="$1" -v b="$2" 'BEGIN{print (b == "" || a + 0 > b + 0) ? a : b}'; }

phase_append() {
	local M=$T/null S=$T/s_append L=$T/m_append NP LP r1n="" r4n="" r1="" r4="" c0 c1 t0 t1 out r \
		cpu1=0 cpu4=0 w1=0 w4=0 tail
	# FUSE ceiling and lsnfs mounted side by side; alternate, best of 2 rounds
	start_nullfs "$M"
	NP=$DPID
	"$MKFS" --mode single "$S" >/dev/null
	start_lsnfs "$S" "$L"
	LP=$DPID
	for r in 1 2; do
		out=$(writers_rate "$M/sink" "$APPEND_N" 1 0)
		r1n=$(best "${out%% *}" "$r1n")
		mkdir "$L/a1.$r" "$L/a4.$r"
		c0=$(cpu_ticks "$LP")
		t0=$(now)
		out=$(writers_rate "$L/a1.$r/append" "$APPEND_N" 1 0)
		t1=$(now)
		c1=$(cpu_ticks "$LP")
		r1=$(best "${out%% *}" "$r1")
		cpu1=$((cpu1 + c1 - c0))
		w1=$(calc "$w1 + $(secs "$t0" "$t1")")
		out=$(writers_rate "$M/sink" "$APPEND_N" 4 0)
		r4n=$(best "${out%% *}" "$r4n")
		c0=$(cpu_ticks "$LP")
		t0=$(now)
		out=$(writers_rate "$L/a4.$r/append" "$APPEND_N" 4 100)
		t1=$(now)
		c1=$(cpu_ticks "$LP")
		r4=$(best "${out%% *}" "$r4")
		cpu4=$((cpu4 + c1 - c0))
		w4=$(calc "$w4 + $(secs "$t0" "$t1")")
		tail=$(xget "$L/a1.$r" tail_lsn)
		[[ $tail == "$APPEND_N" ]] || note "WARNING: a1.$r tail_lsn $tail, expected $APPEND_N"
		tail=$(xget "$L/a4.$r" tail_lsn)
		[[ $tail == $((APPEND_N / 4 * 4)) ]] || note "WARNING: a4.$r tail_lsn $tail, expected $((APPEND_N / 4 * 4))"
	done
	note "record append (best of 2 rounds, alternating with nullfs): daemon CPU $(fmt2 "$(calc "$cpu1/$CLK_TCK/$w1")") cores with 1 writer, $(fmt2 "$(calc "$cpu4/$CLK_TCK/$w4")") cores with 4; nullfs /sink with 4 writers: $(fmt_rate "$r4n") rec/s ($(ratio "$r4n" "$r1n") x its 1 writer)"
	stop_fs "$L" "$LP"
	stop_fs "$M" "$NP"
	rm -rf "$S"

	row "record append, 1 writer (${REC_SIZE} B write(2)s to LOG/append; best of 2)" \
		"$(fmt_rate "$r1") rec/s" "$(fmt_rate "$r1n") rec/s (nullfs /sink)" \
		"$(ratio "$r1" "$r1n")" ">= 0.8" "$(judge "$(ratio "$r1" "$r1n")" ">=" 0.8)"
	row "record append, 4 writers (4 processes, same LOG/append; best of 2)" \
		"$(fmt_rate "$r4") rec/s" "$(fmt_rate "$r1") rec/s (lsnfs, 1 writer)" \
		"$(ratio "$r4" "$r1")" ">= 1.5" "$(judge "$(ratio "$r4" "$r1")" ">=" 1.5)"
}

phase_ingest() {
	local M=$T/null S=$T/s_main L=$T/m_main in=$T/input.log bytes lines t0 t1 c0 c1 dt dtn \
		recs bps bpsn hwm du tail perfpid=""
	bytes=$(stat -c %s "$in")
	lines=$(wc -l <"$in")
	# FUSE ceiling: cat into /sink (best of 2; the input is in the page cache)
	start_nullfs "$M"
	dtn=
	for _ in 1 2; do
		t0=$(now)
		cat "$in" >"$M/sink"
		t1=$(now)
		dt=$(secs "$t0" "$t1")
		if [[ -z $dtn || $(judge "$dt" "<" "$dtn") == PASS ]]; then dtn=$dt; fi
	done
	stop_fs "$M" "$DPID"
	bpsn=$(calc "$bytes/$dtn")
	say "nullfs: cat into /sink $(fmt_mibs "$bpsn")"

	"$MKFS" --mode single --segment-size "$MAIN_SEG" "$S" >/dev/null
	start_lsnfs "$S" "$L"
	mkdir "$L/LOG"
	if [[ ${BENCH_PERF:-0} == 1 ]] && command -v perf >/dev/null; then
		perf stat -p "$DPID" -o "$T/perf-ingest.txt" &
		perfpid=$!
	fi
	c0=$(cpu_ticks "$DPID")
	t0=$(now)
	timeout --foreground 1800 cat "$in" >"$L/LOG/append.lines"
	t1=$(now)
	c1=$(cpu_ticks "$DPID")
	if [[ -n $perfpid ]]; then
		kill -INT "$perfpid" || true
		wait "$perfpid" || true
		note "perf stat of the daemon during the ingest: $(grep -E 'task-clock|context-switches|cpu-migrations|page-faults' "$T/perf-ingest.txt" | awk '{$1 = $1; print}' | paste -sd ';' - | sed 's/;/; /g')"
	fi
	dt=$(secs "$t0" "$t1")
	bps=$(calc "$bytes/$dt")
	tail=$(xget "$L/LOG" tail_lsn)
	recs=$(calc "$tail/$dt")
	[[ $tail == "$lines" ]] || note "WARNING: ingest gave tail_lsn $tail for $lines lines"
	note "lines ingest: $(fmt_mib "$bytes"), $lines lines in $(fmt_s "$dt"); daemon CPU $(fmt2 "$(calc "($c1-$c0)/$CLK_TCK/$dt")") cores ($(cpu_user_sys "$DPID"))"
	xset "$L/LOG" seal 1
	hwm=$(hwm_kb "$DPID")
	setval HWM_INGEST_KB "$hwm"
	t0=$(now)
	stop_fs "$L" "$DPID"
	note "unmount after the ingest took $(fmt_s "$(secs "$t0" "$(now)")")"
	du=$(du -sb "$S" | cut -f1)
	# the mount figure starts from a copy of this store (many small records)
	cp -a "$S" "$T/s_mount"
	setval INGEST_BPS "$bps"
	setval INGEST_RECS "$recs"
	setval INGEST_LINES "$lines"

	row "lines ingest, bytes (cat $(fmt_mib "$bytes") text log > LOG/append.lines)" \
		"$(fmt_mibs "$bps")" "$(fmt_mibs "$bpsn") (cat > nullfs /sink)" \
		"$(ratio "$bps" "$bpsn")" ">= 0.5" "$(judge "$(ratio "$bps" "$bpsn")" ">=" 0.5)"
	row "compression (du -sb STORE after the ingest and an unmount)" \
		"$(fmt_mib "$du")" "$(fmt_mib "$bytes") (raw text)" \
		"$(ratio "$du" "$bytes")" "<= 0.25" "$(judge "$(ratio "$du" "$bytes")" "<=" 0.25)"
}

phase_rocksdb() {
	local in=$T/input.log out recs secs_ rps lrecs
	out=$(timeout --foreground 1800 "$HB/rocksdb_direct" "$T/rocksdb" "$in")
	read -r recs _ secs_ <<<"$out"
	rps=$(calc "$recs/$secs_")
	note "RocksDB direct: $recs puts in $(fmt_s "$secs_"), store $(fmt_mib "$(du -sb "$T/rocksdb" | cut -f1)")"
	rm -rf "$T/rocksdb"
	lrecs=${INGEST_RECS:-0}
	row "lines ingest, records (same lines as records)" \
		"$(fmt_rate "$lrecs") rec/s" "$(fmt_rate "$rps") rec/s (RocksDB direct, 1 put per line)" \
		"$(ratio "$lrecs" "$rps")" ">= 10" "$(judge "$(ratio "$lrecs" "$rps")" ">=" 10)"
}

cat_rate() { # FILE... -> bytes/s of cat FILE... > /dev/null
	local t0 t1 n
	n=$(stat -c %s "$@" | awk '{s += $1} END{print s}')
	t0=$(now)
	cat "$@" >/dev/null
	t1=$(now)
	calc "$n/$(secs "$t0" "$t1")"
}

phase_reads() {
	local S=$T/s_main L=$T/m_main in=$T/input.log nc nw lc lw t0 t1 c0 c1 segs rn rl rnc rlc hwm mt i MP
	# native first: cold, then warm, then random (warm)
	drop_caches
	nc=$(cat_rate "$in")
	nw=$(cat_rate "$in")
	rn=$("$HB/randread" 42 "$RAND_READS" 4096 "$in")

	drop_caches
	t0=$(now)
	start_lsnfs "$S" "$L"
	MP=$DPID
	for ((i = 0; i < 12000; i++)); do
		ls "$L/LOG/segments" >/dev/null 2>&1 && break
		sleep 0.005
	done
	mt=$(secs "$t0" "$(now)")
	note "mount of the $(fmt_mib "$(stat -c %s "$in")") ingest store (cold caches) until ls LOG/segments answers: $(fmt_s "$mt")"
	mapfile -t segs < <(sealed_segments "$L/LOG")
	c0=$(cpu_ticks "$MP")
	t0=$(now)
	lc=$(cat_rate "${segs[@]}")
	t1=$(now)
	c1=$(cpu_ticks "$MP")
	note "cold read: ${#segs[@]} sealed segments; daemon CPU $(fmt2 "$(calc "($c1-$c0)/$CLK_TCK/$(secs "$t0" "$t1")")") cores"
	lw=$(cat_rate "${segs[@]}")
	rl=$("$HB/randread" 42 "$RAND_READS" 4096 "${segs[@]}")
	if cat "${segs[@]}" | cmp -s - "$in"; then
		say "check: sealed segments concatenated equal the input"
	else
		note "WARNING: sealed segments concatenated differ from the input"
	fi
	# the FUSE ceiling for reads (information): nullfs /zero, same size, same
	# cache settings as a sealed segment (keep_cache, attr_timeout 0)
	local zsz zw zr
	zsz=$(stat -c %s "$in")
	NULLFS_ZERO_SIZE=$zsz start_nullfs "$T/null"
	cat "$T/null/zero" >/dev/null
	zw=$(cat_rate "$T/null/zero")
	zr=$("$HB/randread" 42 "$RAND_READS" 4096 "$T/null/zero")
	stop_fs "$T/null" "$DPID"
	note "FUSE ceiling for reads (nullfs /zero, keep_cache, attr_timeout 0; information only): warm cat $(fmt_mibs "$zw"), random 4 KiB $(awk '{printf "%.1fk/s, p50 %.0f us, p99 %.0f us", $3/1e3, $4, $5}' <<<"$zr")"
	# random reads with cold caches too (extra information)
	drop_caches
	rlc=$("$HB/randread" 43 "$RAND_READS" 4096 "${segs[@]}")
	drop_caches
	rnc=$("$HB/randread" 43 "$RAND_READS" 4096 "$in")
	hwm=$(hwm_kb "$MP")
	setval HWM_READ_KB "$hwm"
	stop_fs "$L" "$MP"

	row "cold read (cat sealed segments after remount + drop_caches)" \
		"$(fmt_mibs "$lc")" "$(fmt_mibs "$nc") (native file, after drop_caches)" \
		"$(ratio "$lc" "$nc")" ">= 0.5" "$(judge "$(ratio "$lc" "$nc")" ">=" 0.5)"
	row "warm read (the same cat again)" \
		"$(fmt_mibs "$lw")" "$(fmt_mibs "$nw") (native, warm)" \
		"$(ratio "$lw" "$nw")" ">= 0.9" "$(judge "$(ratio "$lw" "$nw")" ">=" 0.9)"
	local lr nr
	lr=$(awk '{print $3}' <<<"$rl")
	nr=$(awk '{print $3}' <<<"$rn")
	row "random read ($RAND_READS x pread 4 KiB, after the warm read)" \
		"$(awk '{printf "%.1fk/s, p50 %.0f us, p99 %.0f us", $3/1e3, $4, $5}' <<<"$rl")" \
		"$(awk '{printf "%.1fk/s, p50 %.0f us, p99 %.0f us (native)", $3/1e3, $4, $5}' <<<"$rn")" \
		"$(ratio "$lr" "$nr")" ">= 0.5, p99 reported" "$(judge "$(ratio "$lr" "$nr")" ">=" 0.5)"
	note "random read with cold caches (drop_caches before each; information only): lsnfs $(awk '{printf "%.1fk/s, p50 %.0f us, p99 %.0f us", $3/1e3, $4, $5}' <<<"$rlc"); native $(awk '{printf "%.1fk/s, p50 %.0f us, p99 %.0f us", $3/1e3, $4, $5}' <<<"$rnc")"
}

phase_spaceback() {
	local S=$T/s_main L=$T/m_main before after best segs sizes total cum k=0 n lsn t0 dt i left el
	start_lsnfs "$S" "$L"
	before=$(du -sb "$S" | cut -f1)
	mapfile -t segs < <(sealed_segments "$L/LOG")
	n=${#segs[@]}
	((n >= 2)) || { echo "only $n sealed segments" >&2; return 1; }
	mapfile -t sizes < <(stat -c %s "${segs[@]}")
	total=0
	for i in "${sizes[@]}"; do total=$((total + i)); done
	# the fewest leading segments holding >= 90% of the log's bytes
	cum=0
	while ((k < n && cum * 10 < total * 9)); do
		cum=$((cum + sizes[k]))
		k=$((k + 1))
	done
	if ((k < n)); then
		lsn=$(basename "${segs[k]}" .log)
		lsn=$((10#$lsn - 1))
	else
		lsn=$(xget "$L/LOG" tail_lsn)
	fi
	xset "$L/LOG" persisted_lsn "$lsn"
	t0=$(now)
	xset "$L/LOG" trim safe
	left=$(ls "$L/LOG/segments" | wc -l)
	best=$before
	dt=0
	while :; do
		after=$(du -sb "$S" | cut -f1)
		el=$(secs "$t0" "$(now)")
		((after < best)) && best=$after
		if [[ $(judge "$(ratio "$after" "$before")" "<=" 0.2) == PASS ]]; then
			dt=$el
			break
		fi
		if [[ $(judge "$el" ">=" 30) == PASS ]]; then
			dt=
			break
		fi
		sleep 0.5
	done
	note "space back: trim request through LSN $lsn = the first $k of $((n + 1)) segments ($(awk -v c="$cum" -v t="$total" 'BEGIN{printf "%.1f", 100*c/t}')% of the bytes); $left segment files left after it"
	stop_fs "$L" "$DPID"
	note "space back: du after the unmount $(fmt_mib "$(du -sb "$S" | cut -f1)")"
	if [[ -n $dt ]]; then
		row "space back (du STORE after trimming $(awk -v c="$cum" -v t="$total" 'BEGIN{printf "%.1f", 100*c/t}')% of the log)" \
			"$(fmt_mib "$after") after $(fmt_s "$dt")" "$(fmt_mib "$before") before the trim" \
			"$(ratio "$after" "$before")" "<= 0.2 within 30 s" "PASS"
	else
		row "space back (du STORE after trimming $(awk -v c="$cum" -v t="$total" 'BEGIN{printf "%.1f", 100*c/t}')% of the log)" \
			"$(fmt_mib "$after") after 30 s (lowest $(fmt_mib "$best"))" "$(fmt_mib "$before") before the trim" \
			"$(ratio "$after" "$before")" "<= 0.2 within 30 s" "MISS"
	fi
}

# one trim run: TRIM_SEGS sealed segments of RECS 100-byte records each
trim_once() { # RECS SEED -> seconds
	local recs=$1 seed=$2 S=$T/s_trim L=$T/m_trim segs n lsn t0 t1 left
	local nrec=$((TRIM_SEGS * recs + recs / 2))
	"$HB/genlog" $((nrec * 100)) 100 "$seed" >"$T/trim.txt"
	"$MKFS" --mode single --segment-size $((recs * 100)) "$S" >/dev/null
	start_lsnfs "$S" "$L"
	mkdir "$L/LOG"
	t0=$(now)
	timeout --foreground 1800 cat "$T/trim.txt" >"$L/LOG/append.lines"
	say "trim setup: $nrec records of 100 B in $(fmt_s "$(secs "$t0" "$(now)")") (segment_size $((recs * 100)))"
	rm -f "$T/trim.txt"
	mapfile -t segs < <(ls -1 "$L/LOG/segments")
	n=${#segs[@]}
	((n > TRIM_SEGS)) || { echo "only $n segments for $TRIM_SEGS" >&2; return 1; }
	lsn=${segs[TRIM_SEGS]%.log}
	lsn=$((10#$lsn - 1))
	xset "$L/LOG" persisted_lsn "$lsn"
	t0=$(now)
	xset "$L/LOG" trim safe
	t1=$(now)
	left=$(ls -1 "$L/LOG/segments" | wc -l)
	((left == n - TRIM_SEGS)) || note "WARNING: trim left $left of $n segments, expected $((n - TRIM_SEGS))"
	stop_fs "$L" "$DPID"
	rm -rf "$S"
	secs "$t0" "$t1"
}

phase_trim() {
	local t1 t10
	t1=$(trim_once "$TRIM_RECS" 7)
	t10=$(trim_once $((TRIM_RECS * 10)) 8)
	row "trim $TRIM_SEGS sealed segments ($TRIM_RECS x 100 B records each; setfattr trim safe)" \
		"$(fmt_s "$t1")" "1 s (limit)" "$(ratio "$t1" 1)" "< 1 s" "$(judge "$t1" "<" 1)"
	row "trim $TRIM_SEGS segments, 10x records ($((TRIM_RECS * 10)) per segment)" \
		"$(fmt_s "$t10")" "$(fmt_s "$t1") (1x records)" "$(ratio "$t10" "$t1")" "<= 2" \
		"$(judge "$(ratio "$t10" "$t1")" "<=" 2)"
}

mount_time() { # STORE MNT -> seconds until ls MNT/LOG/segments answers (cold caches)
	local t0 t i
	drop_caches
	t0=$(now)
	start_lsnfs "$1" "$2"
	for ((i = 0; ; i++)); do
		ls "$2/LOG/segments" >/dev/null 2>&1 && break
		((i < 12000)) || { echo "ls $2/LOG/segments never answered" >&2; return 1; }
		sleep 0.005
	done
	t=$(secs "$t0" "$(now)")
	stop_fs "$2" "$DPID"
	echo "$t"
}

median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

phase_mount() {
	local SB=$T/s_mount SE=$T/s_empty L=$T/m_mnt in=$T/input.log pass=0 have written=0 t0 dt hwm bytes \
		tb=() te=() tl=() b e l recs0 recs segs
	bytes=$(stat -c %s "$in")
	"$MKFS" --mode single "$SE" >/dev/null
	start_lsnfs "$SE" "$L"
	mkdir "$L/LOG"
	stop_fs "$L" "$DPID"
	if [[ ! -d $SB ]]; then # the ingest phase failed: start from an empty store
		"$MKFS" --mode single "$SB" >/dev/null
		start_lsnfs "$SB" "$L"
		mkdir "$L/LOG"
		stop_fs "$L" "$DPID"
	fi
	# 1: the ingest store as it is (text lines: many small records)
	for _ in 1 2 3; do
		tl+=("$(mount_time "$SB" "$L")")
	done
	# 2: topped up to MOUNT_BYTES of payload with 1020 KiB records (the
	# fastest way to a big store: lines go in at the ingest rate above)
	start_lsnfs "$SB" "$L"
	have=$(find "$L/LOG/segments" -type f -printf '%s\n' | awk '{s += $1} END{print s + 0}')
	recs0=$(xget "$L/LOG" tail_lsn)
	t0=$(now)
	while ((have + written < MOUNT_BYTES)); do
		timeout --foreground 1800 dd if="$in" of="$L/LOG/append" bs=$LSN_RECORD_MAX conv=notrunc status=none
		written=$((written + bytes))
		pass=$((pass + 1))
	done
	dt=$(secs "$t0" "$(now)")
	xset "$L/LOG" seal 1
	hwm=$(hwm_kb "$DPID")
	recs=$(xget "$L/LOG" tail_lsn)
	segs=$(find "$L/LOG/segments" -type f | wc -l)
	note "mount store: $(fmt_mib "$have") as $recs0 text-line records + $(fmt_mib "$written") as $((recs - recs0)) records of $LSN_RECORD_MAX bytes ($pass x the text log, $(fmt_mibs "$(calc "$written/$dt")")); $recs records in $segs segments; daemon peak RSS while topping up $(fmt_mib $((hwm * 1024)))"
	stop_fs "$L" "$DPID"
	note "mount store on disk: $(fmt_mib "$(du -sb "$SB" | cut -f1)")"
	for _ in 1 2 3; do
		te+=("$(mount_time "$SE" "$L")")
		tb+=("$(mount_time "$SB" "$L")")
	done
	e=$(median3 "${te[@]}")
	b=$(median3 "${tb[@]}")
	l=$(median3 "${tl[@]}")
	note "mount times (cold caches; s): $(fmt_mib "$((have + written))") store ${tb[*]}; $(fmt_mib "$have") text-line store ${tl[*]}; empty store ${te[*]}"
	note "mount of the $(fmt_mib "$have") store of $recs0 text-line records alone: $(fmt_s "$l") median = $(ratio "$l" "$e") x the empty store"
	rm -rf "$SB" "$SE"
	row "mount ($(awk -v v="$((have + written))" 'BEGIN{printf "%.1f GiB", v/1073741824}') payload: $(fmt_mib "$have") of text lines + 1020 KiB records; until ls LOG/segments answers; cold caches; median of 3)" \
		"$(fmt_s "$b")" "$(fmt_s "$e") (empty store)" "$(ratio "$b" "$e")" "<= 2" \
		"$(judge "$(ratio "$b" "$e")" "<=" 2)"
}

phase_memory() {
	local S=$T/s_mem L=$T/m_mem in=$T/input.log hwm_small peak
	"$MKFS" --mode single "$S" >/dev/null
	start_lsnfs "$S" "$L"
	mkdir "$L/LOG"
	head -c "$MEMCMP_BYTES" "$in" | timeout --foreground 1800 cat >"$L/LOG/append.lines"
	hwm_small=$(hwm_kb "$DPID")
	stop_fs "$L" "$DPID"
	rm -rf "$S"
	peak=$(( ${HWM_INGEST_KB:-0} > ${HWM_READ_KB:-0} ? ${HWM_INGEST_KB:-0} : ${HWM_READ_KB:-0} ))
	note "daemon peak RSS: ingest $(fmt_mib $((${HWM_INGEST_KB:-0} * 1024))), reads $(fmt_mib $((${HWM_READ_KB:-0} * 1024))) (separate daemons), $MEMCMP_MB MiB ingest $(fmt_mib $((hwm_small * 1024)))"
	row "memory (daemon VmHWM during the $INGEST_MB MiB ingest and the reads)" \
		"$(fmt_mib $((peak * 1024)))" "256 MiB (limit)" "$(ratio "$peak" $((256 * 1024)))" "<= 1" \
		"$(judge "$(ratio "$peak" $((256 * 1024)))" "<=" 1)"
	row "memory growth (VmHWM, $INGEST_MB MiB ingest vs $MEMCMP_MB MiB ingest)" \
		"$(fmt_mib $((${HWM_INGEST_KB:-0} * 1024)))" "$(fmt_mib $((hwm_small * 1024))) ($MEMCMP_MB MiB ingest)" \
		"$(ratio "${HWM_INGEST_KB:-0}" "$hwm_small")" "<= 1.25 (flat)" \
		"$(judge "$(ratio "${HWM_INGEST_KB:-0}" "$hwm_small")" "<=" 1.25)"
}

# ===========================================================================
# Main
# ===========================================================================

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
OTHER_FUSE=$(awk '$3 ~ /^fuse/' /proc/mounts | wc -l)
fs_type=$(stat -f -c %T "$T")
fs_dev=$(df -P "$T" | awk 'NR == 2 {print $1}')
machine() {
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- host: $(nproc) CPUs ($(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)), $(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
	echo "- kernel: $(uname -sr); libfuse $(pkg-config --modversion fuse3), RocksDB $(pkg-config --modversion rocksdb), zstd $(pkg-config --modversion libzstd)"
	echo "- temp dir filesystem: $fs_type on $fs_dev ($(df -h --output=avail "$T" | tail -1 | tr -d ' ') free)"
	echo "- lsnfs: $("$LSNFS" --version 2>/dev/null | head -1), binary built $LSNFS_BUILT, mounted -o $OPTS; stores made with mkfs.lsnfs --mode single"
	echo "- load average at the start: $LOAD0; other FUSE mounts at the start: $OTHER_FUSE"
	echo "- parameters: BENCH_SCALE=$SCALE APPEND_N=$APPEND_N RECORD_SIZE=$REC_SIZE INGEST_MB=$INGEST_MB MEMCMP_MB=$MEMCMP_MB TRIM_SEGS=$TRIM_SEGS TRIM_RECS=$TRIM_RECS MOUNT_MB=$MOUNT_MB RAND_READS=$RAND_READS"
}
machine | tee -a "$PROGRESS" >&3

# zstd -3 ratio of the first 64 MiB of FILE cut in 64 KiB pieces (like blocks)
zstd_ratio() {
	local n
	command -v zstd >/dev/null || { echo "(zstd CLI not installed)"; return 0; }
	n=$(head -c 8388608 "$1" | wc -c)
	head -c 8388608 "$1" | split -b 65536 --filter='zstd -3 -c | wc -c' |
		awk -v n="$n" '{s += $1} END{printf "%.1fx", n/s}'
}

build_helpers
say "generating a $INGEST_MB MiB text log"
"$HB/genlog" "$INGEST_BYTES" 0 1 >"$T/input.log"
note "input: $(fmt_mib "$(stat -c %s "$T/input.log")"), $(wc -l <"$T/input.log") lines of 60-300 bytes; zstd -3 of its first 8 MiB in 64 KiB pieces: $(zstd_ratio "$T/input.log")"

run_phase "record append" phase_append
run_phase "lines ingest + compression" phase_ingest
run_phase "RocksDB direct" phase_rocksdb
run_phase "cold/warm/random read" phase_reads
run_phase "space back" phase_spaceback
run_phase "trim" phase_trim
run_phase "mount" phase_mount
run_phase "memory" phase_memory

total=$(secs "$BENCH_T0" "$(now)")
{
	echo "## lsnfs benchmark"
	echo
	echo "| figure | lsnfs | reference | ratio | target | result |"
	echo "|---|---|---|---|---|---|"
	awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6}' "$ROWS"
	echo
	echo "Ratio = lsnfs / reference. $(grep -c $'\tPASS$' "$ROWS" || true) PASS, $(grep -c $'\tMISS$' "$ROWS" || true) MISS; whole run $(fmt_s "$total")."
	echo
	echo "Machine and parameters:"
	echo
	machine
	echo
	echo "Notes:"
	echo
	cat "$NOTES"
	echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other processes on the machine add noise)"
} >"$T/table.md"
cp "$T/table.md" "$OUT/latest.md"
echo
cat "$T/table.md"
echo
echo "(saved to bench/out/latest.md; progress log bench/out/latest.log)"
