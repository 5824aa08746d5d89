# numpy_roundtrip.py NPY_TOOL: numpy writes .npy files of several shapes, dtypes and format
# versions; h2c (through npy_tool) must read them bit-exactly, and the files h2c writes must
# load in numpy with the expected values (and, with numpy 1.24's header layout, byte for byte
# what np.save writes). Files numpy makes that h2c must refuse are refused with their message.
# Run by numpy_roundtrip.sh with /usr/bin/python3, which skips when numpy is missing.
import atexit
import io
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

tool = sys.argv[1]
tmp = tempfile.mkdtemp(prefix="h2c-numpy-")
atexit.register(shutil.rmtree, tmp, ignore_errors=True)
rng = np.random.default_rng(20250807)
failures = 0
checks = 0


def fail(msg):
    global failures
    failures += 1
    print("FAILED:", msg)


def run(*args, expect=0):
    p = subprocess.run([tool, *args], capture_output=True, text=True)
    if p.returncode != expect:
        fail(f"npy_tool {' '.join(args)}: exit {p.returncode}, expected {expect}\n{p.stderr}")
    return p


def same_bits(want, got, what):
    """Bitwise equal arrays of one dtype; NaNs must be NaNs where want has them."""
    global checks
    checks += 1
    if want.dtype != got.dtype or want.shape != got.shape:
        fail(f"{what}: dtype/shape {got.dtype}{got.shape}, expected {want.dtype}{want.shape}")
        return
    u = {2: np.uint16, 4: np.uint32, 8: np.uint64}[want.dtype.itemsize]
    wb, gb = want.reshape(-1).view(u), got.reshape(-1).view(u)
    bad = np.nonzero(wb != gb)[0]
    if len(bad):
        i = bad[0]
        fail(f"{what}: {len(bad)} elements differ, first [{i}] 0x{int(gb[i]):x}, expected 0x{int(wb[i]):x}")


