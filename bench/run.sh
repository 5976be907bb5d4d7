#!/usr/bin/env bash
# bench/run.sh - the lsnfs benchmark table (`make bench`).
#
#   BUILD=/abs/build bench/run.sh
#
# Every figure is measured in this run next to its reference (btrfs with
# compress-force=zstd:3 on a loop device, the FUSE ceiling bench/nullfs.c,
# the same operation on a plain file, RocksDB direct, or an lsnfs baseline),
# and printed as a markdown table with the ratio and PASS/MISS against the
# project's targets.  Beside every ingest and read figure stands the
# compression limit: zstd alone (bench/zlimit.c) at lsnfs' level on blocks of
# lsnfs' size, cut from the same input, on 1 core and on all of them.  The table and machine
# info also go to bench/out/latest.md (git-ignored); the progress log to
# bench/out/latest.log.
#
# Needs root (drop_caches, /dev/fuse, loop devices), fusermount3,
# setfattr/getfattr, cc, pkg-config fuse3 rocksdb libzstd; installs
# btrfs-progs and btrfs-compsize with apt-get when mkfs.btrfs is missing (the
# btrfs column is skipped, saying why, when btrfs or loop devices are not
# available).  All data is generated at run time under a
# temp dir on the filesystem of $BENCH_TMP (default /tmp), removed at exit,
# and every mount is undone on exit, also on failure or Ctrl-C.  The run
# uses private copies of build/lsnfs and build/mkfs.lsnfs taken at its start
# and builds its helpers (nullfs, writer, randread, rocksdb_direct, genlog,
# zlimit) into the temp dir, so a concurrent `make` cannot change them mid-run.
#
# Sizes (env):
#   BENCH_SCALE=full|small      default full; small is a quick smoke run
#   BENCH_APPEND_N              records for the append figures (full 200000)
#   BENCH_SYNC_N                records for the sync=always figures (full 4000)
#   BENCH_FRAMES_N              records for LOG/append.frames (full 2000000)
#   BENCH_ZLIMIT_MB             input measured by the compression limit (full 64)
#   BENCH_RECORD_SIZE           bytes per append record (100)
#   BENCH_INGEST_MB             size of the generated text log (full 1024)
#   BENCH_MEMCMP_MB             smaller ingest for the memory-growth compare (full 256)
#   BENCH_TRIM_SEGS             sealed segments trimmed (1000)
#   BENCH_TRIM_RECS             100-byte records per segment, 1x case (full 160, >= 41)
#   BENCH_MOUNT_MB              payload of the mount-time store (full 5120)
#   BENCH_RAND_READS            random 4 KiB reads (10000)
#   BENCH_TMP                   where the temp dir goes (/tmp)
#   BENCH_PERF=1                also run `perf stat` on the daemon during the ingest
#   BENCH_PERF=record           `perf record -g` the daemon during the lines ingest
#                               and the cold read: bench/out/perf-{ingest,coldread}.{data,txt}
#   BENCH_BTRFS=0               skip the btrfs reference
#   BENCH_ONLY=coldread         only the phases the read figures need (compression
#                               limit, btrfs, the lines ingest that builds the
#                               store, reads); the other rows are left out
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
	d_append=200000 d_ingest=1024 d_memcmp=256 d_trim_segs=1000 d_trim_recs=160 d_mount=5120
	d_sync=4000 d_frames=2000000 d_zlimit=64 ;;
small)
	d_append=20000 d_ingest=128 d_memcmp=32 d_trim_segs=1000 d_trim_recs=41 d_mount=512
	d_sync=1000 d_frames=200000 d_zlimit=32 ;;
*)
	echo "bench: BENCH_SCALE must be full or small, not '$SCALE'" >&2
	exit 2 ;;
esac
case ${BENCH_ONLY:-} in
'') ONLY_PHASES="" ;;
coldread) ONLY_PHASES="phase_limit phase_btrfs phase_ingest phase_reads" ;;
*)
	echo "bench: BENCH_ONLY must be coldread (or unset), not '$BENCH_ONLY'" >&2
	exit 2 ;;
esac
APPEND_N=${BENCH_APPEND_N:-$d_append}
SYNC_N=${BENCH_SYNC_N:-$d_sync}
FRAMES_N=${BENCH_FRAMES_N:-$d_frames}
FRAMES_PER_WRITE=64
ZLIMIT_MB=${BENCH_ZLIMIT_MB:-$d_zlimit}
NCPU=$(nproc)
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
for tool in fusermount3 mountpoint getfattr setfattr cc pkg-config timeout dd du awk cmp losetup; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
for bin in "$LSNFS" "$MKFS"; do
	[[ -x $bin ]] || missing+=("$bin (run make all)")
