#!/usr/bin/env python3
"""tests/stress/damage.py - the damaged-store series.

    damage.py --build DIR --trials N [--seed S]

Two pristine stores are made once: one unmounted cleanly (data in SST
files), one left by kill -9 after sync=always writes (data in the WAL),
killed once its control file claims every acknowledged record.  (The file
claims durable tails up to 200 ms late, storage/control.h; a truncation of
the WAL that takes records acknowledged within that window looks exactly
like a power cut and cannot be told from one - README, Reliability.)
Each trial copies one, damages it at random - flips bytes in, truncates,
or deletes one of its RocksDB files (WAL, SST, MANIFEST, CURRENT, OPTIONS)
or its control file - and mounts it.  A trial passes when the daemon
either refuses to mount with a message (exit 1, no signal), or mounts with
every log at its acknowledged tail and every read giving back exactly the
bytes written or an error (EIO, EBADMSG...); never a signal, a hang (20 s
per step) or wrong bytes.  Prints how many trials were refused, mounted
whole, and mounted with read errors.
"""
import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

STEP = 20  # seconds any mount, read or unmount may take


class Fail(Exception):
    pass


def rec_p(i):
    return b"%d\n" % i


def rec_q(i):
    return (b"q%05d|" % i) + bytes([97 + i % 26]) * (i * 37 % 1500) + b"\n"


P_TAIL, Q_TAIL = 20000, 400


def wait_mount(mnt, proc):
    end = time.monotonic() + STEP
    while time.monotonic() < end:
        if os.path.ismount(mnt):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    raise Fail("mount did not finish in %d s" % STEP)


