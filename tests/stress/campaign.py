#!/usr/bin/env python3
"""tests/stress/campaign.py - kill -9 (and power-cut) campaign against lsnfs.

    campaign.py --build DIR --cycles N [--seed S] [--powerloss BIN] [--selftest]

Each cycle mounts a store, verifies every log (tests/stress/verify.py),
trims what was verified (cluster: by archived snapshots, committed at the
verified tail once a log retains CLUSTER_RETAIN records), runs 1-3
concurrent writers (`append`, one record per write; `append.lines`, 1-6
lines per write; `append.frames` when the tree has it) under sync=always or sync=fsync, and ends the mount with one
of: kill -9 at a random moment, kill -9 during a seal, a trim, a snapshot
commit or an unmount, kill -9 while mounting, or a clean unmount.  Two
stores take turns: one in single mode (trim by persisted_lsn), one in
cluster mode with an archive (trim by archived snapshots).  After every
remount: every acknowledged record is there byte for byte, in order,
without gaps or duplicates, index files agree with segments,
trim_point <= persisted_lsn (single) or <= archived_lsn (cluster), and of
a snapshot's staging name and committed name exactly one exists.

With --powerloss BIN the stores live on BIN (tests/powerloss/plfs, a FUSE
passthrough that keeps unsynced writes in memory) and the end of a cycle is
a power cut instead: the daemon is killed, then plfs drops everything not
fsynced.  Then only acknowledged records must survive.

--selftest runs a few cycles, copies a log to a plain directory and shows
the verifier rejects an injected loss, a flipped byte and a duplicate.

Prints "cycles N records-verified N ..." at the end; exit 1 on the first
failure (with the daemon's log tail).
"""
import argparse
import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from verify import LogVerifier, VerifyError, read_log, record  # noqa: E402

SEGMENT_SIZE = 16384
# A cluster log retaining more verified records than this gets a snapshot.
CLUSTER_RETAIN = 20000


def xget(path, name):
    return os.getxattr(path, "user.lsnfs." + name).decode()


def xset(path, name, value):
    os.setxattr(path, "user.lsnfs." + name, value.encode())


def wait_for(pred, secs, what):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.01)
    raise VerifyError("timed out waiting for " + what)


class Writer(threading.Thread):
    """Writes record(wid, seq) for seq = start, start+1, ... until stopped or failed."""

    def __init__(self, wid, path, kind, sync_always, start_seq):
        super().__init__(daemon=True)
        self.wid, self.path, self.kind = wid, path, kind
        self.sync_always = sync_always
        self.seq = start_seq - 1     # last written (write returned)
        self.acked = start_seq - 1   # last acknowledged as durable
        self.sent = start_seq - 1    # last handed to write()
        self.stop = False
        self.error = None

    def run(self):
        try:
            fd = os.open(self.path, os.O_WRONLY)
        except OSError:
            return
        try:
            since_sync = 0
            while not self.stop:
                if self.kind == "lines":
                    n = random.randint(1, 6)
                    recs = [record(self.wid, self.seq + 1 + i) for i in range(n)]
                    buf = b"".join(recs)
                elif self.kind == "frames":
                    n = random.randint(1, 4)
                    recs = [record(self.wid, self.seq + 1 + i) for i in range(n)]
                    buf = b"".join(len(r).to_bytes(4, "big") + r for r in recs)
                else:
                    n = 1
                    buf = record(self.wid, self.seq + 1)
                self.sent = self.seq + n
                if os.write(fd, buf) != len(buf):
                    self.error = "short write"
                    return
                self.seq += n
                if self.sync_always:
                    self.acked = self.seq
                else:
                    since_sync += 1
                    if since_sync >= random.randint(1, 8):
                        pending = self.seq
                        os.fsync(fd)
                        self.acked = pending
                        since_sync = 0
        except OSError as e:
            if e.errno not in (errno.ENOTCONN, errno.ECONNABORTED, errno.EIO, errno.ENODEV,
                               errno.ENOENT, errno.EBADF, errno.ESTALE, errno.EROFS, errno.ENOSPC):
                self.error = "write: %s" % e
        finally:
            try:
                os.close(fd)
            except OSError:
                pass


