# tests/mounted/s3-setup.sh - a local S3 server and its clients for the S3
# round-trip test (test_ops_s3.sh).  Everything listens on 127.0.0.1 only.
#
# Sourced by a test AFTER lib.sh (and lib_trim.sh, if used):
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/lib_trim.sh"
#   source "$(dirname "$0")/s3-setup.sh"
#
# Provides:
#   s3_install            make sure s3rver 3.7.1 (npm, cached in $BUILD/s3rver),
#                         rclone and s3fs (Debian packages) are there; when they
#                         truly cannot be installed, print "SKIP: ..." and exit 0
#   s3_start BUCKET       start s3rver on 127.0.0.1:<free port> with a fresh data
#                         dir under $T and BUCKET created; configure rclone's
#                         remote "s3:" through RCLONE_CONFIG_S3_* (exported, so
#                         daemons started afterwards inherit it).  Sets S3_PORT,
#                         S3_URL, S3_PID.
#   s3fs_mount BUCKET DIR mount BUCKET at DIR with s3fs (foreground process in
#                         the background, logs under $T); sets S3FS_PID
#   s3fs_umount DIR       unmount it and wait for s3fs to exit
#   s3_stop               stop s3rver
#   s3_versions           one line: the versions of s3rver, rclone and s3fs
#
# At exit (chained before lib.sh's cleanup, exit status kept): lsnfs mounts
# are unmounted first (they may sit on top of s3fs), then the s3fs mounts,
# then s3rver is stopped.
#
# Run directly (bash tests/mounted/s3-setup.sh) it only installs, e.g. to warm
# the cache: BUILD defaults to the repository's build directory.

S3RVER_VERSION=3.7.1

_s3_die_skip() {
	printf 'SKIP: %s\n' "$*"
	exit 0
}

_s3_log() { printf '  [s3] %s\n' "$*"; }
_S3_LAST_ERR=""
_S3_APT_FAILED=""

# _s3_run LOGFILE CMD...: run CMD quietly; on failure show the tail of its output.
_s3_run() {
	local log=$1 rc=0
	shift
	_S3_LAST_ERR=""
	"$@" >"$log" 2>&1 || rc=$?
	if ((rc != 0)); then
		_S3_LAST_ERR=$(grep -v '^[[:space:]]*$' -- "$log" | tail -n 1 | cut -c1-200)
		printf '  [s3] %s failed (exit %d); last lines:\n' "$*" "$rc" >&2
		tail -n 8 -- "$log" | sed 's/^/      /' >&2
	fi
	return "$rc"
}

_s3_apt_install() { # PKG...
	local log
	log=$(mktemp "${TMPDIR:-/tmp}/lsnfs-s3-apt.XXXXXX")
	_s3_log "apt-get install -y $*"
	if _s3_run "$log" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"; then
		rm -f -- "$log"
		return 0
	fi
	_s3_log "apt-get install failed: running apt-get update and trying again"
	if ! _s3_run "$log" apt-get update; then
		_S3_APT_FAILED="apt-get install -y $* failed, and so did apt-get update"
	elif ! _s3_run "$log" env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"; then
		_S3_APT_FAILED="apt-get install -y $* failed, also after a successful apt-get update"
	else
		rm -f -- "$log"
		return 0
	fi
	rm -f -- "$log"
	return 1
}

S3RVER_DIR=${BUILD:-}/s3rver
S3RVER_JS=$S3RVER_DIR/node_modules/s3rver/bin/s3rver.js

_s3rver_installed_version() {
	node -e 'process.stdout.write(require(process.argv[1]).version)' \
		"$S3RVER_DIR/node_modules/s3rver/package.json" 2>/dev/null
}

