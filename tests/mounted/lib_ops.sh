# tests/mounted/lib_ops.sh - extra helpers for tests/mounted/test_ops_*.sh
# (the operators' toolkit: lsnfsctl, mount.lsnfs, make install, man pages).
# Source it after lib.sh.
#
# Provides:
#   ROOT                   the source tree (for make install and man pages)
#   CTL                    $BUILD/lsnfsctl
#   ops_on_exit CMD        run CMD (a string, eval'ed) at exit, before lib.sh's
#                          cleanup; last registered runs first
#   run_ctl ARGS...        run lsnfsctl; sets CTL_RC, CTL_OUT, CTL_ERR
#   expect_ctl RC ERE ARGS...   run lsnfsctl, expect exit status RC and
#                          stderr matching ERE (stdout too when RC is 0)
#   ops_make ARGS...       make -C $ROOT BUILD=$BUILD ARGS..., isolated from
#                          an outer make's MAKEFLAGS
#   daemon_of MNT          pid of the lsnfs daemon serving MNT (scans /proc)
#   track_mount MNT        unmount MNT at exit if it is still mounted
#   umount_clean MNT       umount(8) MNT, wait for its daemon to exit
#   wait_mounted MNT       wait up to 10 s for MNT to be a mountpoint
#   sbin_link NAME TARGET  temporary /sbin/NAME -> TARGET, removed at exit;
#                          returns 1 (and changes nothing) if /sbin/NAME
#                          already exists and is not our own stale link
#   need_man_tools         make sure groff and man are installed (apt-get);
#                          returns 1 if they cannot be

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CTL=$BUILD/lsnfsctl

declare -a _OPS_EXIT=()

ops_on_exit() { _OPS_EXIT=("$1" "${_OPS_EXIT[@]}"); }

_ops_cleanup() {
	local rc=$? c
	set +e
	trap - ERR
	for c in "${_OPS_EXIT[@]}"; do
		eval "$c"
	done
	(exit "$rc")
	_cleanup
}
trap _ops_cleanup EXIT

run_ctl() {
	local out=$T/.ctl.out err=$T/.ctl.err
	CTL_RC=0
	"$CTL" "$@" >"$out" 2>"$err" </dev/null || CTL_RC=$?
	CTL_OUT=$(cat "$out")
	CTL_ERR=$(cat "$err")
}

expect_ctl() { # RC ERE ARGS...
	local rc=$1 ere=$2
	shift 2
	run_ctl "$@"
	if [[ $CTL_RC != "$rc" ]]; then
		fail "lsnfsctl $*: exit $CTL_RC, expected $rc; stdout '$CTL_OUT' stderr '$CTL_ERR'"
	fi
	local text=$CTL_ERR
	[[ $rc == 0 ]] && text="$CTL_OUT"$'\n'"$CTL_ERR"
	if ! grep -Eq -- "$ere" <<<"$text"; then
		fail "lsnfsctl $*: exit $rc as expected, but output '$text' does not match '$ere'"
	fi
	if [[ $rc != 0 && $rc != 2 ]] && (($(grep -c . <<<"$CTL_ERR") != 1)); then
		fail "lsnfsctl $*: expected a one-line message, got '$CTL_ERR'"
	fi
}

ops_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
		make --no-print-directory -C "$ROOT" BUILD="$BUILD" "$@"
}

daemon_of() { # MNT
	local mnt=$1 p a
	local -a args
	for p in /proc/[0-9]*; do
		mapfile -d "" args 2>/dev/null <"$p/cmdline" || continue
		((${#args[@]} >= 3)) || continue
		[[ ${args[0]##*/} == lsnfs ]] || continue
		for a in "${args[@]:1}"; do
			if [[ $a == "$mnt" ]]; then
				echo "${p#/proc/}"
				return 0
			fi
		done
	done
	return 1
}

wait_mounted() { # MNT
	local i
	for ((i = 0; i < 200; i++)); do
		mountpoint -q "$1" && return 0
		sleep 0.05
	done
	return 1
}

track_mount() { # MNT
	ops_on_exit "mountpoint -q '$1' 2>/dev/null && { umount '$1' 2>/dev/null || umount -l '$1' 2>/dev/null; }"
}

# umount(8) MNT and wait until its daemon has flushed, closed and exited.
umount_clean() { # MNT
	local mnt=$1 pid out
	pid=$(daemon_of "$mnt") || fail "umount_clean: no lsnfs daemon serves $mnt"
	if ! out=$(umount "$mnt" 2>&1); then
		fail "umount $mnt failed: $out"
	fi
	_wait_dead "$pid" 10 || fail "umount_clean: daemon $pid still running 10 s after umount $mnt"
	! mountpoint -q "$mnt" || fail "umount_clean: $mnt is still a mountpoint"
}

sbin_link() { # NAME TARGET
	local link=/sbin/$1 target=$2 old
	if [[ -e $link || -L $link ]]; then
		old=$(readlink "$link" 2>/dev/null || true)
		# Our own link, left by a test run that was killed: its target is gone.
		if [[ -L $link && ! -e $link && $old == */lsnfs-test_ops_mount.*/dest/* ]]; then
			rm -f "$link"
		else
			return 1
		fi
	fi
	ln -s "$target" "$link"
	ops_on_exit "[[ \$(readlink '$link' 2>/dev/null) == '$target' ]] && rm -f '$link'"
}

need_man_tools() {
	if command -v groff >/dev/null 2>&1 && command -v man >/dev/null 2>&1; then
		return 0
	fi
	note "installing groff-base and man-db (apt-get)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq groff-base man-db >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq groff-base man-db >/dev/null 2>&1; } ||
		return 1
	command -v groff >/dev/null 2>&1 && command -v man >/dev/null 2>&1
}
