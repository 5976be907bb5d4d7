#!/usr/bin/env bash
# The programs behave like their neighbours: --version and --help on all four
# (the version from the one VERSION file), a bad invocation prints one line
# saying what is wrong plus "Try 'PROG --help'", mkfs.lsnfs creates missing
# parent directories of STORE, and the bash completions of lsnfsctl and
# mkfs.lsnfs (as `make install` ships them) complete commands, options,
# fixed words, directories and a log's hold names on a real mount.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"

VERSION=$(cat "$ROOT/VERSION")
[[ -n $VERSION ]] || fail "VERSION is empty"
MOUNTH=$BUILD/mount.lsnfs
[[ -x $MOUNTH ]] || fail "$MOUNTH not built (make all builds it from mount-helpers/mount.lsnfs)"

note "--version: 'PROG (lsnfs) $VERSION' on stdout, exit 0 (the daemon: 'lsnfs $VERSION ...')"
for p in "$MKFS" "$CTL" "$MOUNTH"; do
	name=${p##*/}
	for opt in --version -V; do
		out=$("$p" "$opt") || fail "$name $opt: exit $?"
		assert_eq "$out" "$name (lsnfs) $VERSION" "$name $opt"
	done
done
out=$("$LSNFS" --version) || fail "lsnfs --version: exit $?"
assert_match "$out" "^lsnfs $VERSION( |$)" "lsnfs --version"

note "--help: the usage on stdout, exit 0, mentioning --version"
for p in "$LSNFS" "$MKFS" "$CTL" "$MOUNTH"; do
	name=${p##*/}
	out=$("$p" --help) || fail "$name --help: exit $?"
	assert_match "$(head -n1 <<<"$out")" "^usage: $name " "$name --help, first line"
	if [[ $name != lsnfs ]]; then # the daemon's usage is not this branch's to change
		grep -q -- '--version' <<<"$out" || fail "$name --help does not mention --version: $out"
	fi
done

# bad_usage RC ERE PROG ARGS...: exit RC, nothing on stdout, stderr exactly
# "PROG: <matches ERE>" and "Try 'PROG --help' for more information.".
bad_usage() {
	local want=$1 ere=$2 p=$3 name=${3##*/} rc=0 out err
	shift 3
	out=$("$p" "$@" 2>"$T/err") || rc=$?
	err=$(cat "$T/err")
	assert_eq "$rc" "$want" "$name $* exit status"
	assert_eq "$out" "" "$name $* stdout"
	assert_eq "$(wc -l <<<"$err")" "2" "$name $*: lines on stderr ($err)"
	assert_match "$(head -n1 <<<"$err")" "^$name: $ere" "$name $*: the error line"
	assert_eq "$(tail -n1 <<<"$err")" "Try '$name --help' for more information." "$name $*: second line"
}
note "usage errors: one line plus \"Try 'PROG --help'\""
bad_usage 2 "missing STORE" "$MKFS"
bad_usage 2 "too many arguments" "$MKFS" "$T/a" "$T/b"
bad_usage 2 "unknown or incomplete option '--bogus'" "$MKFS" --bogus "$T/a"
bad_usage 2 "mode must be" "$MKFS" --mode both "$T/a"
bad_usage 2 "missing COMMAND" "$CTL"
bad_usage 2 "unknown command 'bogus'" "$CTL" bogus
bad_usage 2 "status: unknown option '--bogus'" "$CTL" status / --bogus
bad_usage 2 "unknown option '--bogus'" "$LSNFS" --bogus "$T/s" "$T/m"
bad_usage 2 "unknown option '-o nosuch'" "$LSNFS" "$T/s" "$T/m" -o ro,nosuch
bad_usage 1 "missing STORE and MOUNTPOINT" "$MOUNTH"
bad_usage 1 "missing MOUNTPOINT" "$MOUNTH" "$T/s"
bad_usage 1 "unknown option '--bogus'" "$MOUNTH" --bogus "$T/s" "$T/m"
bad_usage 1 "unknown option '-q'" "$MOUNTH" -q "$T/s" "$T/m"
[[ ! -e $T/a ]] || fail "a refused mkfs.lsnfs created $T/a"

note "mkfs.lsnfs creates missing parent directories of STORE (and refuses a file on the way)"
"$MKFS" "$T/deep/er/store" >/dev/null
[[ -f $T/deep/er/store/lsnfs.store ]] || fail "no store in $T/deep/er/store: $(ls -R "$T/deep")"
assert_eq "$(stat -c %a "$T/deep/er")" "755" "mode of a created parent"
"$MKFS" "$T/deep/er/two/" >/dev/null
[[ -f $T/deep/er/two/lsnfs.store ]] || fail "no store in $T/deep/er/two (STORE given with a trailing /)"
touch "$T/file"
rc=0
out=$("$MKFS" "$T/file/x/store" 2>&1) || rc=$?
assert_eq "$rc" "1" "mkfs.lsnfs under a regular file: exit status"
assert_match "$out" "^mkfs.lsnfs: $T/file/x/store: .*Not a directory$" "mkfs.lsnfs under a regular file"
(cd "$T" && "$MKFS" rel/store >/dev/null) || fail "mkfs.lsnfs rel/store from $T"
[[ -f $T/rel/store/lsnfs.store ]] || fail "relative STORE with a missing parent"

# ---- completion -------------------------------------------------------------
D=$T/dest
ops_make DESTDIR="$D" install >"$T/install.log" 2>&1 || fail "make install: $(tail -n 5 "$T/install.log")"
COMP=$D/usr/local/share/bash-completion/completions
for c in lsnfsctl mkfs.lsnfs; do
	[[ -f $COMP/$c ]] || fail "make install did not install the completion $COMP/$c"
done

# complete FILE PROG WORD... : the candidates bash offers for the last WORD
# (the cursor at its end), one per line, sorted; PROG is found on PATH.
complete_words() {
	local file=$1
	shift
	PATH=$BUILD:$PATH bash --norc --noprofile -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		fn=$(complete -p "$1" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
		"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$file" "$@" | sed '/^$/d' | sort
}
ctl_complete() { complete_words "$COMP/lsnfsctl" lsnfsctl "$@"; }
mkfs_complete() { complete_words "$COMP/mkfs.lsnfs" mkfs.lsnfs "$@"; }
lines() { printf '%s\n' "$@"; }

note "lsnfsctl completion: every command in lsnfsctl --help, options, words, paths"
cmds=$("$CTL" --help | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' | sort -u)
for c in status trim snapshot hold persisted seal mode metrics remove-log; do
	grep -qx "$c" <<<"$cmds" || fail "lsnfsctl --help does not list $c: $cmds"
done
assert_eq "$(ctl_complete '')" "$(printf '%s\n' $cmds help --help --version | sort)" "lsnfsctl <TAB>"
assert_eq "$(ctl_complete s)" "$(lines seal snapshot status)" "lsnfsctl s<TAB>"
assert_eq "$(ctl_complete status "$T/M" --)" "$(lines --help --json)" "lsnfsctl status MNT --<TAB>"
assert_eq "$(ctl_complete snapshot x 5 f --)" "$(lines --archived --help --timeout)" "snapshot ... --<TAB>"
assert_eq "$(ctl_complete mode "$T" '')" "$(lines cluster single)" "lsnfsctl mode MNT <TAB>"
assert_eq "$(ctl_complete trim "$T" s)" "safe" "lsnfsctl trim LOG s<TAB>"
assert_eq "$(ctl_complete snapshot x 5 --timeout '')" "" "after --timeout: a number, nothing offered"

mount_fs "$T/deep/er/store" "$T/M"
mkdir "$T/M/p0" "$T/M/p1"
printf 'a\nb\nc\n' >"$T/M/p0/append.lines"
setfattr -n user.lsnfs.hold.backup -v 2 "$T/M/p0"
setfattr -n user.lsnfs.hold.replica-2 -v 1 "$T/M/p0"
assert_eq "$(ctl_complete status "$T/M/p")" "$(lines "$T/M/p0" "$T/M/p1")" "lsnfsctl status <dir TAB>"
assert_eq "$(ctl_complete hold "$T/M/p0" '')" "$(lines backup replica-2)" "lsnfsctl hold LOG <TAB>: its holds"
assert_eq "$(ctl_complete hold "$T/M/p1" '')" "" "lsnfsctl hold LOG-without-holds <TAB>"
assert_eq "$(ctl_complete hold "$T/M/p0" backup '')" "--remove" "lsnfsctl hold LOG NAME <TAB>"
assert_eq "$(ctl_complete remove-log "$T/M" '')" "$(lines p0 p1)" "lsnfsctl remove-log MNT <TAB>: its logs"
assert_eq "$(ctl_complete remove-log "$T/M" p0 --)" "$(lines --help --yes)" "lsnfsctl remove-log MNT LOG --<TAB>"
assert_eq "$(ctl_complete metrics "$T/M" '')" "" "lsnfsctl metrics MNT <TAB>"
touch "$T/state.bin"
assert_eq "$(ctl_complete snapshot "$T/M/p0" 3 "$T/state.")" "$T/state.bin" "snapshot LOG LSN <file TAB>"
umount_fs "$T/M"

note "mkfs.lsnfs completion: the options in mkfs.lsnfs --help, their values, STORE a directory"
want=$("$MKFS" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
for o in --mode --archive --segment-size --node-id --help --version; do
	grep -qx -- "$o" <<<"$want" || fail "mkfs.lsnfs --help does not list $o"
done
assert_eq "$(mkfs_complete --)" "$want" "mkfs.lsnfs --<TAB>"
assert_eq "$(mkfs_complete --mode '')" "$(lines cluster single)" "mkfs.lsnfs --mode <TAB>"
assert_eq "$(mkfs_complete --mode=c)" "cluster" "mkfs.lsnfs --mode=c<TAB>"
assert_eq "$(mkfs_complete --archive "$T/dee")" "$T/deep" "mkfs.lsnfs --archive <dir TAB>"
assert_eq "$(mkfs_complete --node-id '')" "" "mkfs.lsnfs --node-id <TAB>"
assert_eq "$(mkfs_complete --mode single "$T/re")" "$T/rel" "mkfs.lsnfs ... <STORE TAB>"

note "bash-completion's loader finds them where make install put them"
if [[ ! -r /usr/share/bash-completion/bash_completion ]]; then
	note "installing bash-completion (apt-get)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bash-completion >/dev/null 2>&1 || true
fi
if [[ -r /usr/share/bash-completion/bash_completion ]]; then
	got=$(BASH_COMPLETION_USER_DIR=$D/usr/local/share/bash-completion PATH=$BUILD:$PATH \
		bash --norc --noprofile -c 'source /usr/share/bash-completion/bash_completion
			__load_completion lsnfsctl && __load_completion mkfs.lsnfs
			complete -p lsnfsctl mkfs.lsnfs')
	assert_eq "$got" $'complete -F _lsnfsctl lsnfsctl\ncomplete -F _mkfs_lsnfs mkfs.lsnfs' "loaded completions"
else
	echo "SKIP: bash-completion is not installed and apt-get could not install it: the loader is not checked"
fi

ops_make DESTDIR="$D" uninstall >"$T/uninstall.log" 2>&1 || fail "make uninstall: $(tail -n 5 "$T/uninstall.log")"
[[ ! -e $COMP/lsnfsctl && ! -e $COMP/mkfs.lsnfs ]] || fail "make uninstall left a completion"
finish
