#!/usr/bin/env python3
"""big_readers.py: every reader on generated inputs of about 1 MB and 10 MB (issue 14: "10 MB generated
inputs of each format parse in linear time"). For each format it writes the two inputs under
BUILD/bench/big-readers, times the reader on each (the best of REPS runs of the harness that the
fuzz tests replay, tests/fuzz/replay_NAME, which reads the input and checks its oracles: a round
trip where a printer exists), and prints the times, the bytes per second and the ratio of the two
times against the ratio of the sizes. A ratio near the size ratio is linear; one near its square
is not.  usage: bench/big_readers.py BUILD [REPS [BASE_KIB]]   (from the source root; Python's
standard library only; BASE_KIB, default 1024, is the 1x size: ctest's smoke run uses 32)

Formats: .h2 (bench/gen_model's chain of ops, through checks and lowering), IR text (the
lowered IR of that model), the schedule JSON (h2c compile --dataflow=npu-only of that model),
.npy (one f4 array), safetensors (a header of many small tensors), config.json (a Llama config with
an id2label table, as classifier checkpoints have), and the artifact's baseline table and test-vector
JSON (their rows repeated)."""
import json
import os
import struct
import subprocess
import sys
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
REPS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
BASE = int(sys.argv[3]) * 1024 if len(sys.argv) > 3 else 1 << 20   # the 1x size (KiB on the command line)
OUT = os.path.join(BUILD, "bench", "big-readers")
REF = os.path.join("..", "shared", "reference")
MB = 1 << 20