s3_install() {
	local pkgs=() log v
	S3RVER_DIR=$BUILD/s3rver
	S3RVER_JS=$S3RVER_DIR/node_modules/s3rver/bin/s3rver.js

	command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
	command -v npm >/dev/null 2>&1 || pkgs+=(npm)
	command -v rclone >/dev/null 2>&1 || pkgs+=(rclone)
	command -v s3fs >/dev/null 2>&1 || pkgs+=(s3fs)
	command -v zstd >/dev/null 2>&1 || pkgs+=(zstd)
	if ((${#pkgs[@]})); then
		_s3_apt_install "${pkgs[@]}" ||
			_s3_die_skip "$_S3_APT_FAILED (last output: '$_S3_LAST_ERR'): cannot run the S3 round trip"
	fi
	for v in node npm rclone s3fs zstd; do
		command -v "$v" >/dev/null 2>&1 ||
			_s3_die_skip "$v is still missing after apt-get install -y ${pkgs[*]}"
	done

	v=$(_s3rver_installed_version) || v=""
	if [[ $v != "$S3RVER_VERSION" || ! -f $S3RVER_JS ]]; then
		_s3_log "npm install --prefix $S3RVER_DIR s3rver@$S3RVER_VERSION (first run only; cached afterwards)"
		mkdir -p -- "$S3RVER_DIR"
		log=$(mktemp "${TMPDIR:-/tmp}/lsnfs-s3-npm.XXXXXX")
		if ! _s3_run "$log" npm install --prefix "$S3RVER_DIR" --no-audit --no-fund \
			"s3rver@$S3RVER_VERSION"; then
			rm -f -- "$log"
			_s3_die_skip "npm install --prefix $S3RVER_DIR s3rver@$S3RVER_VERSION failed (last output: '$_S3_LAST_ERR'): cannot run the S3 round trip"
		fi
		rm -f -- "$log"
		v=$(_s3rver_installed_version) || v=""
		[[ $v == "$S3RVER_VERSION" && -f $S3RVER_JS ]] ||
			_s3_die_skip "npm install of s3rver@$S3RVER_VERSION left no usable $S3RVER_JS (version '$v')"
	fi
}

s3_versions() {
	printf 's3rver %s (node %s), %s, %s\n' "$(_s3rver_installed_version)" "$(node --version)" \
		"$(rclone version 2>/dev/null | head -n 1)" \
		"$(s3fs --version 2>/dev/null | head -n 1 | sed 's/^Amazon Simple Storage Service File System //')"
}

# ---- the server -------------------------------------------------------------

S3_PID=""
S3_PORT=""
S3_URL=""
S3_LOG=""
S3_KEY=S3RVER
S3_SECRET=S3RVER

_s3_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Every TCP listener on PORT is bound to 127.0.0.1 (and there is one).
_s3_listens_on_loopback_only() { # PORT
	python3 - "$1" <<'EOF'
import sys
port = int(sys.argv[1])
found, bad = 0, []
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        lines = open(f).read().splitlines()[1:]
    except OSError:
        continue
    for line in lines:
        parts = line.split()
        addr, p = parts[1].rsplit(":", 1)
        if parts[3] != "0A" or int(p, 16) != port:
            continue
        found += 1
        if addr != "0100007F":
            bad.append(addr)
if not found:
    sys.exit("nothing listens on port %d" % port)
if bad:
    sys.exit("port %d also listens on %r (not 127.0.0.1)" % (port, bad))
EOF
}

# bash -c script: run "$@" (after PARENT) and stop it on TERM/INT/HUP or as
# soon as PARENT is gone; exit when it exits.
# shellcheck disable=SC2016 # expanded by the guard's bash, not here
_S3_GUARD='parent=$1
shift
"$@" &
child=$!
trap "kill -TERM $child 2>/dev/null; wait $child; exit 0" TERM INT HUP
running() {
	local st
	st=$(cut -d" " -f3 "/proc/$child/stat" 2>/dev/null) || return 1
	[[ -n $st && $st != Z ]]
}
while kill -0 "$parent" 2>/dev/null && running; do
	sleep 0.5
done
kill -TERM "$child" 2>/dev/null
wait "$child"'

s3_start() { # BUCKET
	local bucket=$1 data attempt i
	data=$T/s3rver-data
	mkdir -p -- "$data"
	S3_LOG=$T/s3rver.log

	export RCLONE_CONFIG=$T/rclone.conf # empty: everything comes from the environment
	: >"$RCLONE_CONFIG"
	unset AWS_CA_BUNDLE # rclone refuses to start with it set for a plain-http endpoint
	export RCLONE_CONFIG_S3_TYPE=s3
	export RCLONE_CONFIG_S3_PROVIDER=Other
	export RCLONE_CONFIG_S3_ACCESS_KEY_ID=$S3_KEY
	export RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=$S3_SECRET
	export RCLONE_CONFIG_S3_FORCE_PATH_STYLE=true
	export RCLONE_CONFIG_S3_REGION=us-east-1
	export RCLONE_CONFIG_S3_NO_CHECK_BUCKET=true

	for ((attempt = 1; attempt <= 3; attempt++)); do
		S3_PORT=$(_s3_free_port)
		S3_URL=http://127.0.0.1:$S3_PORT
		export RCLONE_CONFIG_S3_ENDPOINT=$S3_URL
		# In a session of its own, so that a TERM to the test's process group
		# (timeout(1), run-all.sh) leaves it serving while s3fs and the lsnfs
		# daemons flush and unmount; the guard stops it when this shell is gone.
		setsid bash -c "$_S3_GUARD" s3rver-guard "$$" \
			node "$S3RVER_JS" --directory "$data" --address 127.0.0.1 --port "$S3_PORT" \
			--configure-bucket "$bucket" </dev/null >>"$S3_LOG" 2>&1 &
		S3_PID=$!
		for ((i = 0; i < 150; i++)); do # 15 s
			if ! _alive "$S3_PID"; then
				wait "$S3_PID" 2>/dev/null || true
				S3_PID=""
				break
			fi
			if rclone lsf --dirs-only s3: 2>/dev/null | grep -qx "$bucket/"; then
				_s3_listens_on_loopback_only "$S3_PORT" ||
					fail "s3rver does not listen on 127.0.0.1:$S3_PORT only"
				return 0
			fi
			sleep 0.1
		done
		if [[ -n $S3_PID ]]; then
			fail "s3rver on $S3_URL did not list bucket $bucket within 15 s: $(tail -n 20 "$S3_LOG")"
		fi
		_s3_log "s3rver exited at start (port $S3_PORT taken?); trying another port"
	done
	fail "s3rver would not start: $(tail -n 20 "$S3_LOG")"
}

s3_stop() {
	[[ -n $S3_PID ]] || return 0
	kill "$S3_PID" 2>/dev/null || true
	_wait_dead "$S3_PID" 5 || kill -9 "$S3_PID" 2>/dev/null || true
	wait "$S3_PID" 2>/dev/null || true
	S3_PID=""
}

# ---- s3fs ---------------------------------------------------------------------

declare -A _S3FS_PID=() # mountpoint -> s3fs pid
declare -A _S3FS_LOG=() # mountpoint -> s3fs log
S3FS_PID=""

_fusermount_u() { # [-z] MNT
	fusermount3 -u "$@" 2>/dev/null || fusermount -u "$@" 2>/dev/null
}

s3fs_mount() { # BUCKET DIR [EXTRA_OPTS]
	local bucket=$1 dir=$2 extra=${3:-} pw=$T/s3fs.passwd log i
	mkdir -p -- "$dir"
	dir=$(cd "$dir" && pwd)
	(umask 077 && printf '%s:%s\n' "$S3_KEY" "$S3_SECRET" >"$pw")
	chmod 600 -- "$pw"
	log=$T/s3fs.$(basename "$dir").log
	# stat_cache_expire=1: another node's new files show up within a second.
	s3fs "$bucket" "$dir" -f \
		-o "url=$S3_URL,use_path_request_style,passwd_file=$pw,stat_cache_expire=1,dbglevel=warn${extra:+,$extra}" \
		</dev/null >"$log" 2>&1 &
	S3FS_PID=$!
	_S3FS_PID[$dir]=$S3FS_PID
	_S3FS_LOG[$dir]=$log
	for ((i = 0; i < 150; i++)); do
		if mountpoint -q "$dir"; then
			return 0
		fi
		_alive "$S3FS_PID" || fail "s3fs $bucket $dir exited before mounting: $(tail -n 20 "$log")"
		sleep 0.1
	done
	fail "s3fs $bucket $dir: not mounted after 15 s: $(tail -n 20 "$log")"
}

s3fs_umount() { # DIR
	local dir pid
	dir=$(cd "$1" && pwd)
	pid=${_S3FS_PID[$dir]:-}
	_fusermount_u "$dir" || fail "fusermount -u $dir (s3fs) failed"
	if [[ -n $pid ]]; then
		_wait_dead "$pid" 10 || fail "s3fs $pid still running 10 s after unmounting $dir"
		wait "$pid" 2>/dev/null || true
	fi
	unset "_S3FS_PID[$dir]"
}

# ---- exit -------------------------------------------------------------------

_s3_exit() {
	local rc=$? m p
	set +e
	trap - ERR # exiting: (exit "$rc") below is not a failed command
	# lsnfs mounts first: their archive may be an s3fs mount.
	for m in "${_MOUNTED[@]}"; do
		mountpoint -q "$m" 2>/dev/null && { fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null; }
	done
	for p in "${_PIDS[@]}"; do
		_wait_dead "$p" 5 || kill -9 "$p" 2>/dev/null
	done
	if ((rc != 0)); then
		for m in "${!_S3FS_LOG[@]}"; do
			if [[ -s ${_S3FS_LOG[$m]} ]]; then
				printf -- '--- s3fs log for %s (last 10 lines):\n' "$m" >&2
				tail -n 10 -- "${_S3FS_LOG[$m]}" >&2
			fi
		done
		if [[ -n $S3_LOG && -s $S3_LOG ]]; then
			printf -- '--- s3rver log (last 10 lines):\n' >&2
			tail -n 10 -- "$S3_LOG" | sed 's/\x1b\[[0-9;]*m//g' >&2
		fi
	fi
	for m in "${!_S3FS_PID[@]}"; do
		if mountpoint -q "$m" 2>/dev/null || ! stat "$m" >/dev/null 2>&1; then
			_fusermount_u "$m" || _fusermount_u -z "$m"
		fi
		_wait_dead "${_S3FS_PID[$m]}" 5 || kill -9 "${_S3FS_PID[$m]}" 2>/dev/null
		mountpoint -q "$m" 2>/dev/null && _fusermount_u -z "$m"
	done
	s3_stop
	(exit "$rc")
	"$_S3_NEXT_EXIT"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	# Run directly: install only.
	set -euo pipefail
	: "${BUILD:=$(cd "$(dirname "$0")/../.." && pwd)/build}"
	s3_install
	echo "s3-setup: ready: $(s3_versions)"
	exit 0
fi

if declare -F _trim_exit >/dev/null; then
	_S3_NEXT_EXIT=_trim_exit
else
	_S3_NEXT_EXIT=_cleanup
fi
trap _s3_exit EXIT
