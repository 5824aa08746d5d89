"""trace_check.py: validates a Chrome trace-event file as h2c run --trace writes it, the way a consumer
reads it (Perfetto's trace_processor is not in Debian): the JSON Object Format with traceEvents; every
event's required keys and types; one thread_name per track, each name once; on every track the slices
("ph": "X") in file order start at ascending times and never overlap unless nested; counters numeric.
  trace_check.py FILE.json [MIN_TRACKS]     exit 0 valid, 1 not"""
import json
import sys


def fail(msg):
    print("trace_check: %s: %s" % (sys.argv[1], msg))
    sys.exit(1)


def main():
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    min_tracks = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        fail("not the JSON Object Format (an object with a traceEvents list)")
    names = {}
    slices = {}
    counters = 0
    for i, e in enumerate(doc["traceEvents"]):
        if not isinstance(e, dict) or "ph" not in e or "name" not in e or "pid" not in e:
            fail("event %d lacks ph, name or pid" % i)
        ph = e["ph"]
        if ph == "M":
            if e["name"] == "thread_name":
                tid = e.get("tid")
                if not isinstance(tid, int) or not isinstance(e.get("args", {}).get("name"), str):
                    fail("event %d: a thread_name without its tid or name" % i)
                if tid in names:
                    fail("track %d named twice" % tid)
                if e["args"]["name"] in names.values():
                    fail("two tracks named %r" % e["args"]["name"])
                names[tid] = e["args"]["name"]
        elif ph == "X":
            for k in ("ts", "dur", "tid"):
                if not isinstance(e.get(k), (int, float)):
                    fail("event %d: %s is not a number" % (i, k))
            if e["dur"] < 0:
                fail("event %d: negative duration" % i)
            for k in ("op", "cmd", "bytes", "macs", "energy_pJ"):
                if k not in e.get("args", {}):
                    fail("event %d: args lack %s" % (i, k))
            slices.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"], i))
        elif ph == "C":
            args = e.get("args")
            if not isinstance(e.get("ts"), (int, float)) or not isinstance(args, dict) or not args or \
                    not all(isinstance(v, (int, float)) for v in args.values()):
                fail("event %d: a counter needs a ts and numeric args" % i)
            counters += 1
        else:
            fail("event %d: unexpected ph %r" % (i, ph))
    eps = 2e-6    # ts and dur are each printed to 6 decimals (1 ps): their sum may be 1 ps off
    for tid, sl in slices.items():
        if tid not in names:
            fail("track %d has slices but no thread_name" % tid)
        stack = []
        last = None
        for (a, b, i) in sl:
            if last is not None and a < last - eps:
                fail("track %s: event %d starts at %.6f, before the one before it (%.6f)" % (names[tid], i, a, last))
            last = a
            while stack and stack[-1] <= a + eps:
                stack.pop()
            if stack and b > stack[-1] + eps:
                fail("track %s: event %d [%.6f, %.6f) overlaps the slice it starts in" % (names[tid], i, a, b))
            stack.append(b)
    if len(slices) < min_tracks:
        fail("%d tracks with slices, expected at least %d" % (len(slices), min_tracks))
    print("trace_check: %s: valid: %d tracks, %d slices, %d counters" %
          (sys.argv[1], len(slices), sum(len(s) for s in slices.values()), counters))


main()
