#!/usr/bin/env python3
"""tests/powerloss/selftest.py PLFS - plfs loses exactly what was not synced.

Mounts plfs on a temp dir, makes synced and unsynced changes, cuts power
(SIGUSR1), mounts it again and checks: fsynced data stays, data written
after the fsync goes, a file created without an fsync of its directory
goes, and unsynced rename, unlink and truncate are undone.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time


def mount(plfs, backing, mnt):
    p = subprocess.Popen([plfs, backing, mnt], stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.ismount(mnt):
            return p
        time.sleep(0.02)
    sys.exit("FAILED: plfs did not mount")


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def write(path, data, sync=False):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.write(fd, data)
    if sync:
        os.fsync(fd)
    os.close(fd)


def main():
    plfs = sys.argv[1]
    root = tempfile.mkdtemp(prefix="plfs-selftest.")
    backing, mnt = os.path.join(root, "b"), os.path.join(root, "m")
    os.mkdir(backing)
    os.mkdir(mnt)
    p = mount(plfs, backing, mnt)
    try:
        m = lambda n: os.path.join(mnt, n)
        write(m("kept"), b"synced", sync=True)
        write(m("renamed"), b"r", sync=True)
        write(m("unlinked"), b"u", sync=True)
        write(m("truncated"), b"0123456789", sync=True)
        os.mkdir(m("dir"))
        fsync_path(mnt)
        write(m("kept"), b"+unsynced")
        write(m("new"), b"data", sync=True)          # data synced, name not
        os.rename(m("renamed"), m("renamed2"))
        os.unlink(m("unlinked"))
        os.truncate(m("truncated"), 3)
        write(m("dir/inner"), b"in", sync=True)
        fsync_path(m("dir"))                          # this name is durable
        before = {n: open(m(n), "rb").read() for n in ("kept", "new", "renamed2", "truncated")}
        assert before == {"kept": b"synced+unsynced", "new": b"data", "renamed2": b"r",
                          "truncated": b"012"}, before
        p.send_signal(signal.SIGUSR1)
        for _ in range(200):
            if os.path.exists(os.path.join(backing, ".plfs-cut")):
                break
            time.sleep(0.02)
        subprocess.run(["fusermount3", "-u", mnt], check=True)
        p.wait()
        p = mount(plfs, backing, mnt)
        got = sorted(os.listdir(mnt))
        want = ["dir", "kept", "renamed", "truncated", "unlinked"]
        if got != want:
            sys.exit("FAILED: after the cut the names are %r, expected %r" % (got, want))
        checks = {"kept": b"synced", "renamed": b"r", "unlinked": b"u", "truncated": b"0123456789",
                  "dir/inner": b"in"}
        for n, want in checks.items():
            data = open(m(n), "rb").read()
            if data != want:
                sys.exit("FAILED: %s holds %r after the cut, expected %r" % (n, data, want))
        print("plfs selftest: ok (unsynced data, names, rename, unlink and truncate undone; synced kept)")
    finally:
        subprocess.run(["fusermount3", "-u", mnt], stderr=subprocess.DEVNULL)
        p.wait()
        subprocess.run(["rm", "-rf", root])


if __name__ == "__main__":
    main()
