"""tests/stress/verify.py - the campaign's verifier.

A record written by the campaign is b"<writer>:<seq>:<filler>\n" where the
filler is a pure function of (writer, seq) (see `record`).  Every writer
writes seq 1, 2, 3, ... to one log and waits for each write to return, so in
any correct log the records of one writer appear in seq order without gaps
and without repeats, and every record it had acknowledged (write returned
under sync=always, or was followed by a returned fsync) is there.

`LogVerifier` keeps, per log, what it has already verified (LSN -> writer,
seq) so a later pass checks that verified records did not change, and, for
records trimmed since, the last seq each writer had below the trim point.

`read_log(dir)` cuts a log's segments with its index files and checks the
index against the segments (file names, LSNs from the first without gaps,
offsets a running sum, lengths summing to the segment size).

Every failure raises VerifyError with a message naming the log, LSN and
writer; the campaign stops at the first one.
"""
import hashlib
import os


class VerifyError(Exception):
    pass


# Maps any byte to a lower-case letter, so a filler never holds a newline.
_LETTERS = bytes(97 + b % 26 for b in range(256))


def record(writer, seq):
    # Built from C-level hash output: the verifier regenerates every record
    # it checks (tens of millions in `make stress`), so no per-byte Python.
    key = b"%d:%d" % (writer, seq)
    h = hashlib.blake2b(key, digest_size=2).digest()
    n = h[0] * 3 % 400
    if h[1] == 7:
        n += 9000  # now and then one that spans blocks
    return key + b":" + hashlib.shake_128(key).digest(n).translate(_LETTERS) + b"\n"


def parse(payload):
    """(writer, seq) of a campaign record, or None."""
    parts = payload.split(b":", 2)
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    return int(parts[0]), int(parts[1])


def read_log(logdir):
    """[(lsn, payload)] of every retained record, checking index vs segments."""
    segs = sorted(os.listdir(os.path.join(logdir, "segments")))
    idxs = sorted(os.listdir(os.path.join(logdir, "index")))
    names = [s[:-4] for s in segs]
    if [i[:-6] for i in idxs] != names:
        raise VerifyError("%s: segments %r and index files %r do not match" % (logdir, segs, idxs))
    out = []
    expect = None
    for n in names:
        with open(os.path.join(logdir, "segments", n + ".log"), "rb") as f:
            data = f.read()
        with open(os.path.join(logdir, "index", n + ".index"), "rb") as f:
            text = f.read()
        if text and not text.endswith(b"\n"):
            raise VerifyError("%s: index %s does not end with a newline" % (logdir, n))
        first = int(n)
        if expect is not None and first != expect:
            raise VerifyError("%s: segment %s, expected it to start at LSN %d" % (logdir, n, expect))
        expect = first
        off = 0
        for k, line in enumerate(text.decode("ascii", "replace").splitlines()):
            parts = line.split(" ")
            if len(parts) != 3 or not all(p.isdigit() for p in parts):
                raise VerifyError("%s: index %s line %d malformed: %r" % (logdir, n, k + 1, line))
            lsn, o, ln = map(int, parts)
            if lsn != expect:
                raise VerifyError("%s: index %s: LSN %d where %d was expected" % (logdir, n, lsn, expect))
            if o != off:
                raise VerifyError("%s: index %s: LSN %d at offset %d, expected %d" % (logdir, n, lsn, o, off))
            out.append((lsn, data[o:o + ln]))
            off += ln
            expect = lsn + 1
        if off != len(data):
            raise VerifyError("%s: index %s: lengths sum to %d, segment has %d bytes" % (logdir, n, off, len(data)))
    return out


class LogVerifier:
    """What is known about one log across mounts."""

    def __init__(self, name):
        self.name = name
        self.history = {}    # lsn -> (writer, seq) verified and still retained
        self.base = {}       # writer -> last seq below the retained range
        self.last = {}       # writer -> last seq present after the last pass
        self.verified_tail = 0
        self.records_checked = 0

    def verify(self, records, first_lsn, tail_lsn, acked, sent, lossy=False):
        """Check one pass; acked/sent: writer -> highest seq acknowledged / written."""
        name = self.name
        if records:
            if records[0][0] != first_lsn or records[-1][0] != tail_lsn:
                raise VerifyError("%s: records %d..%d but first_lsn %d tail_lsn %d" %
                                  (name, records[0][0], records[-1][0], first_lsn, tail_lsn))
        elif tail_lsn != first_lsn - 1:
            raise VerifyError("%s: no records but first_lsn %d tail_lsn %d" % (name, first_lsn, tail_lsn))
        if lossy:
            # After a power cut, records not acknowledged may be gone; what
            # was verified beyond the tail now is forgotten (the acked
            # check below still applies).
            for lsn in [l for l in self.history if l > tail_lsn]:
                del self.history[lsn]
        elif tail_lsn < self.verified_tail:
            raise VerifyError("%s: tail %d is behind the verified tail %d (acknowledged records lost)" %
                              (name, tail_lsn, self.verified_tail))
        # Records trimmed since the last pass: their seqs become the base.
        for lsn in sorted(l for l in self.history if l < first_lsn):
            w, s = self.history.pop(lsn)
            self.base[w] = s
        last = dict(self.base)
        for lsn, payload in records:
            ws = parse(payload)
            if ws is None:
                raise VerifyError("%s: LSN %d holds a record no writer wrote: %r" % (name, lsn, payload[:60]))
            w, s = ws
            if payload != record(w, s):
                raise VerifyError("%s: LSN %d (writer %d seq %d) bytes differ from what was written" % (name, lsn, w, s))
            if lsn in self.history and self.history[lsn] != ws:
                raise VerifyError("%s: LSN %d was writer %d seq %d, now writer %d seq %d" %
                                  (name, lsn, *self.history[lsn], w, s))
            prev = last.get(w, 0)
            if s <= prev:
                raise VerifyError("%s: LSN %d duplicates or reorders writer %d seq %d (after seq %d)" % (name, lsn, w, s, prev))
            if s != prev + 1:
                raise VerifyError("%s: LSN %d: writer %d jumps from seq %d to %d (lost records)" % (name, lsn, w, prev, s))
            if s > sent.get(w, 0):
                raise VerifyError("%s: LSN %d: writer %d seq %d was never written" % (name, lsn, w, s))
            last[w] = s
            self.history[lsn] = ws
        for w, a in acked.items():
            if last.get(w, 0) < a:
                raise VerifyError("%s: writer %d acknowledged seq %d but the log ends at its seq %d (lost)" %
                                  (name, w, a, last.get(w, 0)))
        self.last = last
        self.verified_tail = tail_lsn
        self.records_checked += len(records)
        return last
