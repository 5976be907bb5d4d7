#!/usr/bin/env python3
"""tests/fuzz/make_seeds.py - writes the seed corpus (tests/fuzz/corpus/).

Run once when a format changes; the output is kept in the repository.
Seeds are valid inputs of each parser plus a few typical damages, so the
fuzzer starts from the real formats (see each fuzz_*.c for its input).
"""
import os
import struct
import subprocess

LSN_RECORD_MAX = 1020 * 1024  # storage/config.h

here = os.path.dirname(os.path.abspath(__file__))


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def zstd(raw):
    return subprocess.run(["zstd", "-q", "-c", "--content-size", "-"], input=raw,
                          stdout=subprocess.PIPE, check=True).stdout


def block(first, records, seg_off=0, idx_off=0):
    raw = b"".join(struct.pack("<I", len(r)) for r in records) + b"".join(records)
    frame = zstd(raw)
    body = struct.pack("<QIIQQ", first, len(records), sum(map(len, records)), seg_off, idx_off) + frame
    return struct.pack("<II", 0x3142534C, crc32c(body)) + body


def put(name, target, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def control(lines, version=2):
    text = b"lsnfs-control %d\n" % version + b"".join(lines)
    return text + b"end %08x\n" % crc32c(text)


def kv(tag, suffix, value=None):
    tags = "MCLSBXRHPQG"
    op = 1 if value is None else 0
    out = bytes([op, tags.index(tag), len(suffix)]) + suffix
    if value is not None:
        out += struct.pack("<H", len(value)) + value
    return out


def main():
    recs = [b"rec %d\n" % i for i in range(20)]
    put("block-20", "block", block(1, recs))
    put("block-empty", "block", block(7, []))
    put("block-big", "block", block(100, [b"x" * 5000, b"", b"y" * 3], 4096, 300))
    b = bytearray(block(1, recs))
    b[50] ^= 0xFF
    put("block-flipped", "block", bytes(b))
    put("block-short", "block", block(1, recs)[:45])
    put("chunk", "block", struct.pack("<H", 12) + zstd(b"hello world\n"))

    put("control-two", "control", control([b"log a 10 3\n", b"log b.x 0 0\n"]))
    put("control-empty", "control", control([]))
    put("control-v1", "control", control([b"log a 10 3\n"], version=1))
    put("control-bad", "control", b"lsnfs-control 1\nlog a 5\nend 00000000\n")

    for i, text in enumerate([b"mode\0single", b"mode\0cluster", b"segment_size\x004096",
                              b"sync\0always", b"sync\0fsync", b"archive\0/tmp/a", b"node_id\0n-1",
                              b"trim_delay\x00600", b"auto_trim\x000", b"compress_level\x0019",
                              b"recover\0accept-loss", b"archive_command\0cp %p /x/%f",
                              b"18446744073709551615", b"segment_size\x0018446744073709551616"]):
        put("config-%02d" % i, "config", text)

    for i, p in enumerate([b"/", b"/p", b"/p/append", b"/p/append.lines", b"/p/segments",
                           b"/p/segments/00000000000000000001.log", b"/p/index/00000000000000000001.index",
                           b"/p/snapshots/00000000000000000042.snap", b"/p/snapshots/.incoming",
                           b"//p//segments/", b"/.hidden", b"/p/a/b/c/d", b"/" + b"x" * 300]):
        put("path-%02d" % i, "path", p)

    be32 = lambda v: struct.pack(">I", v)
    be64 = lambda v: struct.pack(">Q", v)
    put("store-as-is", "store", b"")
    put("store-seg-garbage", "store", kv("S", be32(1) + be64(1), b"\x00" * 44))
    put("store-seg-deleted", "store", kv("S", be32(1) + be64(1)))
    put("store-no-next-id", "store", kv("M", b"next_log_id"))
    put("store-bad-log-meta", "store", kv("L", b"a", b"\x00\x00\x00\x01"))
    put("store-bad-mode", "store", kv("C", b"mode", b"triple"))
    put("store-bad-records", "store", kv("R", be32(1) + be64(390), b"\x00" * 8 + be32(1000) + b"zz"))
    put("store-bad-snapshot", "store", kv("P", be32(1) + be64(200), b"\x01" * 40))
    put("store-chunk-deleted", "store", kv("Q", be32(1) + be64(200) + be32(0)))
    put("store-hold", "store", kv("H", be32(1) + b"h", b"\xff" * 3))
    put("store-block", "store", kv("B", be32(1) + be64(1) + be64(0), block(1, recs)))
    put("store-consumed", "store", kv("G", be32(1) + be64(200), be64(1) + b"../../x"))

    # frames: control byte (bits 0-1 record limit: the daemon's, the limit
    # byte, 0, 2^32-1; bits 2-3 write limit: the daemon's, the write's size,
    # one less, 4 x the limit byte; bits 4-7 a small message buffer), limit
    # byte, then the write (fuzz_frames.c).
    frame = lambda rec: be32(len(rec)) + rec
    three = frame(b"abc") + frame(b"") + frame(b"hello\n")
    for i, (ctl, lim, write) in enumerate([
            (0x00, 0, b""),                                  # the empty write
            (0x30, 0, three),                                # three records
            (0x74, 0, three),                                # write limit = its size
            (0x08, 0, three),                                # one byte over the write limit
            (0x31, 5, three),                                # record limit 5: hello is too big
            (0x02, 0, frame(b"") * 4),                       # only empty records allowed
            (0x30, 0, three + b"\x00\x00"),                   # cut inside a header
            (0x30, 0, three + be32(10) + b"short"),          # cut inside a record
            (0x30, 0, be32(LSN_RECORD_MAX + 1) + b"x"),      # over the daemon's record limit
            (0x33, 0, be32(0xFFFFFFFF) + b"x" * 8),          # no record limit, length 2^32-1
            (0x3C, 2, frame(b"ab") + frame(b"c")),           # write limit 8 < 11
            (0x30, 0, frame(b"x" * 300) * 3),
            # A record over 64 KiB: all four length bytes count.  Also lifts
            # libFuzzer's default input limit (its largest seed) above 64 KiB.
            (0x30, 0, frame(b"r" * 0x10001) + frame(b"s")),
    ]):
        put("frames-%02d" % i, "frames", bytes([ctl, lim]) + write)

    # xattr: control byte (bits 0-1 kind: any, lsn, word, ignored; bits 2-3
    # text room: the value's size, one more, 1, xattr.c's), then the value
    # exactly as setxattr(2) passes it (fuzz_xattr.c).
    ANY, LSN, WORD, IGN = 0, 1, 2, 3
    XATTR = 3 << 2
    for i, (ctl, value) in enumerate([
            (XATTR | LSN, b"0"), (XATTR | LSN, b"42"), (XATTR | LSN, b"0042"),
            (XATTR | LSN, b"18446744073709551615"), (XATTR | LSN, b"18446744073709551616"),
            (XATTR | LSN, b"000000000000000000001"), (XATTR | LSN, b"-1"), (XATTR | LSN, b"5\n"),
            (XATTR | LSN, b"5\0"), (XATTR | LSN, b"5\x009"), (XATTR | LSN, b""),
            (XATTR | WORD, b"safe"), (XATTR | WORD, b"single"), (XATTR | WORD, b"cluster"),
            (XATTR | WORD, b"safe\n"), (XATTR | WORD, b""), (XATTR | WORD, b"my-log.1"),
            (XATTR | WORD, b"x" * 64), (XATTR | WORD, b".hidden"), (XATTR | WORD, b"x" * 80),
            (XATTR | ANY, b""), (IGN, b"anything\n\0"), (0 << 2 | WORD, b"safe"),
            (1 << 2 | WORD, b"safe"), (2 << 2 | WORD, b"s"),
    ]):
        put("xattr-%02d" % i, "xattr", bytes([ctl]) + value)


if __name__ == "__main__":
    main()
