#!/usr/bin/env python3
"""tests/stress/archive_faults.py - archive faults against a cluster node, with a monitor.

    archive_faults.py --build DIR --rounds N [--seed S] [--selftest] [--keep]

One store in cluster mode whose archive directory lives on its own small
tmpfs (in a private mount namespace: the script re-executes itself under
`unshare -m`, so every mount it makes vanishes with it, even on failure).
The tmpfs is bind-mounted at the archive path, so the archive can be
unmounted and mounted again without losing what it holds.  One writer per
log appends records (sync=always); a consumer sets persisted_lsn and
publishes a snapshot now and then (and unlinks old ones); auto_trim=1 and
trim_delay=1 make trims happen.  archive_command is a script that obeys a
mode file, so it can be made to fail or hang while mounted.

Each round injects one fault, chosen by a seeded RNG (the first rounds go
through every kind once), lets the node run with it, then heals it:
  failing     archive_command exits 1
  hanging     archive_command sleeps past archive_timeout (2 s)
  read-only   the archive is remounted read-only
  full        the archive filesystem is filled to the last byte
  deleted     an archived copy (the newest of a log, which lsnfs has
              confirmed) is deleted behind lsnfs's back
  unmounted   the archive is unmounted (an empty mount point), or its
              marker is removed

A monitor thread samples every log every ~75 ms: trim_point, the first
segment present (must be trim_point + 1), and what the archive really
holds, read from the tmpfs itself, never from lsnfs: the highest LSN whose
<log>/<lsn20>.snap.zst decompresses to exactly the snapshot the consumer
published.  Invariant: trim_point <= that LSN.  The one exception is a copy
the campaign deleted itself: it is deleted while a hold pins the trim point
(the hold takes the node's trim lock, so no trim is in flight), and only
the trim point reached before that is tolerated; lsnfs must never trim
further on the strength of the deleted copy, and must notice the loss
(re-archive the copy, or log that it is gone) within NOTICE_SECONDS.

At the end everything is healed; trims must resume (each log's trim point
advances again); every acknowledged record not below the trim point is
verified byte for byte (tests/stress/verify.py); then the node is mounted
again with the default archive_timeout, a command is left hanging, and the
unmount must finish within 5 s and kill it.

--selftest shows the checks can fail: a monitor pointed at a copy of the
archive with the covering copies deleted, or one byte flipped, reports a
violation; the resume check fails while a hold pins the trim point.

Prints "archive-faults: rounds N faults {...} samples N violations 0 trims N";
exit 1 on any violation or failure.
"""
import argparse
import errno
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from campaign import Writer, snapshot_body, wait_for, xget, xset  # noqa: E402
from verify import LogVerifier, VerifyError, read_log, record  # noqa: E402

SEGMENT_SIZE = 16384
ARCHIVE_FS = "2m"          # the archive's tmpfs: small, so "full" is real
ARCHIVE_TIMEOUT = 2        # seconds; a hanging command is killed after this
SAMPLE_SECONDS = 0.075
NOTICE_SECONDS = 20        # the archiver re-checks confirmed copies every 10 s
RESUME_SECONDS = 25
UNMOUNT_SECONDS = 5
KINDS = ["failing", "hanging", "read-only", "full", "deleted", "unmounted"]
SNAP_RE = re.compile(r"^(\d{20})\.snap\.zst$")