def values(shape, dt):
    """Random values over many magnitudes, specials, and (f2/f4) random bit patterns."""
    n = int(np.prod(shape, dtype=np.int64))
    x = rng.standard_normal(n) * np.exp2(rng.integers(-30, 30, n).astype(np.float64))
    x = x.astype(dt)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -2.5, 65504.0, 6e-8, 1e-45, 3.4e38,
                         np.finfo(dt).tiny, np.finfo(dt).max], dtype=np.float64)
    with np.errstate(over="ignore"):
        specials = specials.astype(dt)
    k = min(n, len(specials))
    x[:k] = specials[:k]
    if dt != "<f8" and n > 20:
        u = np.uint16 if dt == "<f2" else np.uint32
        bits = rng.integers(0, np.iinfo(u).max, n // 3, endpoint=True, dtype=u)
        x[20:20 + len(bits)] = bits.view(dt)[: max(0, n - 20)]
    return x.reshape(shape)


def f16_to_f32_bits(a):
    """Exact binary16 -> binary32 by integer arithmetic, keeping NaN payloads (what h2c promises)."""
    h = a.reshape(-1).view(np.uint16).astype(np.uint32)
    with np.errstate(invalid="ignore"):
        out = a.reshape(-1).astype(np.float32).view(np.uint32).copy()
    nan = ((h & 0x7C00) == 0x7C00) & ((h & 0x3FF) != 0)
    out[nan] = ((h[nan] & 0x8000) << 16) | 0x7F800000 | ((h[nan] & 0x3FF) << 13)
    return out.view(np.float32).reshape(a.shape)


def expected_f32(a):
    if a.dtype == np.float16:
        return f16_to_f32_bits(a)
    return a.astype(np.float32)


def expect_nan_positions(want, got, what):
    """For conversions whose NaN bits are not pinned: same NaN positions, other bits equal."""
    global checks
    checks += 1
    wn, gn = np.isnan(want), np.isnan(got)
    if not np.array_equal(wn, gn):
        fail(f"{what}: NaN positions differ")
        return
    same_bits(np.where(wn, 0, want).astype(want.dtype), np.where(gn, 0, got).astype(got.dtype), what)


layout_124 = getattr(np.lib.format, "GROWTH_AXIS_MAX_DIGITS", None) == 21
shapes = [(), (0,), (1,), (7,), (3, 4), (2, 3, 5), (2, 0, 3), (1,) * 8, (129, 257), (70001,)]
n_files = 0
for dt in ["<f2", "<f4", "<f8"]:
    for version in [(1, 0), (2, 0), (3, 0)]:
        for shape in shapes:
            a = values(shape, dt)
            name = f"{dt[1:]}-v{version[0]}-{'x'.join(map(str, shape)) or 'scalar'}"
            src = os.path.join(tmp, name + ".npy")
            with open(src, "wb") as f:
                np.lib.format.write_array(f, a, version=version)
            n_files += 1

            # read as stored: the data bytes exactly
            out = os.path.join(tmp, name + ".raw")
            if run("raw", src, out).returncode == 0:
                same_bits(a.reshape(-1), np.frombuffer(open(out, "rb").read(), dtype=dt), f"{name} raw")

            # read as double: exact from every dtype (NaN payloads as the C conversion makes them)
            if run("f64", src, out).returncode == 0:
                got = np.frombuffer(open(out, "rb").read(), dtype="<f8")
                if dt == "<f8":
                    same_bits(a.reshape(-1), got, f"{name} as f64")
                else:
                    expect_nan_positions(expected_f32(a).reshape(-1).astype("<f8"), got, f"{name} as f64")

            # read as float, written back as f4, f2 and f8: numpy loads what h2c promised
            for odt in ["f4", "f2", "f8"]:
                dst = os.path.join(tmp, f"{name}.{odt}.npy")
                if run("copy", src, dst, odt).returncode != 0:
                    continue
                got = np.load(dst)
                f32 = expected_f32(a)
                what = f"{name} -> {odt}"
                if odt == "f4" and dt != "<f8":
                    same_bits(f32, got, what)   # f2 and f4 are read exactly
                elif odt == "f4":
                    expect_nan_positions(f32, got, what)
                elif odt == "f2" and dt == "<f2":
                    # back to where it came from: the same bits, NaNs quieted
                    h = a.view(np.uint16)
                    nan = ((h & 0x7C00) == 0x7C00) & ((h & 0x3FF) != 0)
                    same_bits(np.where(nan, h | 0x200, h).astype(np.uint16).view("<f2"), got, what)
                elif odt == "f2":
                    with np.errstate(over="ignore", invalid="ignore"):
                        expect_nan_positions(f32.astype("<f2"), got, what)   # round to nearest even
                else:
                    expect_nan_positions(f32.astype("<f8"), got, what)
                if layout_124:
                    buf = io.BytesIO()
                    np.save(buf, got)
                    checks += 1
                    if buf.getvalue() != open(dst, "rb").read():
                        fail(f"{what}: the file differs from what np.save writes for the same array")

# h2c writes arrays it made itself
for odt in ["f2", "f4", "f8"]:
    for shape in [(), (5,), (4, 3), (2, 2, 2, 2)]:
        dst = os.path.join(tmp, f"gen-{odt}-{len(shape)}.npy")
        if run("gen", dst, odt, *map(str, shape)).returncode == 0:
            n = int(np.prod(shape, dtype=np.int64))
            want = ((np.arange(n) * 37 % 1001 - 500) / 64.0).astype("<" + odt).reshape(shape)
            got = np.load(dst)
            same_bits(want, got, f"gen {odt} {shape}")

# files numpy writes that h2c must refuse, each with its message
refuse = [
    ("big-endian", np.arange(6, dtype=">f4").reshape(2, 3), "1:12: error: big-endian data ('>f4') is not supported"),
    ("fortran", np.asfortranarray(np.ones((2, 3), np.float32)), "1:35: error: Fortran-order arrays are not supported"),
    ("object", np.array([1, "a", None], dtype=object), "1:12: error: object arrays ('|O') are not supported"),
    ("structured", np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")]), "error: structured dtypes"),
    ("int32", np.arange(5, dtype="<i4"), "unsupported dtype '<i4' (signed integer)"),
    ("complex", np.ones(2, np.complex64), "unsupported dtype '<c8' (complex)"),
    ("bool", np.ones(2, bool), "unsupported dtype '|b1' (boolean)"),
    ("unicode", np.array(["ab"]), "unsupported dtype '<U2' (unicode string)"),
]
for name, arr, want in refuse:
    path = os.path.join(tmp, f"refuse-{name}.npy")
    np.save(path, arr, allow_pickle=True)
    p = run("check", path, expect=1)
    checks += 1
    if want not in p.stderr:
        fail(f"{name}: expected a message containing {want!r}, got:\n{p.stderr}")

# a file as old numpy wrote it (header padded to 16 bytes) and what numpy makes of it
old = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
pad = 16 - (10 + len(old) + 1) % 16
old_file = b"\x93NUMPY\x01\x00" + (len(old) + pad + 1).to_bytes(2, "little") + old + b" " * pad + b"\n"
old_file += np.array([1.5, -2.0], "<f4").tobytes()
path = os.path.join(tmp, "old16.npy")
open(path, "wb").write(old_file)
checks += 2
if not np.array_equal(np.load(path), [1.5, -2.0]):
    fail("numpy does not read the hand-made 16-byte-aligned file")
p = run("check", path)
if p.stdout.strip() != "<f4 (2,) version 1":
    fail(f"old16: {p.stdout!r}")

print(f"{n_files} numpy files, {checks} checks, {failures} failed")
sys.exit(1 if failures else 0)