done
if ((${#missing[@]})); then
	echo "bench: missing: ${missing[*]}" >&2
	exit 1
fi
# btrfs-progs (mkfs.btrfs) and compsize for the btrfs reference: installed
# here, not by `make deps`, because only the benchmark needs them.
if [[ ${BENCH_BTRFS:-1} != 0 ]] && ! command -v mkfs.btrfs >/dev/null 2>&1 &&
	[[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
	echo "bench: installing btrfs-progs btrfs-compsize (the btrfs reference)" >&2
	{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq btrfs-progs btrfs-compsize ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq btrfs-progs btrfs-compsize; }; } \
		>/dev/null 2>&1 || echo "bench: could not install btrfs-progs; the btrfs column will be skipped" >&2
fi

mkdir -p "$OUT"
T=$(mktemp -d "$TMPBASE/lsnfs-bench.XXXXXX")
REG=$T/registry # "MNT PID" of every filesystem daemon started and not yet stopped
KREG=$T/kmounts # "MNT LOOPDEV IMAGE" of every kernel (btrfs) mount not yet undone
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
: >"$KREG"
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

# row FIGURE LSNFS REFERENCE RATIO TARGET RESULT [LIMIT]: LIMIT is the
# compression-limit column (ingest and read figures)
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "${7:-}" >>"$ROWS"; }
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

# start_lsnfs STORE MNT [EXTRA_OPTS] -> DPID, DLOG
start_lsnfs() {
	mkdir -p "$2"
	DLOG=$LOGDIR/lsnfs.$(basename "$2").$(now).log
	"$LSNFS" "$1" "$2" -f -o "$OPTS${3:+,$3}" </dev/null >"$DLOG" 2>&1 &
	DPID=$!
	echo "$2 $DPID" >>"$REG"
	wait_mounted "$2" "$DPID" "$DLOG"
}

# try_lsnfs STORE MNT EXTRA_OPTS: like start_lsnfs, but a daemon that refuses
# the options (exits before mounting) returns 1 quietly instead of failing.
try_lsnfs() {
	local i
	mkdir -p "$2"
	DLOG=$LOGDIR/lsnfs.$(basename "$2").$(now).log
	"$LSNFS" "$1" "$2" -f -o "$OPTS,$3" </dev/null >"$DLOG" 2>&1 &
	DPID=$!
	echo "$2 $DPID" >>"$REG"
	for ((i = 0; i < 600; i++)); do
		mountpoint -q "$2" && return 0
		alive "$DPID" || { wait "$DPID" 2>/dev/null || true; return 1; }
		sleep 0.02
	done
	echo "bench: $2 not mounted after 12 s" >&2
	return 2
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

# Undo whatever a phase left mounted or running (only our own daemons,
# mounts and loop devices).
cleanup_registry() {
	local m p dev img
	if [[ -s $KREG ]]; then
		while read -r m dev img; do
			if mountpoint -q "$m" 2>/dev/null; then umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; fi
			[[ $dev == - ]] || losetup -d "$dev" 2>/dev/null || true
			rm -f -- "$img"
		done <"$KREG"
		: >"$KREG"
	fi
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
	if [[ -n $ONLY_PHASES && " $ONLY_PHASES " != *" $fn "* ]]; then
		say "== $name: skipped (BENCH_ONLY=$BENCH_ONLY)"
		return 0
	fi
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
	# shellcheck disable=SC2046
	cc "${cflags[@]}" -pthread -o "$HB/zlimit" "$here/zlimit.c" $(pkg-config --cflags --libs libzstd)
	# lsnfs' own compression level and block size, from its headers and
	# library (so the limit follows them when they change)
	cat >"$T/probe.c" <<-'EOF'
		#include <stdio.h>
		#include "storage/config.h"
		#include "storage/store.h"
		int main(void)
		{
			struct lsn_config c;

			lsn_config_defaults(&c);
			printf("%d %u\n", c.compress_level, (unsigned)LSN_BLOCK_TARGET);
			return 0;
		}
	EOF
	# shellcheck disable=SC2046
	if cc "${cflags[@]}" -I"$root" -o "$HB/probe" "$T/probe.c" "$BUILD/liblsnfs.a" \
		$(pkg-config --libs rocksdb libzstd) -lpthread -lm 2>"$T/probe.err"; then
		read -r ZLEVEL ZBLOCK < <("$HB/probe")
	else
		ZLEVEL=3 ZBLOCK=131072
		say "WARNING: could not read lsnfs' compression level and block size (see below); assuming 3 and 128 KiB"
		cat "$T/probe.err" >&3
	fi
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
	combine_rates "${outs[@]}"
}

combine_rates() { # WRITER_OUTPUT... -> "RATE SECONDS RECORDS"
	cat "$@" | awk '
		NR == 1 || $1 < s { s = $1 } NR == 1 || $2 > e { e = $2 } { n += $3 }
		END { printf "%.1f %.6f %d\n", n / ((e - s) / 1e9), (e - s) / 1e9, n }'
}

# writers_paths_rate TOTAL ID0 PATH...: one writer process per PATH, TOTAL
# records in all; prints like writers_rate.
writers_paths_rate() {
	local total=$1 id0=$2 i=0 per p pids=() outs=()
	shift 2
	per=$((total / $#))
	for p in "$@"; do
		"$HB/writer" "$p" "$per" "$REC_SIZE" $((id0 + i)) >"$T/writer.$i.out" &
		pids+=($!)
		outs+=("$T/writer.$i.out")
		i=$((i + 1))
	done
	for i in "${pids[@]}"; do wait "$i"; done
	combine_rates "${outs[@]}"
}

# The compression-limit column: zstd alone at lsnfs' level and block size.
lim_ingest() {
	[[ -n ${ZL_C1:-} ]] || { echo "n/a"; return 0; }
	echo "zstd -$ZLEVEL, $((ZBLOCK / 1024)) KiB blocks: $(fmt_mibs "$ZL_C1") x1, $(fmt_mibs "$ZL_CN") x$NCPU"
}
lim_read() {
	[[ -n ${ZL_D1:-} ]] || { echo "n/a"; return 0; }
	echo "unzstd $((ZBLOCK / 1024)) KiB blocks: $(fmt_mibs "$ZL_D1") x1, $(fmt_mibs "$ZL_DN") x$NCPU"
}
lim_size() {
	[[ -n ${ZL_FRAC:-} ]] || { echo "n/a"; return 0; }
	echo "zstd -$ZLEVEL, $((ZBLOCK / 1024)) KiB blocks: $(awk -v f="$ZL_FRAC" 'BEGIN{printf "%.1f%%", 100*f}') of raw = $(fmt_mib "$(calc "$ZL_FRAC * $1")")"
}

# ===========================================================================
# Phases
# ===========================================================================

best() { awk -v a="$1" -v b="$2" 'BEGIN{print (b == "" || a + 0 > b + 0) ? a : b}'; }

phase_append() {
	local M=$T/null S=$T/s_append L=$T/m_append NP LP r1n="" r4n="" r1="" r4="" r4l="" c0 c1 t0 t1 out r \
		cpu1=0 cpu4=0 w1=0 w4=0 tail k
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
		# 4 writers, each on its own log
		for k in 0 1 2 3; do mkdir "$L/l4.$r.$k"; done
		out=$(writers_paths_rate "$APPEND_N" 200 "$L/l4.$r."{0,1,2,3}/append)
		r4l=$(best "${out%% *}" "$r4l")
		tail=$(xget "$L/a1.$r" tail_lsn)
		[[ $tail == "$APPEND_N" ]] || note "WARNING: a1.$r tail_lsn $tail, expected $APPEND_N"
		tail=$(xget "$L/a4.$r" tail_lsn)
		[[ $tail == $((APPEND_N / 4 * 4)) ]] || note "WARNING: a4.$r tail_lsn $tail, expected $((APPEND_N / 4 * 4))"
		for k in 0 1 2 3; do
			tail=$(xget "$L/l4.$r.$k" tail_lsn)
			[[ $tail == $((APPEND_N / 4)) ]] || note "WARNING: l4.$r.$k tail_lsn $tail, expected $((APPEND_N / 4))"
		done
	done
	note "record append (best of 2 rounds, alternating with nullfs): daemon CPU $(fmt2 "$(calc "$cpu1/$CLK_TCK/$w1")") cores with 1 writer, $(fmt2 "$(calc "$cpu4/$CLK_TCK/$w4")") cores with 4; nullfs /sink with 4 writers: $(fmt_rate "$r4n") rec/s ($(ratio "$r4n" "$r1n") x its 1 writer)"
	stop_fs "$L" "$LP"
	stop_fs "$M" "$NP"
	rm -rf "$S"

	row "record append, 1 writer (${REC_SIZE} B write(2)s to LOG/append; best of 2)" \
		"$(fmt_rate "$r1") rec/s" "$(fmt_rate "$r1n") rec/s (nullfs /sink)" \
		"$(ratio "$r1" "$r1n")" ">= 0.85" "$(judge "$(ratio "$r1" "$r1n")" ">=" 0.85)"
	row "record append, 4 writers (4 processes, same LOG/append; best of 2)" \
		"$(fmt_rate "$r4") rec/s" "$(fmt_rate "$r1") rec/s (lsnfs, 1 writer)" \
		"$(ratio "$r4" "$r1")" ">= 1.5" "$(judge "$(ratio "$r4" "$r1")" ">=" 1.5)"
	row "record append, 4 writers on 4 different logs (${REC_SIZE} B; best of 2)" \
		"$(fmt_rate "$r4l") rec/s" "$(fmt_rate "$r1") rec/s (lsnfs, 1 writer on 1 log)" \
		"$(ratio "$r4l" "$r1")" ">= 1.6" "$(judge "$(ratio "$r4l" "$r1")" ">=" 1.6)"
}

# sync=always: one writer (with per-write latency) and 4 writers on 4 logs,
# beside write(2) + fdatasync(2) of the same records to a file on the temp
# dir's filesystem.
phase_sync() {
	local S=$T/s_sync L=$T/m_sync out1 out4 oe r1 r4 re k tail
	"$MKFS" --mode single "$S" >/dev/null
	start_lsnfs "$S" "$L" "sync=always"
	mkdir "$L/s1" "$L/s4."{0,1,2,3}
	out1=$("$HB/writer" -l "$L/s1/append" "$SYNC_N" "$REC_SIZE" 0)
	out4=$(writers_paths_rate "$SYNC_N" 300 "$L/s4."{0,1,2,3}/append)
	tail=$(xget "$L/s1" tail_lsn)
	[[ $tail == "$SYNC_N" ]] || note "WARNING: s1 tail_lsn $tail, expected $SYNC_N"
	for k in 0 1 2 3; do
		tail=$(xget "$L/s4.$k" tail_lsn)
		[[ $tail == $((SYNC_N / 4)) ]] || note "WARNING: s4.$k tail_lsn $tail, expected $((SYNC_N / 4))"
	done
	stop_fs "$L" "$DPID"
	rm -rf "$S"
	oe=$("$HB/writer" -c -s -l "$T/ext4sync.dat" "$SYNC_N" "$REC_SIZE" 0)
	rm -f "$T/ext4sync.dat"
	r1=$(awk '{printf "%.1f", $3 / (($2 - $1) / 1e9)}' <<<"$out1")
	re=$(awk '{printf "%.1f", $3 / (($2 - $1) / 1e9)}' <<<"$oe")
	r4=${out4%% *}
	local p1 p99 ep1 ep99
	read -r _ _ _ p1 p99 _ <<<"$out1"
	read -r _ _ _ ep1 ep99 _ <<<"$oe"
	row "sync=always, 4 writers on 4 logs (${REC_SIZE} B; $SYNC_N records)" \
		"$(fmt_rate "$r4") rec/s" "$(fmt_rate "$r1") rec/s (lsnfs sync=always, 1 writer)" \
		"$(ratio "$r4" "$r1")" ">= 2.5" "$(judge "$(ratio "$r4" "$r1")" ">=" 2.5)"
	row "append latency, sync=always, 1 writer (${REC_SIZE} B write(2) until it returns)" \
		"p50 $(us "$p1"), p99 $(us "$p99") ($(fmt_rate "$r1") rec/s)" \
		"p50 $(us "$ep1"), p99 $(us "$ep99") ($fs_type write + fdatasync, $(fmt_rate "$re") rec/s)" \
		"$(ratio "$p99" "$ep99")" "p99 <= 2" "$(judge "$(ratio "$p99" "$ep99")" "<=" 2)"
}

us() { awk -v v="$1" 'BEGIN{ if (v >= 1e6) printf "%.2f ms", v/1e6; else printf "%.0f us", v/1e3 }'; }

# Batched binary records: LOG/append.frames, FRAMES_PER_WRITE records of
# REC_SIZE bytes per write(2), beside RocksDB direct with one put per record.
phase_frames() {
	local S=$T/s_frames L=$T/m_frames out recs secs_ rps fr tail
	out=$(timeout --foreground 1800 "$HB/rocksdb_direct" "$T/rocksdb_rec" --records "$APPEND_N" "$REC_SIZE")
	read -r recs _ secs_ <<<"$out"
	rps=$(calc "$recs/$secs_")
	rm -rf "$T/rocksdb_rec"
	"$MKFS" --mode single "$S" >/dev/null
	start_lsnfs "$S" "$L"
	mkdir "$L/LOG"
	if [[ ! -e $L/LOG/append.frames ]]; then
		stop_fs "$L" "$DPID"
		rm -rf "$S"
		row "batched binary records (LOG/append.frames, $REC_SIZE B records, $FRAMES_PER_WRITE per write)" \
			"n/a (append.frames not available)" "$(fmt_rate "$rps") rec/s (RocksDB direct, 1 put per record)" \
			"n/a" ">= 5" "n/a"
		return 0
	fi
	out=$(timeout --foreground 1800 "$HB/writer" -f "$FRAMES_PER_WRITE" "$L/LOG/append.frames" "$FRAMES_N" "$REC_SIZE" 0)
	fr=$(awk '{printf "%.1f", $3 / (($2 - $1) / 1e9)}' <<<"$out")
	tail=$(xget "$L/LOG" tail_lsn)
	[[ $tail == "$FRAMES_N" ]] || note "WARNING: append.frames tail_lsn $tail, expected $FRAMES_N"
	stop_fs "$L" "$DPID"
	rm -rf "$S"
	row "batched binary records (LOG/append.frames, $REC_SIZE B records, $FRAMES_PER_WRITE per write)" \
		"$(fmt_rate "$fr") rec/s ($(fmt_mibs "$(calc "$fr * $REC_SIZE")"))" \
		"$(fmt_rate "$rps") rec/s (RocksDB direct, 1 put per record)" \
		"$(ratio "$fr" "$rps")" ">= 5" "$(judge "$(ratio "$fr" "$rps")" ">=" 5)"
}

phase_ingest() {
	local M=$T/null S=$T/s_main L=$T/m_main in=$T/input.log bytes lines t0 t1 c0 c1 dt dtn \
		recs bps bpsn bpss hwm du tail perfpid="" perfrec="" t2
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
	if [[ ${BENCH_PERF:-0} == record ]] && command -v perf >/dev/null; then
		perf record -g -F 997 -p "$DPID" -o "$OUT/perf-ingest.data" 2>"$T/perf-record.err" &
		perfrec=$!
		sleep 1 # perf attaches to every thread first
	fi
	sync
	c0=$(cpu_ticks "$DPID")
	t0=$(now)
	timeout --foreground 1800 cat "$in" >"$L/LOG/append.lines"
	t1=$(now)
	sync # the same `cat > file; sync` as the btrfs reference
	t2=$(now)
	c1=$(cpu_ticks "$DPID")
	if [[ -n $perfpid ]]; then
		kill -INT "$perfpid" || true
		wait "$perfpid" || true
		note "perf stat of the daemon during the ingest: $(grep -E 'task-clock|context-switches|cpu-migrations|page-faults' "$T/perf-ingest.txt" | awk '{$1 = $1; print}' | paste -sd ';' - | sed 's/;/; /g')"
	fi
	if [[ -n $perfrec ]]; then
		kill -INT "$perfrec" || true
		wait "$perfrec" || true
		perf report -i "$OUT/perf-ingest.data" --stdio --no-children --percent-limit 0.5 \
			--sort dso,sym -g none >"$OUT/perf-ingest.txt" 2>/dev/null || true
		perf report -i "$OUT/perf-ingest.data" --stdio --no-children --sort comm,dso -g none \
			>"$OUT/perf-ingest-threads.txt" 2>/dev/null || true
		perf report -i "$OUT/perf-ingest.data" --stdio --children --percent-limit 2 \
			--sort sym -g none >"$OUT/perf-ingest-children.txt" 2>/dev/null || true
		say "perf record of the lines ingest: bench/out/perf-ingest.txt (bench/out/perf-ingest.data)"
	fi
	dt=$(secs "$t0" "$t1")
	bps=$(calc "$bytes/$dt")
	bpss=$(calc "$bytes/$(secs "$t0" "$t2")")
	tail=$(xget "$L/LOG" tail_lsn)
	recs=$(calc "$tail/$dt")
	[[ $tail == "$lines" ]] || note "WARNING: ingest gave tail_lsn $tail for $lines lines"
	note "lines ingest: $(fmt_mib "$bytes"), $lines lines in $(fmt_s "$dt") (the sync after it $(fmt_s "$(secs "$t1" "$t2")")); daemon CPU $(fmt2 "$(calc "($c1-$c0)/$CLK_TCK/$dt")") cores ($(cpu_user_sys "$DPID"))"
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

	if [[ -n ${BTRFS_INGEST_BPS:-} ]]; then
		row "lines ingest vs btrfs (cat $(fmt_mib "$bytes") text log > LOG/append.lines; sync)" \
			"$(fmt_mibs "$bpss")" "$(fmt_mibs "$BTRFS_INGEST_BPS") (btrfs zstd:3: cat > file; sync)" \
			"$(ratio "$bpss" "$BTRFS_INGEST_BPS")" ">= 1.0" "$(judge "$(ratio "$bpss" "$BTRFS_INGEST_BPS")" ">=" 1.0)" \
			"$(lim_ingest)"
		row "store size vs btrfs (du -sb STORE after the ingest and an unmount)" \
			"$(fmt_mib "$du")" "$(fmt_mib "$BTRFS_SPACE") (btrfs zstd:3 data + metadata used)" \
			"$(ratio "$du" "$BTRFS_SPACE")" "<= 1.0" "$(judge "$(ratio "$du" "$BTRFS_SPACE")" "<=" 1.0)" \
			"$(lim_size "$bytes")"
	else
		row "lines ingest vs btrfs (cat $(fmt_mib "$bytes") text log > LOG/append.lines; sync)" \
			"$(fmt_mibs "$bpss")" "n/a (${BTRFS_WHY:-btrfs not measured})" "n/a" ">= 1.0" "n/a" "$(lim_ingest)"
		row "store size vs btrfs (du -sb STORE after the ingest and an unmount)" \
			"$(fmt_mib "$du")" "n/a (${BTRFS_WHY:-btrfs not measured})" "n/a" "<= 1.0" "n/a" "$(lim_size "$bytes")"
	fi
	row "lines ingest, bytes (cat $(fmt_mib "$bytes") text log > LOG/append.lines)" \
		"$(fmt_mibs "$bps")" "$(fmt_mibs "$bpsn") (cat > nullfs /sink)" \
		"$(ratio "$bps" "$bpsn")" ">= 0.5" "$(judge "$(ratio "$bps" "$bpsn")" ">=" 0.5)" "$(lim_ingest)"
	row "compression (du -sb STORE after the ingest and an unmount)" \
		"$(fmt_mib "$du")" "$(fmt_mib "$bytes") (raw text)" \
		"$(ratio "$du" "$bytes")" "<= 0.25" "$(judge "$(ratio "$du" "$bytes")" "<=" 0.25)" "$(lim_size "$bytes")"
}

# The compression limit (bench/zlimit.c): zstd alone on the first
# ZLIMIT_MB of the input, in lsnfs' block size at lsnfs' level, on one
# thread and on one per core (fastest of 3 passes each).
phase_limit() {
	local in=$T/input.log o1 on max
	max=$((ZLIMIT_MB * 1048576))
	o1=$("$HB/zlimit" "$ZLEVEL" "$ZBLOCK" 1 "$in" "$max")
	on=$("$HB/zlimit" "$ZLEVEL" "$ZBLOCK" "$NCPU" "$in" "$max")
	setval ZL_C1 "$(awk '{printf "%.0f", $1 / $3}' <<<"$o1")"
	setval ZL_D1 "$(awk '{printf "%.0f", $1 / $4}' <<<"$o1")"
	setval ZL_CN "$(awk '{printf "%.0f", $1 / $3}' <<<"$on")"
	setval ZL_DN "$(awk '{printf "%.0f", $1 / $4}' <<<"$on")"
	setval ZL_FRAC "$(awk '{printf "%.6f", $2 / $1}' <<<"$o1")"
	note "compression limit (bench/zlimit.c: zstd -$ZLEVEL, lsnfs' level, on $((ZBLOCK / 1024)) KiB blocks, lsnfs' LSN_BLOCK_TARGET, of the first $(fmt_mib "$(awk '{print $1}' <<<"$o1")") of the input; fastest of 3 passes, no I/O): compress $(awk '{printf "%.0f MiB/s", $1/$3/1048576}' <<<"$o1") on 1 thread, $(awk '{printf "%.0f MiB/s", $1/$3/1048576}' <<<"$on") on $NCPU; decompress $(awk '{printf "%.0f MiB/s", $1/$4/1048576}' <<<"$o1") / $(awk '{printf "%.0f MiB/s", $1/$4/1048576}' <<<"$on"); ratio $(awk '{printf "%.2fx", $1/$2}' <<<"$o1")"
}

# btrfs with compress-force=zstd:3 on a loop device backed by a sparse file
# in the temp dir: ingest (cat > file; sync), space used, cold cat.
phase_btrfs() {
	local in=$T/input.log img=$T/btrfs.img B=$T/m_btrfs dev bytes t0 t1 u0 u1 cs dio=on why=""
	if [[ ${BENCH_BTRFS:-1} == 0 ]]; then
		why="BENCH_BTRFS=0"
	elif ! command -v mkfs.btrfs >/dev/null 2>&1; then
		why="mkfs.btrfs (btrfs-progs) not installed"
	elif [[ ! -e /dev/loop-control ]]; then
		why="no loop devices (/dev/loop-control missing)"
	fi
	if [[ -n $why ]]; then
		setval BTRFS_WHY "$why"
		note "btrfs reference SKIPPED: $why"
		return 0
	fi
	bytes=$(stat -c %s "$in")
	truncate -s $((bytes * 2 + 1073741824)) "$img"
	mkfs.btrfs -q -f "$img" >/dev/null
	dev=$(losetup --find --show --direct-io=on "$img" 2>/dev/null) || {
		dio=off
		dev=$(losetup --find --show "$img" 2>"$T/losetup.err")
	} || {
		setval BTRFS_WHY "losetup failed: $(head -1 "$T/losetup.err")"
		note "btrfs reference SKIPPED: losetup failed: $(head -1 "$T/losetup.err")"
		rm -f "$img"
		return 0
	}
	mkdir -p "$B"
	echo "$B $dev $img" >>"$KREG"
	if ! mount -t btrfs -o compress-force=zstd:3 "$dev" "$B" 2>"$T/mount.err"; then
		setval BTRFS_WHY "mount -t btrfs failed: $(head -1 "$T/mount.err")"
		note "btrfs reference SKIPPED: mount -t btrfs failed: $(head -1 "$T/mount.err")"
		return 0
	fi
	# "used" of data, metadata and system, each counted once (mkfs keeps
	# metadata DUP on one device; the second copy is not counted)
	btrfs_used() { sync; btrfs filesystem df -b "$1" | awk -F'used=' 'NF > 1 && !/GlobalReserve/ {s += $2} END{print s}'; }
	u0=$(btrfs_used "$B")
	cat "$in" >/dev/null # the input is read from the page cache, as for lsnfs
	sync
	t0=$(now)
	cat "$in" >"$B/input.log"
	sync
	t1=$(now)
	u1=$(btrfs_used "$B")
	setval BTRFS_INGEST_BPS "$(calc "$bytes/$(secs "$t0" "$t1")")"
	setval BTRFS_SPACE $((u1 - u0))
	cs=""
	if command -v compsize >/dev/null 2>&1; then
		cs=$(compsize -b "$B/input.log" | awk '$1 == "TOTAL" {printf "compsize: data %.1f MiB on disk for %.1f MiB", $3/1048576, $4/1048576}')
	fi
	drop_caches
	t0=$(now)
	cat "$B/input.log" >/dev/null
	t1=$(now)
	setval BTRFS_COLD_BPS "$(calc "$bytes/$(secs "$t0" "$t1")")"
	t0=$(now)
	cat "$B/input.log" >/dev/null
	t1=$(now)
	cmp -s "$B/input.log" "$in" || note "WARNING: the file read back from btrfs differs from the input"
	note "btrfs reference: mkfs.btrfs defaults on a loop device (direct-io=$dio) over a sparse file in the temp dir, mount -o compress-force=zstd:3; warm re-read $(fmt_mibs "$(calc "$bytes/$(secs "$t0" "$t1")")"); space = data + metadata + system 'used' of btrfs filesystem df after sync, minus the empty filesystem's, metadata counted once: $(fmt_mib $((u1 - u0)))${cs:+; $cs}"
	umount "$B"
	losetup -d "$dev"
	rm -f "$img"
	: >"$KREG"
}

# Ingest scaling: the same ingest with compress_threads=1 and =2, when the
# daemon accepts the option.
phase_scaling() {
	local S=$T/s_scale L=$T/m_scale in=$T/input.log bytes n t0 t1 r1="" r2="" rc
	bytes=$(stat -c %s "$in")
	for n in 1 2; do
		rm -rf "$S"
		"$MKFS" --mode single --segment-size "$MAIN_SEG" "$S" >/dev/null
		rc=0
		try_lsnfs "$S" "$L" "compress_threads=$n" || rc=$?
		if ((rc == 1)); then
			note "ingest scaling: the daemon refuses -o compress_threads=$n: $(grep -m1 -i 'compress_threads\|unknown\|invalid' "$DLOG" || tail -1 "$DLOG")"
			rm -rf "$S"
			row "ingest scaling (lines ingest with compress_threads=2 vs =1)" \
				"n/a (-o compress_threads not accepted)" "n/a" "n/a" ">= 1.7" "n/a" "$(lim_ingest)"
			return 0
		fi
		((rc == 0)) || return 1
		mkdir "$L/LOG"
		sync
		t0=$(now)
		timeout --foreground 1800 cat "$in" >"$L/LOG/append.lines"
		sync
		t1=$(now)
		stop_fs "$L" "$DPID"
		if ((n == 1)); then r1=$(calc "$bytes/$(secs "$t0" "$t1")"); else r2=$(calc "$bytes/$(secs "$t0" "$t1")"); fi
	done
	rm -rf "$S"
	row "ingest scaling (lines ingest, cat; sync, with compress_threads=2 vs =1)" \
		"$(fmt_mibs "$r2")" "$(fmt_mibs "$r1") (compress_threads=1)" \
		"$(ratio "$r2" "$r1")" ">= 1.7" "$(judge "$(ratio "$r2" "$r1")" ">=" 1.7)" "$(lim_ingest)"
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
		"$(ratio "$lrecs" "$rps")" ">= 10" "$(judge "$(ratio "$lrecs" "$rps")" ">=" 10)" "$(lim_ingest)"
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
	local perfrec=""
	if [[ ${BENCH_PERF:-0} == record ]] && command -v perf >/dev/null; then
		perf record -g -F 997 -p "$MP" -o "$OUT/perf-coldread.data" 2>"$T/perf-coldread.err" &
		perfrec=$!
		sleep 1 # perf attaches to every thread first
		drop_caches
	fi
	c0=$(cpu_ticks "$MP")
	t0=$(now)
	lc=$(cat_rate "${segs[@]}")
	t1=$(now)
	c1=$(cpu_ticks "$MP")
	if [[ -n $perfrec ]]; then
		kill -INT "$perfrec" || true
		wait "$perfrec" || true
		perf report -i "$OUT/perf-coldread.data" --stdio --no-children --percent-limit 0.5 \
			--sort dso,sym -g none >"$OUT/perf-coldread.txt" 2>/dev/null || true
		perf report -i "$OUT/perf-coldread.data" --stdio --children --percent-limit 2 \
			--sort sym -g none >"$OUT/perf-coldread-children.txt" 2>/dev/null || true
		say "perf record of the cold read: bench/out/perf-coldread.txt (bench/out/perf-coldread.data)"
	fi
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
	# the same cold read without read-ahead, side by side (information)
	local l0="" rc0=0
	try_lsnfs "$S" "$L" "read_ahead_blocks=0" || rc0=$?
	if ((rc0 == 0)); then
		drop_caches
		l0=$(cat_rate "${segs[@]}")
		stop_fs "$L" "$DPID"
		note "cold read with -o read_ahead_blocks=0 (same store and run, after the figure above): $(fmt_mibs "$l0") = $(ratio "$l0" "$lc")x the default's${BTRFS_COLD_BPS:+, $(ratio "$l0" "$BTRFS_COLD_BPS")x btrfs}"
	elif ((rc0 == 1)); then
		note "cold read with -o read_ahead_blocks=0: not measured (the daemon refuses the option)"
	else
		return 1
	fi

	if [[ -n ${BTRFS_COLD_BPS:-} ]]; then
		row "cold read vs btrfs (cat sealed segments after remount + drop_caches)" \
			"$(fmt_mibs "$lc")" "$(fmt_mibs "$BTRFS_COLD_BPS") (btrfs zstd:3 cat after drop_caches)" \
			"$(ratio "$lc" "$BTRFS_COLD_BPS")" ">= 1.0" "$(judge "$(ratio "$lc" "$BTRFS_COLD_BPS")" ">=" 1.0)" \
			"$(lim_read)"
	else
		row "cold read vs btrfs (cat sealed segments after remount + drop_caches)" \
			"$(fmt_mibs "$lc")" "n/a (${BTRFS_WHY:-btrfs not measured})" "n/a" ">= 1.0" "n/a" "$(lim_read)"
	fi
	row "cold read (cat sealed segments after remount + drop_caches)" \
		"$(fmt_mibs "$lc")" "$(fmt_mibs "$nc") (native file, after drop_caches)" \
		"$(ratio "$lc" "$nc")" ">= 0.5" "$(judge "$(ratio "$lc" "$nc")" ">=" 0.5)" "$(lim_read)"
	row "warm read (the same cat again)" \
		"$(fmt_mibs "$lw")" "$(fmt_mibs "$nw") (native, warm)" \
		"$(ratio "$lw" "$nw")" ">= 0.9" "$(judge "$(ratio "$lw" "$nw")" ">=" 0.9)" "$(lim_read)"
	local lr nr
	lr=$(awk '{print $3}' <<<"$rl")
	nr=$(awk '{print $3}' <<<"$rn")
	row "random read ($RAND_READS x pread 4 KiB, after the warm read)" \
		"$(awk '{printf "%.1fk/s, p50 %.0f us, p99 %.0f us", $3/1e3, $4, $5}' <<<"$rl")" \
		"$(awk '{printf "%.1fk/s, p50 %.0f us, p99 %.0f us (native)", $3/1e3, $4, $5}' <<<"$rn")" \
		"$(ratio "$lr" "$nr")" ">= 0.5, p99 reported" "$(judge "$(ratio "$lr" "$nr")" ">=" 0.5)" "$(lim_read)"
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
fs_type=$(findmnt -n -o FSTYPE --target "$T" 2>/dev/null || stat -f -c %T "$T")
fs_dev=$(df -P "$T" | awk 'NR == 2 {print $1}')
machine() {
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- host: $(nproc) CPUs ($(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)), $(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
	echo "- kernel: $(uname -sr); libfuse $(pkg-config --modversion fuse3), RocksDB $(pkg-config --modversion rocksdb), zstd $(pkg-config --modversion libzstd)"
	echo "- temp dir filesystem: $fs_type on $fs_dev ($(df -h --output=avail "$T" | tail -1 | tr -d ' ') free)"
	echo "- lsnfs: $("$LSNFS" --version 2>/dev/null | head -1), binary built $LSNFS_BUILT, mounted -o $OPTS; stores made with mkfs.lsnfs --mode single"
	echo "- load average at the start: $LOAD0; other FUSE mounts at the start: $OTHER_FUSE"
	echo "- parameters: BENCH_SCALE=$SCALE APPEND_N=$APPEND_N SYNC_N=$SYNC_N FRAMES_N=$FRAMES_N RECORD_SIZE=$REC_SIZE INGEST_MB=$INGEST_MB MEMCMP_MB=$MEMCMP_MB TRIM_SEGS=$TRIM_SEGS TRIM_RECS=$TRIM_RECS MOUNT_MB=$MOUNT_MB RAND_READS=$RAND_READS"
}
machine | tee -a "$PROGRESS" >&3

build_helpers
say "lsnfs compresses at zstd level $ZLEVEL in blocks of $ZBLOCK bytes"
say "generating a $INGEST_MB MiB text log"
"$HB/genlog" "$INGEST_BYTES" 0 1 >"$T/input.log"
note "input: $(fmt_mib "$(stat -c %s "$T/input.log")"), $(wc -l <"$T/input.log") lines of 60-300 bytes"

run_phase "compression limit" phase_limit
run_phase "record append" phase_append
run_phase "sync=always append" phase_sync
run_phase "batched binary records" phase_frames
run_phase "btrfs zstd:3 reference" phase_btrfs
run_phase "lines ingest + compression" phase_ingest
run_phase "ingest scaling" phase_scaling
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
	echo "| figure | lsnfs | reference | ratio | target | result | compression limit |"
	echo "|---|---|---|---|---|---|---|"
	awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7}' "$ROWS"
	echo
	echo "Ratio = lsnfs / reference. $(awk -F'\t' '$6 == "PASS"' "$ROWS" | wc -l) PASS, $(awk -F'\t' '$6 == "MISS"' "$ROWS" | wc -l) MISS, $(awk -F'\t' '$6 == "n/a"' "$ROWS" | wc -l) n/a (not measurable with this build or machine); whole run $(fmt_s "$total")."
	echo "Compression limit = zstd alone at lsnfs' level on lsnfs-sized blocks of the same input (bench/zlimit.c), on 1 core and on all $NCPU: what no compressing store on this machine can beat."
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