def sh(*args, check=True):
    return subprocess.run(list(args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          check=check)


class ArchiveView:
    """What an archive directory really holds: log -> highest intact LSN.

    A copy is intact when its name is <lsn20>.snap.zst and it decompresses
    to exactly snapshot_body(log, lsn).  Results are cached per (inode,
    size, mtime), so each copy is decompressed once."""

    def __init__(self, root):
        self.root = root
        self.cache = {}

    def intact(self, log, lsn, path):
        try:
            st = os.stat(path)
        except OSError:
            return False
        key = (path, st.st_ino, st.st_size, st.st_mtime_ns)
        if key not in self.cache:
            p = subprocess.run(["zstd", "-dcq", path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            self.cache[key] = p.returncode == 0 and p.stdout == snapshot_body(log, lsn)
        return self.cache[key]

    def held(self, log):
        """Sorted LSNs of the intact copies of log."""
        d = os.path.join(self.root, log)
        try:
            names = os.listdir(d)
        except OSError:
            return []
        out = []
        for n in names:
            m = SNAP_RE.match(n)
            if m and self.intact(log, int(m.group(1)), os.path.join(d, n)):
                out.append(int(m.group(1)))
        return sorted(out)

    def highest(self, log):
        return max(self.held(log), default=0)


class Monitor(threading.Thread):
    """Samples trim_point against the archive; records every violation."""

    def __init__(self, mnt, logs, view):
        super().__init__(daemon=True)
        self.mnt, self.logs, self.view = mnt, logs, view
        self.tolerated = {}   # log -> trim point reached before the campaign deleted a copy
        self.last_tp = {}     # log -> last trim point seen
        self.samples = 0
        self.trims = 0
        self.violations = []
        self.stop = False
        self.fault = "none"   # the fault in force, for the messages
        self.lock = threading.Lock()  # guards tolerated, violations, counters

    def tolerate(self, log, tp):
        with self.lock:
            self.tolerated[log] = max(self.tolerated.get(log, 0), tp)

    def sample(self, log):
        """One sample of one log; returns a violation text or None."""
        d = os.path.join(self.mnt, log)
        # trim_point first, the archive after: a copy that appears in
        # between only makes the check looser, never a false alarm.
        tp = int(xget(d, "trim_point"))
        segs = sorted(os.listdir(os.path.join(d, "segments")))
        held = self.view.highest(log)
        with self.lock:
            self.samples += 1
            if tp > self.last_tp.get(log, 0):
                self.trims += 1
            self.last_tp[log] = max(self.last_tp.get(log, 0), tp)
            allowed = max(held, self.tolerated.get(log, 0))
        if segs and int(segs[0][:-4]) != tp + 1:
            # A trim may land between the two reads: look again.
            tp2 = int(xget(d, "trim_point"))
            segs = sorted(os.listdir(os.path.join(d, "segments")))
            if segs and int(segs[0][:-4]) != tp2 + 1 and tp2 == int(xget(d, "trim_point")):
                return "%s: first segment %s but trim_point %d" % (log, segs[0], tp2)
        if tp > allowed:
            return "%s: trim_point %d > highest LSN the archive really holds %d (held %s)" % (
                log, tp, held, self.view.held(log)[-3:])
        return None

    def run(self):
        while not self.stop:
            for log in self.logs:
                try:
                    v = self.sample(log)
                except OSError as e:
                    if e.errno in (errno.ENOTCONN, errno.ENOENT):
                        continue
                    v = "%s: sampling failed: %s" % (log, e)
                if v:
                    with self.lock:
                        self.violations.append("%.2f [fault: %s] %s" % (time.monotonic(), self.fault, v))
            time.sleep(SAMPLE_SECONDS)


class Consumer(threading.Thread):
    """Sets persisted_lsn to the tail and publishes snapshots; keeps a few."""

    KEEP = 4

    def __init__(self, mnt, logs):
        super().__init__(daemon=True)
        self.mnt, self.logs = mnt, logs
        self.paused = False
        self.stop = False
        self.error = None
        self.published = 0
        self.refused = 0      # unlinks refused
        self.pinned = set()   # (log, lsn) never unlinked (a copy deleted by the campaign)

    def publish(self, log):
        d = os.path.join(self.mnt, log)
        tail = int(xget(d, "tail_lsn"))
        if tail == 0:
            return None
        if tail > int(xget(d, "persisted_lsn")):
            xset(d, "persisted_lsn", str(tail))
        snaps = os.path.join(d, "snapshots")
        final = os.path.join(snaps, "%020d.snap" % tail)
        if os.path.exists(final):
            return tail
        stage = os.path.join(snaps, ".stage-%d" % tail)
        with open(stage, "wb") as f:
            f.write(snapshot_body(log, tail))
        os.rename(stage, final)
        self.published += 1
        return tail

    def prune(self, log):
        snaps = os.path.join(self.mnt, log, "snapshots")
        have = sorted(int(n[:20]) for n in os.listdir(snaps) if re.match(r"^\d{20}\.snap$", n))
        for lsn in have[:-self.KEEP]:
            if (log, lsn) in self.pinned:
                continue
            try:
                os.unlink(os.path.join(snaps, "%020d.snap" % lsn))
            except OSError as e:
                # EPERM: it still covers the trim point; the others: the
                # archive refused to remove its copy (a fault in progress).
                if e.errno not in (errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EIO,
                                   errno.ENOENT, errno.EACCES):
                    raise
                self.refused += 1

    def run(self):
        try:
            while not self.stop:
                if not self.paused:
                    for log in self.logs:
                        self.publish(log)
                        self.prune(log)
                time.sleep(random.uniform(0.2, 0.5))
        except OSError as e:
            self.error = "consumer: %s (%s)" % (e, e.filename)


class Rig:
    """The namespace-private mounts, the store, the daemon and its threads."""

    def __init__(self, args, root):
        self.args, self.root = args, root
        self.afs = os.path.join(root, "afs")             # the tmpfs
        self.backing = os.path.join(self.afs, "arch")    # what the archive holds
        self.archive = os.path.join(root, "archive")     # where lsnfs sees it
        self.store = os.path.join(root, "store")
        self.mnt = os.path.join(root, "mnt")
        self.cmd_mode = os.path.join(root, "cmd.mode")
        self.hang_pid = os.path.join(root, "cmd.hang")
        self.cmd = os.path.join(root, "cmd.sh")
        self.logfile = os.path.join(root, "daemon.log")
        self.filler = os.path.join(self.afs, "filler")
        self.proc = None
        for d in (self.afs, self.archive, self.mnt):
            os.makedirs(d)
        sh("mount", "-t", "tmpfs", "-o", "size=" + ARCHIVE_FS + ",mode=0755", "tmpfs", self.afs)
        os.makedirs(self.backing)
        self.bind()
        with open(self.cmd, "w") as f:
            f.write("#!/bin/sh\n"
                    "# archive_command for the fault campaign: obeys %s\n"
                    "mode=$(cat %s 2>/dev/null)\n"
                    "case $mode in\n"
                    "fail) echo \"injected failure for $2\" >&2; exit 1 ;;\n"
                    "hang) echo $$ > %s; exec sleep 3600 ;;\n"
                    "esac\n"
                    "test -s \"$1\"\n" % (self.cmd_mode, self.cmd_mode, self.hang_pid))
        os.chmod(self.cmd, 0o755)
        self.set_cmd("ok")
        subprocess.run([os.path.join(args.build, "mkfs.lsnfs"), "--segment-size", str(SEGMENT_SIZE),
                        "--mode", "cluster", "--archive", self.archive, "--node-id", "faults",
                        self.store], check=True, stdout=subprocess.DEVNULL)
        self.marker = os.path.join(self.backing, ".lsnfs-archive")
        self.logs = ["log1", "log2"]
        self.verifiers = {log: LogVerifier(log) for log in self.logs}
        self.view = ArchiveView(self.backing)
        self.writers = {}
        self.acked, self.sent = {}, {}
        self.monitor = self.consumer = None

    # ---- the archive's mounts ----
    def bind(self):
        sh("mount", "--bind", self.backing, self.archive)

    def set_cmd(self, mode):
        with open(self.cmd_mode + ".tmp", "w") as f:
            f.write(mode + "\n")
        os.rename(self.cmd_mode + ".tmp", self.cmd_mode)

    # ---- the daemon ----
    def start(self, timeout=ARCHIVE_TIMEOUT):
        opts = ["sync=always", "trim_delay=1", "auto_trim=1", "archive_timeout=%d" % timeout,
                "archive_command=%s %%p %%f" % self.cmd]
        with open(self.logfile, "a") as log:
            log.write("---- mount %s\n" % ",".join(opts))
            log.flush()
            self.proc = subprocess.Popen([os.path.join(self.args.build, "lsnfs"), self.store, self.mnt,
                                          "-f", "-o", ",".join(opts)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        wait_for(lambda: os.path.ismount(self.mnt) or self.proc.poll() is not None, 20, "mount")
        if self.proc.poll() is not None:
            raise VerifyError("daemon exited at mount with %s" % self.proc.returncode)

    def unmount(self, limit=20):
        """Unmount; returns the seconds it took the daemon to exit."""
        t0 = time.monotonic()
        subprocess.run(["fusermount3", "-u", self.mnt], stderr=subprocess.DEVNULL)
        try:
            self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            raise VerifyError("daemon still running %d s after unmount" % limit)
        took = time.monotonic() - t0
        if self.proc.returncode != 0:
            raise VerifyError("daemon exited %d after unmount" % self.proc.returncode)
        self.proc = None
        return took

    def close(self):
        for t in (self.monitor, self.consumer):
            if t:
                t.stop = True
        for w in self.writers.values():
            w.stop = True
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["fusermount3", "-uz", self.mnt], stderr=subprocess.DEVNULL, check=False)
        for m in (self.archive, self.afs):
            subprocess.run(["umount", "-l", m], stderr=subprocess.DEVNULL, check=False)

    # ---- load ----
    def start_load(self):
        for log in self.logs:
            if not os.path.isdir(os.path.join(self.mnt, log)):
                os.mkdir(os.path.join(self.mnt, log))
        # One writer per log: a fresh log's LSN n is the writer's seq n,
        # so what was trimmed is known exactly (the verifier's base).
        for wid, (log, kind) in enumerate(zip(self.logs, ["append", "lines"]), 1):
            file = {"append": "append", "lines": "append.lines"}[kind]
            w = Writer(wid, os.path.join(self.mnt, log, file), kind, True, self.acked.get(wid, 0) + 1)
            self.writers[wid] = w
            w.log = log
            w.start()
        self.consumer = Consumer(self.mnt, self.logs)
        self.consumer.start()
        self.monitor = Monitor(self.mnt, self.logs, self.view)
        self.monitor.start()

    def stop_load(self):
        self.consumer.stop = True
        self.consumer.join(30)
        for w in self.writers.values():
            w.stop = True
        for wid, w in self.writers.items():
            w.join(30)
            if w.is_alive():
                raise VerifyError("writer %d hangs" % wid)
            if w.error:
                raise VerifyError("writer %d: %s" % (wid, w.error))
            self.acked[wid] = max(self.acked.get(wid, 0), w.acked)
            self.sent[wid] = max(self.sent.get(wid, 0), w.sent)
        if self.consumer.error:
            raise VerifyError(self.consumer.error)

    def verify(self):
        n = 0
        for wid, w in self.writers.items():
            d = os.path.join(self.mnt, w.log)
            first, tail = int(xget(d, "first_lsn")), int(xget(d, "tail_lsn"))
            lv = self.verifiers[w.log]
            lv.base = {wid: first - 1}
            lv.history = {lsn: ws for lsn, ws in lv.history.items() if lsn >= first}
            recs = read_log(d)
            lv.verify(recs, first, tail, {wid: self.acked[wid]}, {wid: self.sent[wid]})
            n += len(recs)
        return n


class Faults:
    """Inject and heal the six kinds of fault."""

    def __init__(self, rig, rng):
        self.rig, self.rng = rig, rng
        self.counts = {k: 0 for k in KINDS}
        self.notices = []   # (log, lsn, deadline, old inode)
        self.detail = []

    def inject(self, kind):
        rig = self.rig
        self.counts[kind] += 1
        if kind == "failing":
            rig.set_cmd("fail")
        elif kind == "hanging":
            rig.set_cmd("hang")
        elif kind == "read-only":
            sh("mount", "-o", "remount,bind,ro", rig.archive)
        elif kind == "full":
            # Big blocks, then small ones: nothing is left at all.
            for name, size in ((rig.filler, 65536), (rig.filler + ".tail", 512)):
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                finally:
                    os.close(fd)
        elif kind == "deleted":
            self.delete_copy()
        elif kind == "unmounted":
            if self.rng.random() < 0.5:
                sh("umount", "-l", rig.archive)
                self.detail.append("unmounted")
            else:
                os.rename(rig.marker, rig.marker + ".away")
                self.detail.append("marker removed")

    def heal(self, kind):
        rig = self.rig
        if kind in ("failing", "hanging"):
            rig.set_cmd("ok")
        elif kind == "read-only":
            sh("mount", "-o", "remount,bind,rw", rig.archive)
        elif kind == "full":
            for f in (rig.filler, rig.filler + ".tail"):
                if os.path.exists(f):
                    os.unlink(f)
        elif kind == "deleted":
            rig.consumer.paused = False
        elif kind == "unmounted":
            if self.detail[-1] == "unmounted":
                rig.bind()
            else:
                os.rename(rig.marker + ".away", rig.marker)

    def delete_copy(self):
        """Delete the newest confirmed copy of a log; the consumer pauses, so
        no newer snapshot covers for it while lsnfs has not noticed."""
        rig = self.rig
        rig.consumer.paused = True
        log = self.rng.choice(rig.logs)
        d = os.path.join(rig.mnt, log)
        snaps = os.path.join(d, "snapshots")
        # Wait (briefly) for a confirmed copy newer than the trim point.
        end = time.monotonic() + 5
        lsn = None
        while time.monotonic() < end and lsn is None:
            tp = int(xget(d, "trim_point"))
            for n in sorted(os.listdir(snaps), reverse=True):
                if re.match(r"^\d{20}\.snap$", n) and int(n[:20]) > tp:
                    try:
                        yes = os.getxattr(os.path.join(snaps, n), "user.lsnfs.archived") == b"yes"
                    except OSError:
                        yes = False
                    if yes and os.path.exists(os.path.join(rig.backing, log, n + ".zst")):
                        lsn = int(n[:20])
                    break
            if lsn is None:
                time.sleep(0.1)
        if lsn is None:
            self.detail.append("deleted: no confirmed copy to delete")
            return
        rig.consumer.pinned.add((log, lsn))
        copy = os.path.join(rig.backing, log, "%020d.snap.zst" % lsn)
        # The hold takes the node's trim lock: once set, no trim is in
        # flight, and none goes past the trim point read under it.
        xset(d, "hold.faults", str(int(xget(d, "trim_point"))))
        tp = int(xget(d, "trim_point"))
        rig.monitor.tolerate(log, tp)
        ino = os.stat(copy).st_ino
        os.unlink(copy)
        os.removexattr(d, "user.lsnfs.hold.faults")
        self.notices.append((log, lsn, time.monotonic() + NOTICE_SECONDS, ino))
        self.detail.append("deleted %s/%d (trim point %d)" % (log, lsn, tp))

    def noticed(self, log, lsn, ino):
        """lsnfs noticed the loss: the copy is back (a new file), or its log says so."""
        copy = os.path.join(self.rig.backing, log, "%020d.snap.zst" % lsn)
        try:
            if os.stat(copy).st_ino != ino and self.rig.view.intact(log, lsn, copy):
                return True
        except OSError:
            pass
        with open(self.rig.logfile, errors="replace") as f:
            text = f.read()
        return re.search(r"log %s: (the archived copy of snapshot %d is gone|snapshot %d was marked "
                         r"archived but)" % (log, lsn, lsn), text) is not None

    def check_notices(self, final=False):
        for item in list(self.notices):
            log, lsn, deadline, ino = item
            if self.noticed(log, lsn, ino):
                self.notices.remove(item)
            elif final or time.monotonic() > deadline:
                if final:
                    while time.monotonic() < deadline:
                        if self.noticed(log, lsn, ino):
                            break
                        time.sleep(0.2)
                    else:
                        raise VerifyError("the copy of %s/%d deleted from the archive was not noticed "
                                          "within %d s" % (log, lsn, NOTICE_SECONDS))
                    self.notices.remove(item)
                else:
                    raise VerifyError("the copy of %s/%d deleted from the archive was not noticed "
                                      "within %d s" % (log, lsn, NOTICE_SECONDS))


def wait_trims_resume(rig, secs):
    """Every log's trim point advances past where it is now; raises if not."""
    start = {log: int(xget(os.path.join(rig.mnt, log), "trim_point")) for log in rig.logs}
    end = time.monotonic() + secs
    while time.monotonic() < end:
        now = {log: int(xget(os.path.join(rig.mnt, log), "trim_point")) for log in rig.logs}
        if all(now[log] > start[log] for log in rig.logs):
            return start, now
        time.sleep(0.1)
    raise VerifyError("trims did not resume within %d s after healing: trim points %s, were %s" %
                      (secs, now, start))


def check_violations(rig):
    if rig.consumer and rig.consumer.error:
        raise VerifyError(rig.consumer.error)
    for wid, w in rig.writers.items():
        if w.error or not w.is_alive() and not w.stop:
            raise VerifyError("writer %d stopped: %s" % (wid, w.error))
    with rig.monitor.lock:
        if rig.monitor.violations:
            raise VerifyError("monitor: %d violation(s), first: %s" %
                              (len(rig.monitor.violations), rig.monitor.violations[0]))


def unmount_while_hanging(rig):
    """Mounted with the default archive_timeout, a command hangs: unmount
    must finish within UNMOUNT_SECONDS and kill it."""
    if os.path.exists(rig.hang_pid):
        os.unlink(rig.hang_pid)
    rig.set_cmd("hang")
    rig.start(timeout=300)
    log = rig.logs[0]
    d = os.path.join(rig.mnt, log)
    c = Consumer(rig.mnt, rig.logs)
    # One more record of writer 1 (log1), so there is something new to snapshot.
    seq = rig.sent[1] + 1
    fd = os.open(os.path.join(d, "append"), os.O_WRONLY)
    os.write(fd, record(1, seq))
    os.close(fd)
    rig.acked[1] = rig.sent[1] = seq
    c.publish(log)
    wait_for(lambda: os.path.exists(rig.hang_pid) and open(rig.hang_pid).read().strip(), 15,
             "the archive command to start hanging")
    pid = int(open(rig.hang_pid).read())
    took = rig.unmount(limit=30)
    if took > UNMOUNT_SECONDS:
        raise VerifyError("unmount took %.1f s with a hanging archive_command (limit %d s)" %
                          (took, UNMOUNT_SECONDS))
    try:
        os.kill(pid, 0)
        alive = open("/proc/%d/stat" % pid).read().split()[2] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        alive = False
    if alive:
        raise VerifyError("the hanging archive_command (pid %d) outlived the unmount" % pid)
    rig.set_cmd("ok")
    return took


def run(args, rig):
    rng = random.Random(args.seed)
    faults = Faults(rig, rng)
    rig.start()
    rig.start_load()
    # Trims must be happening before faults mean anything.
    wait_trims_resume(rig, RESUME_SECONDS)
    order = list(KINDS)
    rng.shuffle(order)
    for r in range(args.rounds):
        kind = order[r] if r < len(order) else rng.choice(KINDS)
        rig.monitor.fault = kind
        faults.inject(kind)
        time.sleep(rng.uniform(1.5, 3.0))
        faults.heal(kind)
        rig.monitor.fault = "healed " + kind
        print("round %d: %s%s" % (r + 1, kind, (" (%s)" % faults.detail[-1]) if
                                  kind in ("deleted", "unmounted") and faults.detail else ""))
        time.sleep(rng.uniform(0.5, 1.0))
        faults.check_notices()
        check_violations(rig)
        if rig.proc.poll() is not None:
            raise VerifyError("daemon exited with %s during round %d (%s)" % (rig.proc.returncode, r, kind))
    faults.check_notices(final=True)
    # Healed: trims must resume.
    before, after = wait_trims_resume(rig, RESUME_SECONDS)
    rig.monitor.stop = True
    rig.monitor.join(5)
    check_violations(rig)
    rig.stop_load()
    records = rig.verify()
    rig.unmount()
    took = unmount_while_hanging(rig)
    rig.start()
    records += rig.verify()
    rig.unmount()
    m = rig.monitor
    print("archive-faults: deleted copies: %s" % "; ".join(d for d in faults.detail if d.startswith("deleted")))
    print("archive-faults: trims resumed after healing: %s; records verified %d; unmount with a "
          "hanging command %.2f s; snapshots published %d" %
          (", ".join("%s %d->%d" % (l, before[l], after[l]) for l in rig.logs), records, took,
           rig.consumer.published))
    print("archive-faults: rounds %d faults {%s} samples %d violations %d trims %d" %
          (args.rounds, ", ".join("%s: %d" % (k, faults.counts[k]) for k in KINDS),
           m.samples, len(m.violations), m.trims))


def selftest(args, rig):
    """The monitor flags an archive behind the trim point and a damaged
    copy; the resume check fails when trims cannot resume."""
    rig.start()
    rig.start_load()
    wait_trims_resume(rig, RESUME_SECONDS)
    rig.consumer.paused = True
    time.sleep(0.5)
    check_violations(rig)
    log = rig.logs[0]
    d = os.path.join(rig.mnt, log)
    # Pin the trim point while the copies are inspected.
    xset(d, "hold.selftest", str(int(xget(d, "trim_point"))))
    tp = int(xget(d, "trim_point"))
    fake = os.path.join(rig.root, "fake")
    shutil.copytree(rig.backing, fake)
    probe = Monitor(rig.mnt, [log], ArchiveView(fake))
    if probe.sample(log) is not None:
        raise VerifyError("selftest: the real archive's copy already fails: %s" % probe.sample(log))
    covering = [l for l in probe.view.held(log) if l >= tp]
    if tp == 0 or not covering:
        raise VerifyError("selftest: nothing trimmed or nothing covers trim point %d" % tp)
    # A flipped byte in every covering copy: they are not intact.
    for lsn in covering:
        p = os.path.join(fake, log, "%020d.snap.zst" % lsn)
        with open(p, "r+b") as f:
            data = bytearray(f.read())
            data[len(data) // 2] ^= 0x01
            f.seek(0)
            f.write(data)
    v = probe.sample(log)
    if v is None:
        raise VerifyError("selftest: the monitor accepted damaged copies covering trim point %d" % tp)
    print("selftest: damaged covering copies caught: %s" % v)
    # The covering copies deleted: the archive is behind the trim point.
    for lsn in covering:
        os.unlink(os.path.join(fake, log, "%020d.snap.zst" % lsn))
    v = probe.sample(log)
    if v is None:
        raise VerifyError("selftest: the monitor accepted an archive behind trim point %d" % tp)
    print("selftest: archive behind the trim point caught: %s" % v)
    # While a hold pins every log's trim point, trims cannot resume.
    for other in rig.logs[1:]:
        od = os.path.join(rig.mnt, other)
        xset(od, "hold.selftest", str(int(xget(od, "trim_point"))))
    rig.consumer.paused = False
    try:
        wait_trims_resume(rig, 4)
        raise VerifyError("selftest: the resume check passed while holds pinned the trim points")
    except VerifyError as e:
        if str(e).startswith("selftest:"):
            raise
        print("selftest: trims that cannot resume caught: %s" % e)
    for other in rig.logs:
        os.removexattr(os.path.join(rig.mnt, other), "user.lsnfs.hold.selftest")
    wait_trims_resume(rig, RESUME_SECONDS)
    rig.monitor.stop = True
    rig.monitor.join(5)
    check_violations(rig)
    rig.stop_load()
    rig.verify()
    rig.unmount()
    print("selftest: ok")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    if not os.environ.get("LSNFS_FAULTS_IN_NS"):
        # A private mount namespace: the tmpfs and bind mounts vanish with us.
        if shutil.which("unshare") is None:
            print("FAILED: unshare (util-linux) is needed")
            return 1
        env = dict(os.environ, LSNFS_FAULTS_IN_NS="1")
        os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable,
                               os.path.abspath(__file__)] + sys.argv[1:], env)
    args.build = os.path.abspath(args.build)
    if args.seed is None:
        args.seed = int(time.time())
    random.seed(args.seed)
    print("archive-faults: seed %d" % args.seed)
    root = tempfile.mkdtemp(prefix="lsnfs-archfaults.")
    rig = None
    ok = False
    t0 = time.monotonic()
    try:
        rig = Rig(args, root)
        if args.selftest:
            selftest(args, rig)
        else:
            run(args, rig)
            print("archive-faults: done in %.0f s" % (time.monotonic() - t0))
        ok = True
    except (VerifyError, OSError, subprocess.CalledProcessError) as e:
        print("FAILED (seed %d): %s" % (args.seed, e))
        if rig:
            for v in (list(rig.monitor.violations[:5]) if rig.monitor else []):
                print("  violation: %s" % v)
            try:
                print("--- daemon log (tail):")
                print("".join(open(rig.logfile, errors="replace").readlines()[-25:]))
            except OSError:
                pass
    finally:
        if rig:
            rig.close()
        if args.keep or not ok:
            print("kept %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
