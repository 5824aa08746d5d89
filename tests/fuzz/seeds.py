#!/usr/bin/env python3
"""seeds.py: writes the fuzz harnesses' seed corpora (tests/fuzz/corpus/NAME) from the repository's
examples and test inputs, and writes the .npy and safetensors seeds byte by byte (Python's standard
library only). Run from the repository root:  python3 tests/fuzz/seeds.py [REFERENCE_DIR]
REFERENCE_DIR (default ../shared/reference) holds the H2-LLM artifact's configs, test vectors and
baselines. Seeds of several files use the "=== NAME" parts of tests/fuzz/fuzz.h. The corpora are
committed; run this again only to rebuild them (it empties each corpus folder first)."""
import json
import os
import re
import shutil
import struct
import sys

ROOT = os.getcwd()
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
REF = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "reference")


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def corpus(name):
    d = os.path.join(CORPUS, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def put(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def parts(main, files):
    """main text followed by "=== NAME" parts (each file ending with a newline)."""
    out = main if main.endswith("\n") or not main else main + "\n"
    for name, text in files:
        if text and not text.endswith("\n"):
            text += "\n"
        out += "=== %s\n%s" % (name, text)
    return out


# ---------------------------------------------------------------- .h2

IMPORT = re.compile(r'import\s+"([^"]*)"')


def h2_seed(path):
    """The file and everything it imports, imports renamed to paths inside the scratch folder."""
    root_real = os.path.realpath(path)
    names = {root_real: "main.h2"}
    files = []

    def visit(p, name):
        text = read(p, "rb").decode("latin-1")

        def fix(m):
            imp = m.group(1)
            if not imp:
                return m.group(0)
            target = os.path.realpath(os.path.join(os.path.dirname(p), imp))
            if target not in names:
                flat = "/".join(c for c in imp.split("/") if c not in ("..", "."))
                child = os.path.normpath(os.path.join(os.path.dirname(name), flat))
                names[target] = child
                if os.path.isfile(target):
                    visit(target, child)
            rel = os.path.relpath(names[target], os.path.dirname(name) or ".")
            return 'import "%s"' % rel

        text = IMPORT.sub(fix, text)
        if name != "main.h2":
            files.append((name, text))
        return text

    main = visit(path, "main.h2")
    return parts(main, files).encode("latin-1")


def h2_corpus():
    d = corpus("h2")
    srcs = sorted(f for f in os.listdir("examples") if f.endswith(".h2"))
    for f in srcs:
        put(d, "example-" + f, h2_seed(os.path.join("examples", f)))
    for f in sorted(os.listdir("examples/hw")):
        put(d, "hw-" + f, h2_seed(os.path.join("examples/hw", f)))
    for area in ("tests/frontend/good", "tests/search", "tests/compile", "tests/explore/bad"):
        for f in sorted(os.listdir(area)):
            if f.endswith(".h2"):
                put(d, area.split("/")[-1] + "-" + f, h2_seed(os.path.join(area, f)))
    bad = ["import-cycle", "import-empty-path", "import-file-with-errors", "import-missing-file", "import-self",
           "capacity-batch-too-large", "file-binary-garbage", "file-control-bytes", "file-utf8-bom",
           "graph-cycle-of-3", "graph-scores-misused", "graph-too-many-inputs", "hint-decimal-size-unit",
           "kv-cache-shared", "name-unknown-energy-entry", "range-division-by-zero", "range-huge-numbers",
           "range-sparsity-budget", "range-token-counts", "struct-energy-entries", "struct-conflicting-use",
           "syntax-bad-escape", "syntax-several-errors", "syntax-unterminated-comment", "unit-mixed-arithmetic",
           "unit-percent-over-100", "whole-embedding-in-layer", "whole-rope-bad", "whole-tied-bad",
           "whole-workload-attention", "explore-method-ga", "empty-source-and-pe"]
    for b in bad:
        put(d, "bad-" + b + ".h2", h2_seed(os.path.join("tests/frontend/bad", b + ".h2")))


# ---------------------------------------------------------------- IR

def ir_corpus():
    d = corpus("ir")
    for f in sorted(os.listdir("tests/ir/passes")):
        if f.endswith(".h2ir") or f.endswith(".out"):
            put(d, "passes-" + f.replace(".out", "-out.h2ir"), read(os.path.join("tests/ir/passes", f), "rb"))
    bad = ["arity", "bad-bank", "cycle", "df-gap", "df-group-gap", "df-partitions-share", "device-range",
           "device-unit-kind", "duplicate-op", "kv-dims", "location-devices", "offsets-overlap", "op-tiles-gap",
           "phase-context", "result-shape", "whole-embedding-shape", "whole-epilogue-reads-x"]
    for b in bad:
        put(d, "bad-" + b + ".h2ir", read(os.path.join("tests/ir/bad", b + ".h2ir"), "rb"))
    for f in sorted(os.listdir("tests/cli")):
        if f.endswith(".h2ir"):
            put(d, "cli-" + f, read(os.path.join("tests/cli", f), "rb"))


# ---------------------------------------------------------------- .npy

MAGIC = b"\x93NUMPY"


def npy(descr, shape, data, version=1, fortran="False", pad_to=64, extra=b"", header=None):
    if header is None:
        sh = "(" + ", ".join(str(x) for x in shape) + ("," if len(shape) == 1 else "") + ")"
        header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, sh)
    h = header.encode() if isinstance(header, str) else header
    pre = 8 + (2 if version == 1 else 4)
    total = pre + len(h) + 1
    h += b" " * ((pad_to - total % pad_to) % pad_to) + b"\n"
    n = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return MAGIC + bytes([version, 0]) + n + h + data + extra


def npy_corpus():
    d = corpus("npy")
    f4 = struct.pack("<6f", 1.0, -2.5, 3.25, float("inf"), float("nan"), 1e-40)
    f2 = struct.pack("<4e", 1.0, -0.5, 65504.0, 6e-8) + b"\x01\x7c"  # last: a signalling NaN
    f8 = struct.pack("<3d", 1.0 / 3, -1e300, 5e-324)
    put(d, "f4-2x3.npy", npy("<f4", (2, 3), f4))
    put(d, "f2-5.npy", npy("<f2", (5,), f2))
    put(d, "f8-3.npy", npy("<f8", (3,), f8))
    put(d, "f4-scalar.npy", npy("<f4", (), struct.pack("<f", 7.0)))
    put(d, "f4-empty.npy", npy("<f4", (0, 4), b""))
    put(d, "f4-rank4.npy", npy("<f4", (1, 2, 1, 3), f4))
    put(d, "f8-v2.npy", npy("<f8", (3,), f8, version=2))
    put(d, "f4-v3-utf8.npy", npy("<f4", (6,), f4, version=3,
                                  header="{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }".encode()))
    put(d, "f4-pad16.npy", npy("<f4", (6,), f4, pad_to=16))
    put(d, "f4-long-dims.npy", npy("<f4", (2, 3), f4, header="{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }"))
    put(d, "f4-double-quotes.npy", npy("<f4", (6,), f4, header='{"descr": "<f4", "fortran_order": False, "shape": (6,)}'))
    put(d, "bad-big-endian.npy", npy(">f4", (6,), f4))
    put(d, "bad-fortran.npy", npy("<f4", (2, 3), f4, fortran="True"))
    put(d, "bad-int.npy", npy("<i4", (6,), f4))
    put(d, "bad-object.npy", npy("|O", (1,), b"x" * 8))
    put(d, "bad-truncated-data.npy", npy("<f4", (2, 3), f4[:20]))
    put(d, "bad-trailing-data.npy", npy("<f4", (2, 3), f4, extra=b"\0\0\0\0"))
    put(d, "bad-magic.npy", b"\x93NUMPZ\x01\x00" + npy("<f4", (6,), f4)[8:])
    put(d, "bad-version.npy", MAGIC + b"\x04\x00" + npy("<f4", (6,), f4)[8:])
    put(d, "bad-header-past-end.npy", MAGIC + b"\x01\x00\xff\x7f{'descr'")
    put(d, "bad-structured.npy", npy("<f4", (6,), f4, header="{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }"))
    put(d, "bad-negative-dim.npy", npy("<f4", (6,), f4, header="{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }"))
    put(d, "bad-huge-shape.npy", npy("<f4", (6,), f4, header="{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }"))
    put(d, "bad-duplicate-key.npy", npy("<f4", (6,), f4, header="{'descr': '<f4', 'descr': '<f4', 'shape': (6,), }"))
    put(d, "bad-missing-key.npy", npy("<f4", (6,), f4, header="{'descr': '<f4', 'shape': (6,), }"))
    put(d, "bad-unaligned.npy", npy("<f4", (6,), f4, pad_to=3))
    put(d, "bad-nonascii-v1.npy", npy("<f4", (6,), f4, header="{'descr': '<f4', 'fortran_order': False, 'shape': (6,), '\xe9': 1}".encode("latin-1")))
    put(d, "empty.npy", b"")


# ---------------------------------------------------------------- safetensors

def st(tensors, extra=None, raw_header=None, pad=True):
    hdr, data, off = {}, b"", 0
    for name, dt, shape, b in tensors:
        hdr[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(b)]}
        data += b
        off += len(b)
    if extra:
        hdr.update(extra)
    h = raw_header.encode() if raw_header is not None else json.dumps(hdr).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def st_corpus():
    d = corpus("safetensors")
    a32 = struct.pack("<6f", 1, 2, 3, 4, 5, float("nan"))
    a16 = struct.pack("<3e", 1.0, -2.0, 0.5)
    bf = struct.pack("<4H", 0x3f80, 0xc000, 0x7f80, 0x0001)
    put(d, "three-dtypes.st", st([("a.weight", "F32", (2, 3), a32), ("b.bias", "F16", (3,), a16),
                                  ("c", "BF16", (2, 2), bf)], extra={"__metadata__": {"format": "pt"}}))
    put(d, "scalar-and-empty.st", st([("s", "F32", (), struct.pack("<f", 2.0)), ("e", "F16", (0, 3), b"")]))
    put(d, "no-tensors.st", st([]))
    put(d, "rank-8.st", st([("r", "F16", (1, 1, 1, 1, 1, 1, 1, 2), a16[:4])]))
    put(d, "unpadded.st", st([("a", "F32", (6,), a32)], pad=False))
    x = struct.pack("<6f", *range(6))
    y = struct.pack("<6f", *[2.0 * i for i in range(6)])
    index = json.dumps({"metadata": {"total_size": 48},
                        "weight_map": {"x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}})
    # a sharded checkpoint: binary shards cannot end in a newline, so parts are built by hand
    sh1, sh2 = st([("x", "F32", (6,), x)]), st([("y", "F32", (2, 3), y)])
    put(d, "sharded.st", b"=== model.safetensors.index.json\n" + index.encode() + b"\n=== model-00001-of-00002.safetensors\n"
        + sh1 + b"\n=== model-00002-of-00002.safetensors\n" + sh2)
    bad_index = json.dumps({"weight_map": {"x": "../model.safetensors"}})
    put(d, "bad-index-escapes.st", b"=== model.safetensors.index.json\n" + bad_index.encode() + b"\n")
    wrong_shard = json.dumps({"weight_map": {"x": "model-00002-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}})
    put(d, "bad-index-wrong-shard.st", b"=== model.safetensors.index.json\n" + wrong_shard.encode()
        + b"\n=== model-00001-of-00002.safetensors\n" + sh1 + b"\n=== model-00002-of-00002.safetensors\n" + sh2)
    put(d, "bad-short.st", b"\x08\x00\x00")
    put(d, "bad-length-past-end.st", struct.pack("<Q", 1 << 40) + b"{}")
    put(d, "bad-not-json.st", st([], raw_header="{nope"))
    put(d, "bad-trailing.st", st([], raw_header="{} x"))
    put(d, "bad-not-object.st", st([], raw_header="[1, 2]"))
    put(d, "bad-dtype.st", st([("a", "I32", (6,), a32)]))
    put(d, "bad-shape-size.st", st([("a", "F32", (7,), a32)]))
    put(d, "bad-negative-dim.st", st([], raw_header='{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 24]}}')
        + a32)
    put(d, "bad-overlap.st", st([], raw_header='{"a": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}, '
                                '"b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}') + a32)
    put(d, "bad-hole.st", st([], raw_header='{"a": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}') + a32)
    put(d, "bad-duplicate.st", st([], raw_header='{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}, '
                                  '"a": {"dtype": "F32", "shape": [3], "data_offsets": [12, 24]}}') + a32)
    put(d, "bad-metadata.st", st([("a", "F32", (6,), a32)], extra={"__metadata__": {"n": 1}}))
    put(d, "bad-nul.st", st([], raw_header='{"a\\u0000": 1}\0'))
    put(d, "bad-offsets.st", st([], raw_header='{"a": {"dtype": "F32", "shape": [6], "data_offsets": [24, 0]}}') + a32)
    put(d, "bad-huge-dims.st", st([], raw_header='{"a": {"dtype": "F32", "shape": [4294967296, 4294967296, 0], '
                                  '"data_offsets": [0, 0]}}'))


# ---------------------------------------------------------------- config.json

def hf_corpus():
    d = corpus("hf")
    for area in ("tests/hf/good", "tests/hf/bad"):
        for f in sorted(os.listdir(area)):
            if f.endswith(".json"):
                put(d, area.split("/")[-1] + "-" + f, read(os.path.join(area, f), "rb"))
    for m in sorted(os.listdir("examples/hf")):
        put(d, "example-" + m + ".json", read(os.path.join("examples/hf", m, "config.json"), "rb"))


# ---------------------------------------------------------------- compat

def configs(folder):
    out = []
    for m in sorted(os.listdir(folder)):
        for f in ("shape.json", "operator_graph.json"):
            p = os.path.join(folder, m, f)
            if os.path.isfile(p):
                out.append((m + "/" + f, read(p)))
    return out


def compat_corpus():
    d = corpus("compat")
    ref = configs(os.path.join(REF, "h2llm-configs"))
    bad = configs("tests/compat/bad/configs")
    for area in ("tests/compat/good", "tests/compat/fail", "tests/compat/bad"):
        for f in sorted(os.listdir(area)):
            if not (f.endswith(".txt") or f.endswith(".json")):
                continue
            p = os.path.join(area, f)
            cmd = read(p[: -len(os.path.splitext(f)[1])] + ".cmd") if f.endswith(".json") else read(p).split("\n")[0]
            cfg = bad if "tests/compat/bad/configs" in cmd else [] if "no-such-dir" in cmd else ref
            put(d, area.split("/")[-1] + "-" + f, parts(read(p), cfg))
    vec = json.load(open(os.path.join(REF, "h2llm-testvectors.json")))
    for i in (0, 7, 13):
        one = dict(vec)
        one["vectors"] = vec["vectors"][i:i + 1]
        put(d, "vector-%d.json" % i, parts(json.dumps(one, indent=1), ref))
    lines = read(os.path.join(REF, "h2llm-baselines.txt")).split("\n")
    head = [l for l in lines if l.startswith("#") or l.startswith("model ")]
    body = [l for l in lines if l and not l.startswith("#") and not l.startswith("model ")]
    put(d, "baselines-some.txt", parts("\n".join(head + body[::9]) + "\n", ref))


# ---------------------------------------------------------------- schedule

def schedule_corpus():
    """The schedule goldens of tests/schedule/good, and with H2C=path/to/h2c in the environment the
    schedules it writes for examples/tiny.h2 and tests/schedule/plan-tiny.h2 (without H2C, the
    compiled seeds already in the corpus are kept)."""
    d = os.path.join(CORPUS, "schedule")
    os.makedirs(d, exist_ok=True)
    for f in sorted(os.listdir("tests/schedule/good")):
        if f.endswith(".out"):
            put(d, "good-" + f[:-4] + ".json", read(os.path.join("tests/schedule/good", f), "rb"))
    h2c = os.environ.get("H2C")
    if h2c:
        import subprocess
        import tempfile
        for src in ("examples/tiny.h2", "tests/schedule/plan-tiny.h2"):
            with tempfile.TemporaryDirectory() as out:
                subprocess.run([h2c, "compile", "-q", src, "-o", out], check=True)
                for f in sorted(os.listdir(out)):
                    if f.endswith(".schedule.json"):
                        put(d, "compiled-" + f, read(os.path.join(out, f), "rb"))


# ---------------------------------------------------------------- dictionaries

def literals(paths, pattern=r"^[A-Za-z_][A-Za-z0-9_.%/-]*$"):
    """The string literals of these sources that look like words."""
    words = set()
    for p in paths:
        for lit in re.findall(r'"((?:[^"\\\n]|\\.)*)"', read(p)):
            if re.match(pattern, lit) and len(lit) <= 40:
                words.add(lit)
    return words


def units():
    return set(re.findall(r'\{"([^"]+)", UK_', read("support/units.c")))


def write_dict(name, words):
    os.makedirs(os.path.join(ROOT, "tests", "fuzz", "dict"), exist_ok=True)
    with open(os.path.join(ROOT, "tests", "fuzz", "dict", name + ".dict"), "w") as f:
        f.write("# %s.dict: tokens for fuzz_%s, written by tests/fuzz/seeds.py from the sources.\n" % (name, name))
        for w in sorted(words):
            esc = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "\\x%02x" % ord(c) for c in w)
            f.write('"%s"\n' % esc)


def dictionaries():
    src = lambda *globs: [os.path.join(d, f) for d in globs for f in sorted(os.listdir(d))
                          if f.endswith((".c", ".h", ".l", ".y"))]
    h2 = literals(src("frontend", "spec")) | units()
    h2 |= {"=== ", "import \"", "use ", "op ", " from \"", "{", "}", "(", ")", "[", "]", ";", ",", "=", "//", "/*",
           "*/", "\\x", "\\\"", "\\n", "1e308", "0.5", "4096", "-1", "%", "tokens = heads * head_dim"}
    write_dict("h2", h2)
    ir = literals(src("ir", "spec")) | units()
    ir |= {"@", "..", "%", "ch{", "0x", "{", "}", "[", "]", ":", "*", "=", "\"", "; ", "1e308", "-1", "module \""}
    write_dict("ir", ir)
    write_dict("npy", {"\x93NUMPY", "\x01\x00", "\x02\x00", "\x03\x00", "{'descr': ", "'fortran_order': ",
                       "'shape': ", "'<f2'", "'<f4'", "'<f8'", "'>f4'", "'|O'", "True", "False", "()", "(1,)", ", ",
                       "L", "\n", "        ", "9223372036854775807", "0"})
    write_dict("safetensors", {"\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"F32\"", "\"F16\"",
                               "\"BF16\"", "\"__metadata__\"", "\"weight_map\"", "model.safetensors",
                               "model.safetensors.index.json", "\n=== ", "=== model.safetensors.index.json\n",
                               "\x00\x00\x00\x00\x00\x00\x00", "[0, 0]", "9007199254740993", "1e400", "-0"})
    hf = {'"%s": ' % w for w in literals(["frontend/import_hf.c"], r"^[A-Za-z_][A-Za-z0-9_]*$")}
    hf |= {"null", "true", "false", "{", "}", "[", "]", "1e-300", "1e400", "-0", "4096", "\\u0000", "\\"}
    write_dict("hf", hf)
    compat = literals(["artifact/compat.c"], r"^[A-Za-z_][A-Za-z0-9_ ]*$")
    compat |= {'"%s": ' % w for w in literals(["artifact/compat.c"], r"^[a-z_][a-z0-9_]*$")}
    compat |= {"=== opt/shape.json\n", "=== opt/operator_graph.json\n", "=== llama3-8b/shape.json\n",
               "=== llama3-8b/operator_graph.json\n", "\n=== ", "null", "true", "false", "1e308", "-0", "[]", "{}"}
    write_dict("compat", compat)
    sched = {'"%s": ' % w for w in literals(["runtime/sched_read.c"], r"^[a-z_][a-z0-9_]*$")}
    sched |= {w for w in literals(["runtime/sched_read.c", "runtime/sched_write.c"], r"^[a-z][a-z0-9_.]*$")}
    sched |= {"null", "true", "false", "{", "}", "[", "]", "1e308", "-1", "1125899906842624", "0.5", "NaN"}
    write_dict("schedule", sched)


if __name__ == "__main__":
    dictionaries()
    h2_corpus()
    ir_corpus()
    npy_corpus()
    st_corpus()
    hf_corpus()
    compat_corpus()
    schedule_corpus()
    for n in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, n))
        size = sum(os.path.getsize(os.path.join(CORPUS, n, f)) for f in files)
        print("%-12s %3d files, %6d bytes" % (n, len(files), size))
