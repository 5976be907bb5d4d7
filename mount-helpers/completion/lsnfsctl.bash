# bash completion for lsnfsctl(8).  `make install` puts it in
# $(PREFIX)/share/bash-completion/completions/lsnfsctl, where bash-completion
# loads it on first use; without bash-completion, `source` it.
#
# The command names come from `lsnfsctl --help` (lines "  COMMAND ARGS..."),
# so a new command completes without editing this file; the arguments of the
# commands known here are completed by position: MOUNTPOINT and
# MOUNTPOINT/LOG as directories, FILE as a file, fixed words (safe, single,
# cluster, --remove, ...) as words, hold names from the log's xattrs.

_lsnfsctl() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local prog=${COMP_WORDS[0]} cmd='' npos=0 i w log=''

	# Which command, and how many positional arguments precede the cursor.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ -z $cmd ]]; then
			[[ $w == -* ]] || cmd=$w
			continue
		fi
		case $w in
		--timeout) ((i++)) ;;
		-*) ;;
		*)
			npos=$((npos + 1))
			((npos == 1)) && log=$w
			;;
		esac
	done

	COMPREPLY=()
	if [[ -z $cmd ]]; then
		local cmds
		cmds=$("$prog" --help 2>/dev/null | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' | sort -u)
		COMPREPLY=($(compgen -W "$cmds help --help --version" -- "$cur"))
		return 0
	fi
	[[ $prev == --timeout ]] && return 0 # a number of seconds

	local flags=''
	case $cmd in
	status) flags='--json' ;;
	snapshot) flags='--archived --timeout' ;;
	hold) flags='--remove' ;;
	remove-log) flags='--yes' ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$flags --help" -- "$cur"))
		return 0
	fi

	local words='' what=dirs
	case $cmd:$npos in
	help:*) what=none ;;
	*:0) what=dirs ;;
	trim:1) what=words words='safe' ;;
	mode:1) what=words words='single cluster' ;;
	snapshot:1 | persisted:1) what=none ;;
	snapshot:2) what=files ;;
	hold:1)
		# The holds the log has now (user.lsnfs.hold.NAME).
		what=words
		words=$(getfattr --absolute-names -d -m '^user\.lsnfs\.hold\.' -- "$log" 2>/dev/null |
			sed -n 's/^user\.lsnfs\.hold\.\([^=]*\)=.*/\1/p')
		;;
	hold:2) what=words words='--remove' ;;
	remove-log:1)
		# The logs of the mount point given before.
		what=words
		words=$(cd -- "$log" 2>/dev/null && for d in */; do [[ -d $d ]] && printf '%s\n' "${d%/}"; done)
		;;
	status:* | trim:* | mode:* | snapshot:* | persisted:* | seal:* | hold:* | metrics:* | remove-log:*)
		what=none ;;
	*) what=files ;; # a command this file does not know: offer paths
	esac
	case $what in
	dirs)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		;;
	files)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		;;
	words) COMPREPLY=($(compgen -W "$words" -- "$cur")) ;;
	esac
	return 0
}
complete -F _lsnfsctl lsnfsctl
