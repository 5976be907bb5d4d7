# tests/mounted/lib_ns.sh - sourced first (before lib.sh) by a test that
# must run in a private mount namespace: it re-executes the test there, so
# its mounts (overlays, bind mounts) vanish with it and the machine's stay
# untouched.
if [[ -z ${LSNFS_TEST_IN_NS:-} ]]; then
	command -v unshare >/dev/null || { echo "FAILED: unshare (util-linux) is needed" >&2; exit 1; }
	exec unshare -m --propagation private env LSNFS_TEST_IN_NS=1 bash "$0" "$@"
fi
