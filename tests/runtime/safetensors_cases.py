"""safetensors_cases.py: runtime/safetensors.c against the format: files written here byte by byte
(numpy for the values) are read back exactly (F32, F16, BF16, sharded with an index), and 25 malformed
files are refused with a message saying what is wrong. usage: safetensors_cases.py ST_TOOL"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np


def st_bytes(tensors, header_extra=None, pad=True, raw_header=None):
    """tensors: list of (name, dtype, shape, bytes)."""
    hdr, data, off = {}, b"", 0
    for name, dt, shape, b in tensors:
        hdr[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(b)]}
        data += b
        off += len(b)
    if header_extra:
        hdr.update(header_extra)
    h = raw_header if raw_header is not None else json.dumps(hdr).encode()
    if pad and raw_header is None:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def raw(header_text, data):
    """A file with this exact header text (padded with spaces to 8 bytes) and data."""
    h = header_text.encode() if isinstance(header_text, str) else header_text
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def bf16(a):
    u = a.astype(np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def run(tool, path):
    p = subprocess.run([tool, path], capture_output=True, text=True)
    return p.returncode, p.stdout


def main():
    tool = sys.argv[1]
    fails = 0
    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as d:
        # valid: three dtypes, values read back exactly
        a32 = rng.standard_normal((3, 5)).astype(np.float32)
        a16 = rng.standard_normal((7,)).astype(np.float16)
        ab = bf16(rng.standard_normal((2, 2, 2)))
        good = os.path.join(d, "good.safetensors")
        open(good, "wb").write(st_bytes([("a.weight", "F32", a32.shape, a32.tobytes()),
                                         ("b.bias", "F16", a16.shape, a16.tobytes()),
                                         ("c", "BF16", (2, 2, 2), ab.tobytes())],
                                        header_extra={"__metadata__": {"format": "pt"}}))
        rc, out = run(tool, good)
        want = {"a.weight": a32.astype(np.float64).ravel(), "b.bias": a16.astype(np.float64).ravel(),
                "c": (ab.astype(np.uint32) << 16).view(np.float32).astype(np.float64).ravel()}
        got = {}
        for line in out.splitlines()[1:]:
            head, vals = line.split(" :")
            got[head.split()[0]] = np.array([float(v) for v in vals.split()])
        if rc != 0 or any(not np.array_equal(want[k], got.get(k, np.array([]))) for k in want):
            print("FAIL: the valid file did not read back exactly:", out)
            fails += 1
        # valid: sharded with an index
        sd = os.path.join(d, "sharded")
        os.mkdir(sd)
        x = np.arange(6, dtype=np.float32)
        open(os.path.join(sd, "model-00001-of-00002.safetensors"), "wb").write(
            st_bytes([("x", "F32", (6,), x.tobytes())]))
        open(os.path.join(sd, "model-00002-of-00002.safetensors"), "wb").write(
            st_bytes([("y", "F32", (2, 3), (x * 2).tobytes())]))
        json.dump({"weight_map": {"x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}},
                  open(os.path.join(sd, "model.safetensors.index.json"), "w"))
        rc, out = run(tool, sd)
        if rc != 0 or "y F32 2 3 : 0 2 4 6 8 10" not in out:
            print("FAIL: the sharded checkpoint:", out)
            fails += 1
        one = [("w", "F32", (2,), np.ones(2, np.float32).tobytes())]
        body = st_bytes(one)
        cases = [
            ("empty", b"", "too short"),
            ("seven-bytes", b"\x01\x00\x00\x00\x00\x00\x00", "too short"),
            ("length-past-file", struct.pack("<Q", 1000) + b"{}", "only 2 follow"),
            ("huge-length", struct.pack("<Q", 1 << 62) + b"{}", "only 2 follow"),
            ("not-json", struct.pack("<Q", 8) + b"{not js}", "not JSON"),
            ("not-an-object", st_bytes([], raw_header=b"[1, 2]  "), "not a JSON object"),
            ("truncated-data", body[:-4], "run past"),
            ("trailing-bytes", body + b"\x00\x00\x00\x00", "belong to no tensor"),
            ("nul-in-header", st_bytes([], raw_header=b'{"a\x00": 1}'), "NUL"),
            ("garbage-after-json", st_bytes([], raw_header=b'{}  x   '), "after the header"),
            ("unknown-dtype", st_bytes([("w", "F64", (1,), b"\x00" * 8)]), "F64"),
            ("int-dtype", st_bytes([("w", "I8", (4,), b"\x00" * 4)]), "I8"),
            ("shape-size-mismatch", st_bytes([("w", "F32", (3,), b"\x00" * 8)]), "shape holds 12 bytes"),
            ("negative-dim", st_bytes([], raw_header=json.dumps(
                {"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}).encode()), "whole number >= 0"),
            ("fraction-dim", st_bytes([], raw_header=json.dumps(
                {"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 6]}}).encode()), "whole number >= 0"),
            ("offsets-reversed", st_bytes([], raw_header=json.dumps(
                {"w": {"dtype": "F32", "shape": [0], "data_offsets": [4, 0]}}).encode()), "begin <= end"),
            ("missing-dtype", st_bytes([], raw_header=json.dumps(
                {"w": {"shape": [0], "data_offsets": [0, 0]}}).encode()), "needs a string 'dtype'"),
            ("rank-nine", st_bytes([], raw_header=json.dumps(
                {"w": {"dtype": "F32", "shape": [1] * 9, "data_offsets": [0, 4]}}).encode()), "9 dimensions"),
            ("overlap", raw(json.dumps(
                {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                 "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}), b"\x00" * 8), "overlaps"),
            ("hole", raw(json.dumps(
                {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                 "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}), b"\x00" * 12), "belong to no tensor"),
            ("duplicate-name", raw('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
                                   '"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}', b"\x00" * 8), "twice"),
            ("metadata-not-strings", st_bytes([], header_extra={"__metadata__": {"k": 1}}), "not a string"),
            ("huge-shape", st_bytes([], raw_header=json.dumps(
                {"w": {"dtype": "F32", "shape": [1 << 40, 1 << 40], "data_offsets": [0, 0]}}).encode()),
             "shape holds"),
        ]
        for name, data, want in cases:
            p = os.path.join(d, name + ".safetensors")
            open(p, "wb").write(data)
            rc, out = run(tool, p)
            if rc != 1 or want not in out:
                print("FAIL %s: exit %d, want '%s' in: %s" % (name, rc, want, out.strip()))
                fails += 1
        # bad indexes
        for name, wm, want in [("index-missing-shard", {"x": "nope.safetensors"}, "cannot open"),
                               ("index-path-escape", {"x": "../good.safetensors"}, "not a file name"),
                               ("index-name-absent", {"zz": "model-00001-of-00002.safetensors"}, "'zz' is not in")]:
            dd = os.path.join(d, name)
            os.mkdir(dd)
            open(os.path.join(dd, "model-00001-of-00002.safetensors"), "wb").write(st_bytes([("x", "F32", (6,), x.tobytes())]))
            json.dump({"weight_map": wm}, open(os.path.join(dd, "model.safetensors.index.json"), "w"))
            rc, out = run(tool, dd)
            if rc != 1 or want not in out:
                print("FAIL %s: exit %d, want '%s' in: %s" % (name, rc, want, out.strip()))
                fails += 1
        print("safetensors: 2 valid checkpoints read exactly, %d malformed ones refused; %d failure%s" %
              (len(cases) + 3, fails, "" if fails == 1 else "s"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