def start(build, store, mnt, opts="trim_delay=0"):
    log = open(store + ".log", "w")
    p = subprocess.Popen([os.path.join(build, "lsnfs"), store, mnt, "-f", "-o", opts],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    log.close()
    return p


def stop(proc, mnt, kill=False):
    if kill:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        subprocess.run(["fusermount3", "-uz", mnt], stderr=subprocess.DEVNULL)
        return 0
    subprocess.run(["fusermount3", "-u", mnt], stderr=subprocess.DEVNULL)
    try:
        return proc.wait(timeout=STEP)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        subprocess.run(["fusermount3", "-uz", mnt], stderr=subprocess.DEVNULL)
        raise Fail("daemon still running %d s after unmount" % STEP)


def make_pristine(build, root, name, crash):
    store = os.path.join(root, name)
    mnt = os.path.join(root, name + ".mnt")
    os.makedirs(mnt)
    subprocess.run([os.path.join(build, "mkfs.lsnfs"), "--segment-size", "65536", store],
                   check=True, stdout=subprocess.DEVNULL)
    p = start(build, store, mnt, "sync=always,trim_delay=0")
    if not wait_mount(mnt, p):
        raise Fail("pristine store %s did not mount" % name)
    os.mkdir(os.path.join(mnt, "p"))
    os.mkdir(os.path.join(mnt, "q"))
    with open(os.path.join(mnt, "p", "append.lines"), "wb") as f:
        f.write(b"".join(rec_p(i) for i in range(1, P_TAIL + 1)))
    fd = os.open(os.path.join(mnt, "q", "append"), os.O_WRONLY)
    for i in range(1, Q_TAIL + 1):
        os.write(fd, rec_q(i))
    os.close(fd)
    snaps = os.path.join(mnt, "q", "snapshots")
    with open(os.path.join(snaps, ".s"), "wb") as f:
        f.write(b"snap" * 5000)
    os.rename(os.path.join(snaps, ".s"), os.path.join(snaps, "%020d.snap" % 100))
    if crash:
        claims = ("log p %d " % P_TAIL, "log q %d " % Q_TAIL)
        control = os.path.join(store, "lsnfs.control")
        deadline = time.time() + STEP
        while not all(c in open(control).read() for c in claims):
            if time.time() > deadline:
                raise Fail("the control file never claimed the acknowledged tails: " +
                           open(control).read())
            time.sleep(0.05)
    stop(p, mnt, kill=crash)
    os.rmdir(mnt)
    return store


def damage(store, rng):
    """Damage one file; returns what was done."""
    files = []
    for d, _, names in os.walk(os.path.join(store, "db")):
        for n in names:
            if n != "LOCK" and not n.startswith("LOG"):
                files.append(os.path.join(d, n))
    files.append(os.path.join(store, "lsnfs.control"))
    f = rng.choice(files)
    size = os.path.getsize(f)
    what = rng.choice(["flip", "flip", "truncate", "delete"])
    rel = os.path.relpath(f, store)
    if what == "delete":
        os.unlink(f)
        return "deleted %s" % rel
    if what == "truncate" or size == 0:
        n = rng.randrange(0, size + 1) if size else 0
        os.truncate(f, n)
        return "truncated %s from %d to %d bytes" % (rel, size, n)
    flips = rng.randint(1, 8)
    with open(f, "r+b") as fh:
        for _ in range(flips):
            at = rng.randrange(size)
            fh.seek(at)
            b = fh.read(1)
            fh.seek(at)
            fh.write(bytes([b[0] ^ (1 << rng.randrange(8))]))
    return "flipped %d bit(s) in %s (%d bytes)" % (flips, rel, size)


def check_reads(mnt):
    """Every record read is exactly what was written; errors are allowed.
    Returns the number of read errors."""
    errors = 0
    for log, rec, tail in (("p", rec_p, P_TAIL), ("q", rec_q, Q_TAIL)):
        d = os.path.join(mnt, log)
        if not os.path.isdir(d):
            raise Fail("mounted without log %s" % log)
        got_tail = int(os.getxattr(d, "user.lsnfs.tail_lsn"))
        if got_tail != tail:
            raise Fail("mounted with log %s at tail %d, acknowledged %d" % (log, got_tail, tail))
        for name in sorted(os.listdir(os.path.join(d, "segments"))):
            first = int(name[:-4])
            try:
                with open(os.path.join(d, "segments", name), "rb") as fh:
                    data = fh.read()
                with open(os.path.join(d, "index", name[:-4] + ".index"), "rb") as fh:
                    index = fh.read()
            except OSError:
                errors += 1
                continue
            expect_lsn = first
            for line in index.splitlines():
                lsn, off, ln = map(int, line.split())
                if lsn != expect_lsn:
                    raise Fail("%s index %s: LSN %d where %d was expected" % (log, name, lsn, expect_lsn))
                if data[off:off + ln] != rec(lsn):
                    raise Fail("%s LSN %d reads back wrong bytes" % (log, lsn))
                expect_lsn += 1
        snap = os.path.join(d, "snapshots", "%020d.snap" % 100)
        if log == "q":
            try:
                with open(snap, "rb") as fh:
                    if fh.read() != b"snap" * 5000:
                        raise Fail("snapshot reads back wrong bytes")
            except FileNotFoundError:
                raise Fail("mounted without the committed snapshot")
            except OSError:
                errors += 1
    return errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--trials", type=int, default=15)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    print("damage: seed %d" % seed)
    root = tempfile.mkdtemp(prefix="lsnfs-damage.")
    counts = {"refused": 0, "mounted whole": 0, "mounted, reads report errors": 0}
    try:
        pristine = [make_pristine(args.build, root, "clean", False),
                    make_pristine(args.build, root, "crashed", True)]
        work, mnt = os.path.join(root, "work"), os.path.join(root, "mnt")
        os.makedirs(mnt)
        for trial in range(args.trials):
            src = rng.choice(pristine)
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(src, work)
            what = damage(work, rng)
            p = start(args.build, work, mnt)
            try:
                mounted = wait_mount(mnt, p)
                if not mounted:
                    rc = p.wait()
                    out = open(work + ".log").read().strip()
                    if rc < 0:
                        raise Fail("daemon died of signal %d at mount" % -rc)
                    if rc != 1 or not out:
                        raise Fail("refused with exit %d and message %r" % (rc, out))
                    counts["refused"] += 1
                    continue
                errors = check_reads(mnt)
                if p.poll() is not None:
                    raise Fail("daemon exited (%s) while reading" % p.returncode)
                rc = stop(p, mnt)
                if rc < 0:
                    raise Fail("daemon died of signal %d at unmount" % -rc)
                counts["mounted, reads report errors" if errors else "mounted whole"] += 1
            except Fail as e:
                if p.poll() is None:
                    stop(p, mnt, kill=True)
                print("FAILED: damage trial %d (seed %d, %s from the %s store): %s" %
                      (trial, seed, what, os.path.basename(src), e))
                print(open(work + ".log").read()[-1500:])
                return 1
        print("damage: %d trials: %s" % (args.trials, ", ".join("%s %d" % kv for kv in counts.items())))
        return 0
    finally:
        subprocess.run(["fusermount3", "-uz", os.path.join(root, "mnt")], stderr=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