def write(path, data):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def run(cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def best(cmd, env=None):
    t = None
    for _ in range(REPS):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            sys.exit("big_readers: %s exits %d:\n%s" % (" ".join(cmd), r.returncode, r.stderr.decode()[-2000:]))
        t = dt if t is None else min(t, dt)
    return t


# ---------------------------------------------------------------- generators: (size in bytes) -> path

def gen_h2(target, tag):
    # gen_model N writes ~200 bytes an op
    path = os.path.join(OUT, "model-%s.h2" % tag)
    n = max(10, int(target // 220))
    while True:
        with open(path, "w") as f:
            subprocess.run([os.path.join(BUILD, "bench", "gen_model"), str(n)], stdout=f, check=True)
        size = os.path.getsize(path)
        if size >= target * 0.9:
            return path
        n = int(n * target / size) + 1


def gen_ir(target, tag):
    h2 = gen_h2(target / 3.5, "for-ir-" + tag)   # the IR text of a model is ~3.5x its .h2
    path = os.path.join(OUT, "ir-%s.h2ir" % tag)
    run([os.path.join(BUILD, "h2c"), "compile", "-q", "--dataflow=npu-only", "--emit=ir", h2, "-o", path])
    return path


def gen_schedule(target, tag):
    # ~100 KB of schedule an op of gen_model's (each fc's weight slices loaded from all 128 banks)
    h2 = os.path.join(OUT, "model-for-schedule-%s.h2" % tag)
    with open(h2, "w") as f:
        subprocess.run([os.path.join(BUILD, "bench", "gen_model"), str(max(1, target // 105000))], stdout=f, check=True)
    d = os.path.join(OUT, "schedule-%s" % tag)
    os.makedirs(d, exist_ok=True)
    run([os.path.join(BUILD, "h2c"), "compile", "-q", "--dataflow=npu-only", "--emit=schedule", h2, "-o", d + "/"])
    name = [f for f in os.listdir(d) if f.endswith(".schedule.json")][0]
    return os.path.join(d, name)


def gen_npy(target, tag):
    body = struct.pack("<1024f", *[i * 0.5 for i in range(1024)]) * (target // 4096)
    n = len(body) // 4
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }" % n
    pad = 64 - (10 + len(header) + 1) % 64
    h = (header + " " * pad + "\n").encode()
    return write(os.path.join(OUT, "array-%s.npy" % tag), b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + body)


def gen_safetensors(target, tag):
    # ~90 bytes of header a tensor, 8 bytes of data each
    n = int(target / 98)
    hdr, off = {}, 0
    for i in range(n):
        hdr["model.layers.%d.mlp.w%d.weight" % (i // 8, i % 8)] = {"dtype": "F32", "shape": [2], "data_offsets": [off, off + 8]}
        off += 8
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return write(os.path.join(OUT, "model-%s.safetensors" % tag), struct.pack("<Q", len(h)) + h + b"\0" * off)


def gen_config(target, tag):
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256,
           "intermediate_size": 688, "num_attention_heads": 8, "num_key_value_heads": 4,
           "num_hidden_layers": 2, "vocab_size": 1000, "max_position_embeddings": 2048,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": False,
           "torch_dtype": "float16"}
    n = int(target / 55)
    cfg["id2label"] = {str(i): "LABEL_%d" % i for i in range(n)}
    cfg["label2id"] = {"LABEL_%d" % i: i for i in range(n)}
    return write(os.path.join(OUT, "config-%s.json" % tag), json.dumps(cfg, indent=1))


def gen_baselines(target, tag):
    with open(os.path.join(REF, "h2llm-baselines.txt")) as f:
        lines = f.read().splitlines()
    head = [l for l in lines if l.startswith("#") or l.startswith("model ")]
    body = [l for l in lines if l and l not in head]
    out, size = list(head), 0
    while size < target:
        out += body
        size += sum(len(l) + 1 for l in body)
    return write(os.path.join(OUT, "baselines-%s.txt" % tag), "\n".join(out) + "\n")


def gen_vectors(target, tag):
    with open(os.path.join(REF, "h2llm-testvectors.json")) as f:
        doc = json.load(f)
    one = len(json.dumps(doc["vectors"], indent=1)) / len(doc["vectors"])
    vec = doc["vectors"]
    doc["vectors"] = [vec[i % len(vec)] for i in range(int(target / one))]
    return write(os.path.join(OUT, "vectors-%s.json" % tag), json.dumps(doc, indent=1))


def fuzz_input(path, name):
    """The harness's input for a file: compat takes the artifact's model configs as '=== ' parts."""
    if name != "compat":
        return path
    parts = [open(path).read()]
    cfg = os.path.join(REF, "h2llm-configs")
    for m in sorted(os.listdir(cfg)):
        for f in ("shape.json", "operator_graph.json"):
            p = os.path.join(cfg, m, f)
            if os.path.isfile(p):
                parts.append("=== %s/%s\n%s" % (m, f, open(p).read()))
    text = "".join(p if p.endswith("\n") else p + "\n" for p in parts)
    return write(path + ".fuzz", text)


FORMATS = [
    (".h2 (front end, checks, lowering)", "h2", gen_h2),
    ("IR text (reader, verifier)", "ir", gen_ir),
    ("schedule JSON (reader, writer)", "schedule", gen_schedule),
    (".npy", "npy", gen_npy),
    ("safetensors header", "safetensors", gen_safetensors),
    ("config.json (import-hf)", "hf", gen_config),
    ("artifact baselines (compat)", "compat", gen_baselines),
    ("artifact test vectors (compat)", "compat", gen_vectors),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    env = dict(os.environ, TMPDIR=OUT)
    print("%-34s %10s %9s %10s %9s %10s  %s" % ("format", "1x bytes", "1x s", "10x bytes", "10x s", "MB/s 10x",
                                                 "time ratio / size ratio"))
    for label, harness, gen in FORMATS:
        if harness == "compat" and not os.path.isdir(REF):
            print("%-34s (no %s)" % (label, REF))
            continue
        row = []
        for tag, size in (("1x", BASE), ("10x", 10 * BASE)):
            p = gen(size, tag)
            inp = fuzz_input(p, harness)
            t = best([os.path.join(BUILD, "tests", "fuzz", "replay_" + harness), inp], env)
            row.append((os.path.getsize(p), t))
        (b1, t1), (b2, t2) = row
        print("%-34s %10d %9.3f %10d %9.3f %10.1f  %.1f / %.1f" % (label, b1, t1, b2, t2, b2 / MB / t2, t2 / t1, b2 / b1))


if __name__ == "__main__":
    main()
