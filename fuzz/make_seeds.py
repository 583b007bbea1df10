#!/usr/bin/env python3
"""Writes the committed seed inputs, fuzz/seeds/<target>/<name>.

Each seed is encoded the way `arbitrary` 1.x decodes the target's `Input`:
integers little-endian, an enum as a u32 tag mapped to a variant by
`(tag * variant_count) >> 32`, a `Vec` as elements each preceded by a byte with
the low bit set, ended by a 0 byte. If a target's `Input` changes, update the
variant lists here, rerun `python3 fuzz/make_seeds.py`, and check the result
with `cargo +nightly fuzz fmt TARGET fuzz/seeds/TARGET/NAME`.
"""

import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def u8(v):
    return struct.pack("<B", v & 0xFF)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


def tag(variants, name):
    """The u32 that selects `name` among `variants`."""
    i, n = variants.index(name), len(variants)
    x = -(-(i << 32) // n)  # ceil(i * 2^32 / n)
    assert (x * n) >> 32 == i
    return u32(x)


def vec(items):
    return b"".join(b"\x01" + item for item in items) + b"\x00"


def write(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data)


# Shared selectors (fuzz/src/lib.rs).
VERSION_SEL = ["Current", "Stale", "Ahead", "Zero", "Max", "Raw"]
DELTA = ["Min", "Max", "MinPlusOne", "MaxMinusOne", "MinusOne", "Zero", "One", "Small", "Raw"]
SHARD_SEL = ["Zero", "One", "Small", "Medium", "Large"]
LARGE_SHARDS = ["Pow2", "MaxShards", "MaxShardsPlusOne", "UsizeMax", "Raw"]


def version_sel(name, arg=b""):
    return tag(VERSION_SEL, name) + arg


def delta(name, arg=b""):
    return tag(DELTA, name) + arg


# Payload encoders, by type name.
PAYLOAD = {
    "()": lambda s: b"",
    "u8": lambda s: u8(s),
    "u64": lambda s: u64(s),
    "[u8; 9]": lambda s: bytes((s * 7 + i) & 0xFF for i in range(9)),
    "[u64; 3]": lambda s: u64(s) + u64(~s) + u64(s * 3),
    "Abc": lambda s: u32(s) + u32(s >> 32) + u64(s * 5),
    "[u64; 8]": lambda s: b"".join(u64(s + i) for i in range(8)),
}

# ---------------------------------------------------------------- versioned_cell
VC_INPUT = ["Unit", "U8", "U64", "Bytes9", "Arr3", "Abc", "Arr8"]
VC_TYPE = {"Unit": "()", "U8": "u8", "U64": "u64", "Bytes9": "[u8; 9]", "Arr3": "[u64; 3]",
           "Abc": "Abc", "Arr8": "[u64; 8]"}
VC_INIT = ["New", "Default", "From"]
VC_OP = ["ReadVersioned", "Version", "WriteIf", "Update", "CheckedUpdate", "Write", "Debug", "Swap",
         "FetchUpdate"]


def versioned_cell(variant, init):
    t = PAYLOAD[VC_TYPE[variant]]
    op = lambda name, arg=b"": tag(VC_OP, name) + arg
    ops = [
        op("ReadVersioned"),
        op("WriteIf", version_sel("Current") + t(11)),
        op("WriteIf", version_sel("Stale", u8(0)) + t(12)),
        op("WriteIf", version_sel("Ahead", u8(0)) + t(13)),
        op("WriteIf", version_sel("Max") + t(14)),
        op("Update", u64(0x1234)),
        op("CheckedUpdate", u64(7) + u8(0)),
        op("CheckedUpdate", u64(8) + u8(1)),
        op("CheckedUpdate", u64(9) + u8(3)),
        op("Write", t(15)),
        op("Version"),
        op("Debug"),
        op("Swap", t(16)),
        op("FetchUpdate", u64(10) + u8(0)),
        op("FetchUpdate", u64(11) + u8(1)),
        op("FetchUpdate", u64(12) + u8(3)),
        op("Swap", t(17)),
    ]
    # Go round the 8-slot ring of the large-T path twice.
    ops += [op("Write", t(100 + i)) for i in range(16)] + [op("ReadVersioned")]
    init_bytes = tag(VC_INIT, init) + (t(1) if init != "Default" else b"")
    return tag(VC_INPUT, variant) + init_bytes + vec(ops)


for variant, init in [("U8", "New"), ("U64", "From"), ("Unit", "Default"),
                      ("Arr3", "New"), ("Abc", "Default")]:
    write("versioned_cell", f"{variant.lower()}-all-ops", versioned_cell(variant, init))

# ----------------------------------------------------------------------- seqlock
SL_OP = ["Read", "ReadVersioned", "TryRead", "TryReadVersioned", "Version", "Write", "Update",
         "Debug"]


def seqlock(variant, init):
    t = PAYLOAD[VC_TYPE[variant]]
    op = lambda name, arg=b"": tag(SL_OP, name) + arg
    ops = [op("Read"), op("Write", t(2)), op("ReadVersioned"), op("Update", u64(5)),
           op("TryRead"), op("TryReadVersioned"), op("Version"), op("Debug")]
    ops += [op("Write", t(50 + i)) for i in range(4)] + [op("ReadVersioned")]
    init_bytes = tag(VC_INIT, init) + (t(1) if init != "Default" else b"")
    return tag(VC_INPUT, variant) + init_bytes + vec(ops)


for variant, init in [("U8", "New"), ("U64", "Default"), ("Bytes9", "From"),
                      ("Arr3", "New"), ("Abc", "From")]:
    write("seqlock", f"{variant.lower()}-all-ops", seqlock(variant, init))

# --------------------------------------------------------------------- publisher
PUB_INPUT = ["Unit2", "U8x2", "U8x3", "U64x2", "U64x3", "Bytes9x3", "Arr3x2", "Arr3x3", "Abc2",
             "Abc3", "Abc4", "Arr8x8"]
PUB_TYPE = {"Unit2": "()", "U8x2": "u8", "U8x3": "u8", "U64x2": "u64", "U64x3": "u64",
            "Bytes9x3": "[u8; 9]", "Arr3x2": "[u64; 3]", "Arr3x3": "[u64; 3]", "Abc2": "Abc",
            "Abc3": "Abc", "Abc4": "Abc", "Arr8x8": "[u64; 8]"}
PUB_INIT = ["New", "Default"]
PUB_OP = ["Write", "WriteIf", "Read", "ReadVersioned", "Version", "Debug"]


def publisher(variant, init):
    t = PAYLOAD[PUB_TYPE[variant]]
    op = lambda name, arg=b"": tag(PUB_OP, name) + arg
    ops = [op("ReadVersioned"), op("WriteIf", version_sel("Current") + t(3)),
           op("WriteIf", version_sel("Stale", u8(0)) + t(4)),
           op("WriteIf", version_sel("Ahead", u8(1)) + t(5)), op("Version"), op("Debug")]
    # Round the ring several times, reading after each publication.
    for i in range(12):
        ops += [op("Write", t(10 + i)), op("Read")]
    ops += [op("WriteIf", version_sel("Current") + t(99)), op("ReadVersioned")]
    init_bytes = tag(PUB_INIT, init) + (t(1) if init == "New" else b"")
    return tag(PUB_INPUT, variant) + init_bytes + vec(ops)


for variant, init in [("U8x2", "New"), ("U64x3", "Default"), ("Arr3x2", "New"),
                      ("Abc3", "New"), ("Arr8x8", "Default")]:
    write("publisher", f"{variant.lower()}-ring", publisher(variant, init))

# --------------------------------------------------------------- sharded_counter
SC_INIT = ["New", "Default", "WithShards"]
SC_OP = ["Basic", "Shards", "Debug", "Elsewhere", "Resident"]
CMD = ["Run", "Hold", "HeldAdd", "Exit"]
BASIC = ["Add", "Inc", "Dec", "Sum", "Take", "LocalAdd", "LocalInc", "LocalDec"]


def basic(name, arg=b""):
    return tag(BASIC, name) + arg


def sc_op(name, arg=b""):
    return tag(SC_OP, name) + arg


def sharded_counter(init_bytes, ops):
    return init_bytes + vec(ops)


def resident(which, cmd, arg=b""):
    return sc_op("Resident", u8(which) + tag(CMD, cmd) + arg)


extremes = [basic("Add", delta("Max")), basic("Inc"), basic("Sum"),
            basic("Add", delta("Min")), basic("Dec"), basic("Sum"),
            basic("Add", delta("Raw", u64(-5))), basic("Take"), basic("Sum")]
elsewhere = [basic("Add", delta("MaxMinusOne")), basic("Inc"), basic("Sum"), basic("Take"),
             basic("Add", delta("Small", u8(-3))), basic("LocalAdd", delta("Min")),
             basic("LocalInc"), basic("LocalDec"), basic("Sum")]
with_shards = lambda sel: tag(SC_INIT, "WithShards") + sel
write("sharded_counter", "one-shard-shared-cell", sharded_counter(
    with_shards(tag(SHARD_SEL, "One")),
    [sc_op("Basic", b) for b in extremes] + [sc_op("Elsewhere", vec(elsewhere)),
                                             sc_op("Basic", basic("Sum")), sc_op("Debug"),
                                             sc_op("Elsewhere", vec(extremes)),
                                             sc_op("Basic", basic("Take"))]))
write("sharded_counter", "zero-shards", sharded_counter(
    with_shards(tag(SHARD_SEL, "Zero")),
    [sc_op("Shards")] + [sc_op("Basic", b) for b in extremes] + [sc_op("Debug")]))
write("sharded_counter", "small-shards-threads", sharded_counter(
    with_shards(tag(SHARD_SEL, "Small") + u8(3)),
    [sc_op("Elsewhere", vec(elsewhere)) for _ in range(5)]
    + [sc_op("Basic", basic("Sum")), sc_op("Shards"), sc_op("Basic", basic("Take"))]))
write("sharded_counter", "usize-max-shards", sharded_counter(
    with_shards(tag(SHARD_SEL, "Large") + tag(LARGE_SHARDS, "UsizeMax")),
    [sc_op("Shards"), sc_op("Basic", basic("Add", delta("Min"))),
     sc_op("Elsewhere", vec([basic("Add", delta("Min")), basic("Inc")])),
     sc_op("Basic", basic("Sum"))]))
write("sharded_counter", "new-default", sharded_counter(
    tag(SC_INIT, "New"),
    [sc_op("Shards"), sc_op("Basic", basic("Inc")), sc_op("Basic", basic("LocalAdd", delta("Max"))),
     sc_op("Elsewhere", vec([basic("Dec"), basic("LocalInc")])),
     sc_op("Debug"), sc_op("Basic", basic("Take"))]))
# Issue 14: two resident threads on one shard, one keeping a handle; the owner
# exits and a fresh thread takes the shard (and its count) over.
write("sharded_counter", "residents-hand-over", sharded_counter(
    with_shards(tag(SHARD_SEL, "One")),
    [resident(0, "Run", vec([basic("Inc"), basic("Add", delta("Small", u8(-9)))])),
     resident(0, "Hold"), resident(0, "HeldAdd", delta("Max")),
     resident(1, "Run", vec([basic("LocalInc"), basic("Sum"), basic("Take")])),
     resident(0, "HeldAdd", delta("MinusOne")), resident(0, "Exit"),
     sc_op("Elsewhere", vec([basic("LocalAdd", delta("One")), basic("Sum")])),
     resident(1, "HeldAdd", delta("Min")), resident(1, "Exit"),
     resident(0, "Run", vec([basic("Dec"), basic("Take"), basic("Sum")])),
     sc_op("Basic", basic("Sum")), sc_op("Debug")]))

# -------------------------------------------------------------------- concurrent
STEP = ["Once", "Burst"]
COP = ["Cell64", "CellArr3", "CellAbc", "Seq64", "SeqArr3", "Pub64x2", "PubArr3x2", "PubAbc3",
       "Counter"]
EXPECT = ["Last", "Fresh", "Ahead", "Stale"]
CELL_OP = ["ReadVersioned", "Version", "WriteIf", "Update", "CheckedUpdate", "Write"]
SEQ_OP = ["Read", "ReadVersioned", "TryRead", "TryReadVersioned", "Version", "Write", "Update"]
PUB_COP = ["Read", "ReadVersioned", "Version", "Write", "WriteIf"]
COUNTER_OP = ["Add", "Inc", "Dec", "Sum", "Take", "LocalAdd"]
SUB = {"Cell64": CELL_OP, "CellArr3": CELL_OP, "CellAbc": CELL_OP, "Seq64": SEQ_OP,
       "SeqArr3": SEQ_OP, "Pub64x2": PUB_COP, "PubArr3x2": PUB_COP, "PubAbc3": PUB_COP,
       "Counter": COUNTER_OP}


def cop(prim, name, arg=b""):
    return tag(COP, prim) + tag(SUB[prim], name) + arg


def once(c):
    return tag(STEP, "Once") + c


def burst(c, n=63):
    return tag(STEP, "Burst") + c + u8(n)


def concurrent(shards, rounds, a, b):
    return u8(shards) + u8(rounds) + vec(a) + vec(b)


write("concurrent", "seqlock-writer-vs-readers", concurrent(
    2, 31,
    [burst(cop("SeqArr3", "Write")), burst(cop("Seq64", "Update"), 20)],
    [burst(cop("SeqArr3", "TryReadVersioned")), burst(cop("SeqArr3", "Read")),
     burst(cop("Seq64", "ReadVersioned"), 20), once(cop("SeqArr3", "Version"))]))
write("concurrent", "publisher-publish-vs-publish-if", concurrent(
    3, 31,
    [burst(cop("Pub64x2", "Write")), burst(cop("PubAbc3", "Write"))],
    [burst(cop("Pub64x2", "WriteIf", tag(EXPECT, "Last"))),
     burst(cop("PubAbc3", "WriteIf", tag(EXPECT, "Fresh"))),
     burst(cop("PubArr3x2", "ReadVersioned"), 10)]))
write("concurrent", "cell-update-vs-cas", concurrent(
    4, 31,
    [burst(cop("CellArr3", "Update")), burst(cop("Cell64", "CheckedUpdate", u8(0))),
     burst(cop("CellAbc", "Write"), 20)],
    [burst(cop("CellArr3", "WriteIf", tag(EXPECT, "Fresh"))),
     burst(cop("Cell64", "Update")), burst(cop("CellAbc", "ReadVersioned"), 20),
     once(cop("CellArr3", "Version"))]))
write("concurrent", "counter-adds-vs-takes", concurrent(
    1, 31,
    [burst(cop("Counter", "Add", delta("Max")), 10), burst(cop("Counter", "Inc")),
     once(cop("Counter", "Add", delta("Min"))), burst(cop("Counter", "LocalAdd", delta("One")))],
    [burst(cop("Counter", "Take"), 10), burst(cop("Counter", "Dec")),
     once(cop("Counter", "Sum"))]))
