# bash completion for mkfs.lsnfs(8).  `make install` puts it in
# $(PREFIX)/share/bash-completion/completions/mkfs.lsnfs, where
# bash-completion loads it on first use; without bash-completion, `source` it.
#
# The option names come from `mkfs.lsnfs --help`, so a new option completes
# without editing this file; the values of the options known here are
# completed (--mode single|cluster, --archive DIR), STORE as a directory.

_mkfs_lsnfs() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local prog=${COMP_WORDS[0]} opt=''

	COMPREPLY=()
	# --opt VALUE and --opt=VALUE (bash splits at '=' when it is in COMP_WORDBREAKS).
	if [[ $cur == --*=* ]]; then
		opt=${cur%%=*}
		cur=${cur#*=}
	elif [[ $prev == = && $COMP_CWORD -ge 2 ]]; then
		opt=${COMP_WORDS[COMP_CWORD-2]}
	elif [[ $prev == --* ]]; then
		opt=$prev
	fi
	case $opt in
	--mode)
		COMPREPLY=($(compgen -W 'single cluster' -- "$cur"))
		return 0
		;;
	--archive)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return 0
		;;
	--segment-size | --node-id)
		return 0 # a number, a name: nothing to offer
		;;
	esac
	if [[ $cur == -* ]]; then
		local opts
		opts=$("$prog" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u)
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return 0
	fi
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen -d -- "$cur")
	return 0
}
complete -F _mkfs_lsnfs mkfs.lsnfs