class Store:
    """One store and what the campaign knows about it."""

    def __init__(self, root, name, build, cluster, powerloss):
        self.name = name
        self.build = build
        self.cluster = cluster
        self.base = os.path.join(root, name)
        self.mnt = os.path.join(root, name + ".mnt")
        os.makedirs(self.mnt)
        self.plfs = None
        self.plfs_dir = None
        if powerloss:
            self.backing = os.path.join(root, name + ".backing")
            self.plfs_dir = os.path.join(root, name + ".pl")
            os.makedirs(self.backing)
            os.makedirs(self.plfs_dir)
            self.plfs = powerloss
            self.plfs_proc = None
            self.plfs_start()
            self.path = os.path.join(self.plfs_dir, "store")
        else:
            self.path = self.base
        self.archive = os.path.join(root, name + ".archive") if cluster else None
        args = [os.path.join(build, "mkfs.lsnfs"), "--segment-size", str(SEGMENT_SIZE)]
        if cluster:
            os.makedirs(self.archive)
            args += ["--mode", "cluster", "--archive", self.archive]
        subprocess.run(args + [self.path], check=True, stdout=subprocess.DEVNULL)
        if self.plfs:
            self.plfs_sync_all()
        self.logs = {}          # name -> LogVerifier
        self.writers = {}       # wid -> (log, kind)
        self.acked = {}         # wid -> seq
        self.sent = {}          # wid -> seq
        self.next_seq = {}      # wid -> next seq to write
        self.snapshots = {}     # (log, lsn) -> staging name, when a commit was interrupted
        self.proc = None
        self.dropped = 0
        self.logfile = os.path.join(root, name + ".daemon.log")
        self.sync_always = True

    # ---- the power-loss filesystem ----
    def plfs_start(self):
        self.plfs_proc = subprocess.Popen([self.plfs, self.backing, self.plfs_dir, "-o", "max_threads=8"],
                                          stdout=subprocess.DEVNULL, stderr=open(self.base + ".plfs.log", "a"))
        wait_for(lambda: os.path.ismount(self.plfs_dir) or self.plfs_proc.poll() is not None, 10, "plfs mount")
        if self.plfs_proc.poll() is not None:
            raise VerifyError("plfs exited: " + open(self.base + ".plfs.log").read()[-500:])

    def plfs_sync_all(self):
        # mkfs does not fsync everything it writes: make its output durable.
        for dirpath, _, files in os.walk(self.path):
            for f in files + ["."]:
                fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
                os.fsync(fd)
                os.close(fd)
        fd = os.open(self.plfs_dir, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)

    def power_cut(self):
        """plfs drops everything not synced; then it is mounted again (a reboot)."""
        cut = os.path.join(self.backing, ".plfs-cut")
        before = open(cut).read().strip() if os.path.exists(cut) else "0"
        expect = str(int(before) + 1)
        self.plfs_proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: os.path.exists(cut) and open(cut).read().strip() == expect, 10, "power cut")
        for _ in range(100):
            if subprocess.run(["fusermount3", "-u", self.plfs_dir], stderr=subprocess.DEVNULL).returncode == 0:
                break
            time.sleep(0.05)
        else:
            subprocess.run(["fusermount3", "-uz", self.plfs_dir], stderr=subprocess.DEVNULL, check=False)
        self.plfs_proc.wait(timeout=20)
        # A fresh plfs sees only the backing directory: cut counts restart.
        os.unlink(cut)
        self.plfs_start()

    # ---- the daemon ----
    def start(self, sync_always, kill_while_mounting=False):
        self.sync_always = sync_always
        opts = "sync=%s,trim_delay=0" % ("always" if sync_always else "fsync")
        log = open(self.logfile, "a")
        log.write("---- mount %s\n" % opts)
        log.flush()
        self.proc = subprocess.Popen([os.path.join(self.build, "lsnfs"), self.path, self.mnt, "-f", "-o", opts],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        if kill_while_mounting:
            time.sleep(random.uniform(0, 0.15))
            self.kill()
            return False
        wait_for(lambda: os.path.ismount(self.mnt) or self.proc.poll() is not None, 20, "mount")
        if self.proc.poll() is not None:
            raise VerifyError("%s: daemon exited at mount with %s" % (self.name, self.proc.returncode))
        return True

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait()
        self.proc = None
        subprocess.run(["fusermount3", "-uz", self.mnt], stderr=subprocess.DEVNULL, check=False)

    def unmount(self, kill_after=None):
        p = subprocess.Popen(["fusermount3", "-u", self.mnt], stderr=subprocess.DEVNULL)
        if kill_after is not None:
            time.sleep(kill_after)
            self.kill()
            p.wait()
            return
        p.wait()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            raise VerifyError("%s: daemon still running 20 s after unmount" % self.name)
        if self.proc.returncode != 0:
            raise VerifyError("%s: daemon exited %d after unmount" % (self.name, self.proc.returncode))
        self.proc = None

    # ---- checks ----
    def verify_all(self, lossy=False):
        n = 0
        names = sorted(n for n in os.listdir(self.mnt))
        for name in self.logs:
            if name not in names:
                raise VerifyError("%s: log %s is gone" % (self.name, name))
        for name, lv in self.logs.items():
            d = os.path.join(self.mnt, name)
            first = int(xget(d, "first_lsn"))
            tail = int(xget(d, "tail_lsn"))
            trim = int(xget(d, "trim_point"))
            self.trims = max(getattr(self, "trims", 0), trim)
            if first != trim + 1:
                raise VerifyError("%s/%s: first_lsn %d, trim_point %d" % (self.name, name, first, trim))
            if self.cluster:
                # What the archive really holds bounds the trim point at once.
                adir = os.path.join(self.archive, name)
                held = [int(f[:-9]) for f in (os.listdir(adir) if os.path.isdir(adir) else [])
                        if f.endswith(".snap.zst") and f[:-9].isdigit()]
                if trim > max(held, default=0):
                    raise VerifyError("%s/%s: trim_point %d > newest snapshot in the archive %d" %
                                      (self.name, name, trim, max(held, default=0)))
                # archived_lsn reads 0 after a mount until the archiver has
                # re-verified the copies: allow it a few seconds to catch up.
                end = time.monotonic() + 10
                while int(xget(d, "archived_lsn")) < trim and time.monotonic() < end:
                    time.sleep(0.05)
                arch = int(xget(d, "archived_lsn"))
                if trim > arch:
                    raise VerifyError("%s/%s: trim_point %d > archived_lsn %d 10 s after mount" %
                                      (self.name, name, trim, arch))
            else:
                pers = int(xget(d, "persisted_lsn"))
                if trim > pers:
                    raise VerifyError("%s/%s: trim_point %d > persisted_lsn %d" % (self.name, name, trim, pers))
            recs = read_log(d)
            acked = {w: self.acked[w] for w, (lg, _) in self.writers.items() if lg == name}
            sent = {w: self.sent[w] for w, (lg, _) in self.writers.items() if lg == name}
            last = lv.verify(recs, first, tail, acked, sent, lossy=lossy)
            for w in acked:
                self.next_seq[w] = last.get(w, 0) + 1
                if lossy:  # written, not acknowledged, gone with the power
                    self.dropped += max(0, sent[w] - last.get(w, 0))
                    self.sent[w] = last.get(w, 0)
            n += len(recs)
            self.check_snapshots(d, name, lossy)
        return n

    def check_snapshots(self, d, name, lossy):
        """A commit cut short leaves exactly one of its two names (like rename(2))."""
        files = set(os.listdir(os.path.join(d, "snapshots")))
        for (lg, lsn), (stage, renamed) in list(self.snapshots.items()):
            if lg != name:
                continue
            final = "%020d.snap" % lsn
            has_final, has_stage = final in files, stage in files
            if has_final and has_stage:
                raise VerifyError("%s/%s: after a crash during the commit of %s, both %s and %s exist" %
                                  (self.name, name, stage, stage, final))
            if renamed and not has_final:
                raise VerifyError("%s/%s: rename to %s returned, but it is gone" % (self.name, name, final))
            if not has_final and not has_stage and not lossy:
                raise VerifyError("%s/%s: after a crash during the commit of %s, neither name exists" %
                                  (self.name, name, stage))
            if has_final or has_stage:
                keep = final if has_final else stage
                with open(os.path.join(d, "snapshots", keep), "rb") as f:
                    body = f.read()
                # A staging file is not durable before the rename: after a power
                # cut it may be short.
                if body != snapshot_body(name, lsn) and (has_final or not lossy):
                    raise VerifyError("%s/%s: snapshot %s content differs" % (self.name, name, keep))
            if has_stage:
                os.unlink(os.path.join(d, "snapshots", stage))
            del self.snapshots[(lg, lsn)]

    def stage_snapshot(self, log, lsn):
        """Write snapshot `lsn` of `log` under a staging name (a commit is
        its rename); (snapshots dir, staging name, final name), or None
        when that snapshot exists already."""
        snaps = os.path.join(self.mnt, log, "snapshots")
        final = "%020d.snap" % lsn
        if lsn == 0 or final in os.listdir(snaps):
            return None
        stage = ".stage-%d" % lsn
        with open(os.path.join(snaps, stage), "wb") as f:
            f.write(snapshot_body(log, lsn))
        self.snapshots[(log, lsn)] = [stage, False]
        return snaps, stage, final

    def commit_snapshot(self, log, lsn, staged):
        """Commit what stage_snapshot staged: the rename, then note it returned."""
        snaps, stage, final = staged
        os.rename(os.path.join(snaps, stage), os.path.join(snaps, final))
        self.snapshots[(log, lsn)][1] = True

    def trim_verified(self):
        """Trim what was verified: single, by persisted_lsn; cluster, by
        archived snapshots (the consumer commits one at the verified tail
        once a log retains CLUSTER_RETAIN records: without it the log, and
        every verify pass, would only grow)."""
        for name, lv in self.logs.items():
            d = os.path.join(self.mnt, name)
            if lv.verified_tail == 0:
                continue
            if self.cluster:
                if len(lv.history) > CLUSTER_RETAIN:
                    staged = self.stage_snapshot(name, lv.verified_tail)
                    if staged:
                        self.commit_snapshot(name, lv.verified_tail, staged)
            else:
                pers = int(xget(d, "persisted_lsn"))
                if lv.verified_tail > pers:
                    xset(d, "persisted_lsn", str(lv.verified_tail))
            try:
                xset(d, "trim", "safe")
            except OSError as e:
                if e.errno != errno.EPERM:
                    raise


def snapshot_body(log, lsn):
    return (b"snapshot of %s at %d\n" % (log.encode(), lsn)) * (1 + lsn % 50)


class Campaign:
    def __init__(self, args):
        self.args = args
        self.root = tempfile.mkdtemp(prefix="lsnfs-stress.")
        self.stores = [Store(self.root, "single", args.build, False, args.powerloss),
                       Store(self.root, "cluster", args.build, True, args.powerloss)]
        self.next_wid = 1
        self.cycles = 0
        self.records = 0
        self.kills = {}
        self.acked_total = 0

    def close(self):
        for st in self.stores:
            try:
                st.kill()
            except Exception:
                pass
            if st.plfs:
                subprocess.run(["fusermount3", "-uz", st.plfs_dir], stderr=subprocess.DEVNULL, check=False)
                if st.plfs_proc:
                    st.plfs_proc.wait()
        if not self.args.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def ensure_logs(self, st):
        while len(st.logs) < 2:
            name = "log%d" % (len(st.logs) + 1)
            os.mkdir(os.path.join(st.mnt, name))
            st.logs[name] = LogVerifier("%s/%s" % (st.name, name))

    def start_writers(self, st):
        frames = os.path.exists(os.path.join(st.mnt, "log1", "append.frames"))
        kinds = ["append", "lines"] + (["frames"] if frames else [])
        ws = []
        for _ in range(random.randint(1, 3)):
            # Mostly reuse a writer of this store (so its records keep going
            # across crashes); sometimes start a new one.
            known = [w for w in st.writers if w not in [x.wid for x in ws]]
            if known and random.random() < 0.8:
                wid = random.choice(known)
                log, kind = st.writers[wid]
            else:
                wid = self.next_wid
                self.next_wid += 1
                log = random.choice(sorted(st.logs))
                kind = random.choice(kinds)
                st.writers[wid] = (log, kind)
                st.acked[wid] = st.sent[wid] = 0
                st.next_seq[wid] = 1
            file = {"append": "append", "lines": "append.lines", "frames": "append.frames"}[kind]
            w = Writer(wid, os.path.join(st.mnt, log, file), kind, st.sync_always, st.next_seq[wid])
            ws.append(w)
        for w in ws:
            w.start()
        return ws

    def collect(self, st, ws):
        for w in ws:
            w.stop = True
        for w in ws:
            w.join(30)
            if w.is_alive():
                raise VerifyError("%s: writer %d hangs" % (st.name, w.wid))
            if w.error:
                raise VerifyError("%s: writer %d: %s" % (st.name, w.wid, w.error))
            self.acked_total += max(0, w.acked - st.acked[w.wid])
            st.acked[w.wid] = max(st.acked[w.wid], w.acked)
            st.sent[w.wid] = max(st.sent[w.wid], w.sent)

    def background(self, fn):
        t = threading.Thread(target=fn, daemon=True)
        t.start()
        return t

    def event(self, st):
        """End the mount; returns the event's name."""
        choices = ["random", "seal", "trim", "snapshot", "unmount", "clean"]
        ev = random.choice(choices)
        log = random.choice(sorted(st.logs))
        d = os.path.join(st.mnt, log)

        def quiet(fn):
            def run():
                try:
                    fn()
                except OSError:
                    pass
            return run

        if ev == "seal":
            self.background(quiet(lambda: xset(d, "seal", "1")))
            time.sleep(random.uniform(0, 0.01))
        elif ev == "trim":
            self.background(quiet(lambda: xset(d, "trim", "safe")))
            time.sleep(random.uniform(0, 0.01))
        elif ev == "snapshot":
            lsn = st.logs[log].verified_tail
            staged = st.stage_snapshot(log, lsn)
            if staged:
                def commit():
                    st.commit_snapshot(log, lsn, staged)
                    if st.cluster:
                        wait_for(lambda: int(xget(d, "archived_lsn")) >= lsn, 5, "archive")
                        xset(d, "trim", "safe")
                self.background(quiet(commit))
                time.sleep(random.uniform(0, 0.03))
        if ev == "unmount":
            return ev, "unmount"
        if ev == "clean":
            return ev, "clean"
        return ev, "kill"

    def cycle(self):
        st = self.stores[self.cycles % 2]
        lossy = False
        sync_always = random.random() < 0.5
        if random.random() < 0.08:
            st.start(sync_always, kill_while_mounting=True)
            self.kills["mount"] = self.kills.get("mount", 0) + 1
            lossy = bool(st.plfs)
            if st.plfs:
                st.power_cut()
        st.start(sync_always)
        self.ensure_logs(st)
        self.records += st.verify_all(lossy=st.plfs is not None)
        st.trim_verified()
        ws = self.start_writers(st)
        time.sleep(random.uniform(0.05, 0.3))
        ev, how = self.event(st)
        if how == "clean":
            for w in ws:
                w.stop = True
            for w in ws:
                w.join(30)
            st.unmount()
        elif how == "unmount":
            for w in ws:
                w.stop = True
            for w in ws:
                w.join(30)
            st.unmount(kill_after=random.uniform(0, 0.05))
        else:
            st.kill()
        if st.plfs:
            st.power_cut()
        self.collect(st, ws)
        self.kills[ev] = self.kills.get(ev, 0) + 1
        self.cycles += 1

    def final_check(self):
        for st in self.stores:
            st.start(True)
            self.records += st.verify_all(lossy=st.plfs is not None)
            st.unmount()

    def report(self, elapsed):
        ev = " ".join("%s=%d" % kv for kv in sorted(self.kills.items()))
        kind = "power-cuts" if self.args.powerloss else "kills"
        print("campaign: cycles %d records-verified %d records-acknowledged %d %s: %s (%.0f s)" %
              (self.cycles, self.records, self.acked_total, kind, ev, elapsed))
        if self.args.powerloss:
            print("campaign: unacknowledged records lost to power cuts: %d" % sum(st.dropped for st in self.stores))
        print("campaign: highest trim point seen: %s" %
              ", ".join("%s %d" % (st.name, getattr(st, "trims", 0)) for st in self.stores))


def selftest(args):
    """The verifier must reject an injected loss, a flipped byte and a duplicate."""
    c = Campaign(args)
    try:
        while c.cycles < 6:
            c.cycle()
        st = c.stores[0]
        st.start(True)
        st.verify_all()
        log = max(st.logs, key=lambda n: st.logs[n].verified_tail)
        src = os.path.join(st.mnt, log)
        first = int(xget(src, "first_lsn"))
        tail = int(xget(src, "tail_lsn"))
        acked = {w: st.acked[w] for w, (lg, _) in st.writers.items() if lg == log}
        sent = {w: st.sent[w] for w, (lg, _) in st.writers.items() if lg == log}
        recs = read_log(src)
        st.unmount()
        if len(recs) < 3:
            raise VerifyError("selftest: too few records to mutate (%d)" % len(recs))

        base = dict(st.logs[log].base)  # writers' seqs below the trim point

        def fresh():
            v = LogVerifier("mutated")
            v.base = dict(base)
            return v

        fresh().verify(recs, first, tail, acked, sent)  # the real log passes
        # A loss in the middle: later records shift down one LSN.
        k = len(recs) // 2
        lost = [(l, p) for l, p in recs[:k]] + [(l - 1, p) for l, p in recs[k + 1:]]
        cases = [("loss", lost, first, tail - 1, "lost|jumps"),
                 ("flipped byte", [(l, p if i != k else p[:-2] + bytes([p[-2] ^ 1]) + p[-1:])
                                   for i, (l, p) in enumerate(recs)], first, tail, "differ"),
                 ("duplicate", recs[:k + 1] + [(l + 1, p) for l, p in recs[k:]], first, tail + 1,
                  "duplicates"),
                 ("lost tail", recs[:-1], first, tail - 1, "lost")]
        # The last record counts as acknowledged for the "lost tail" case.
        from verify import parse
        w_last, s_last = parse(recs[-1][1])
        acked_tail = dict(acked)
        acked_tail[w_last] = max(acked_tail.get(w_last, 0), s_last)
        for what, mutated, f, t, expect in cases:
            try:
                fresh().verify(mutated, f, t, acked_tail if what == "lost tail" else acked, sent)
            except VerifyError as e:
                import re
                if not re.search(expect, str(e)):
                    raise VerifyError("selftest: %s caught with the wrong reason: %s" % (what, e))
                print("selftest: %s caught: %s" % (what, e))
                continue
            raise VerifyError("selftest: the verifier accepted an injected %s" % what)
        # On disk: a copy of the log's files with one byte of a segment
        # flipped, and with one index line dropped.
        st.start(True)
        copy = os.path.join(c.root, "copy")
        for sub in ("segments", "index"):
            shutil.copytree(os.path.join(src, sub), os.path.join(copy, sub))
        st.unmount()
        read_log(copy)
        seg = sorted(os.listdir(os.path.join(copy, "segments")))[0]
        with open(os.path.join(copy, "segments", seg), "r+b") as f:
            at = f.read().index(b"\n") - 1  # inside the first record
            f.seek(at)
            b = f.read(1)
            f.seek(at)
            f.write(bytes([b[0] ^ 0x20]))
        try:
            fresh().verify(read_log(copy), first, tail, acked, sent)
            raise VerifyError("selftest: the verifier accepted a flipped byte on disk")
        except VerifyError as e:
            if str(e).startswith("selftest:"):
                raise
            print("selftest: flipped byte on disk caught: %s" % e)
        idx = os.path.join(copy, "index", seg[:-4] + ".index")
        lines = open(idx, "rb").read().splitlines(True)
        open(idx, "wb").write(b"".join(lines[:1] + lines[2:]))
        try:
            read_log(copy)
            raise VerifyError("selftest: the index check accepted a dropped index line")
        except VerifyError as e:
            if str(e).startswith("selftest:"):
                raise
            print("selftest: dropped index line caught: %s" % e)
        print("selftest: ok")
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--cycles", type=int, default=50)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--powerloss", default=None, help="the plfs binary: cut power instead of kill -9")
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int(time.time())
    random.seed(seed)
    print("campaign: seed %d" % seed)
    if args.selftest:
        try:
            selftest(args)
        except VerifyError as e:
            print("FAILED: %s" % e)
            return 1
        return 0
    c = Campaign(args)
    t0 = time.monotonic()
    try:
        while c.cycles < args.cycles:
            c.cycle()
        c.final_check()
    except (VerifyError, OSError, subprocess.CalledProcessError) as e:
        print("FAILED after %d cycles (seed %d): %s" % (c.cycles, seed, e))
        for st in c.stores:
            try:
                print("--- %s daemon log (tail):" % st.name)
                print("".join(open(st.logfile).readlines()[-15:]))
            except OSError:
                pass
        c.args.keep = True
        print("kept %s" % c.root)
        c.close()
        return 1
    c.report(time.monotonic() - t0)
    c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
