/* emu_trace.c: h2c run --trace FILE.json (runtime.h): the run as Chrome trace-event JSON, which
 * Perfetto and chrome://tracing open. One process (the device), one thread (track) per unit and link
 * with its name as metadata, one complete event ("ph": "X") per command run, at its emulated start
 * and duration in microseconds, with the op, the command, its bytes, MACs and energy as args; a
 * counter ("ph": "C") of the KV bytes the banks hold at each step. Written whole through
 * support/outfile.c. */
#include "runtime.h"

#include <stdarg.h>
#include <string.h>

struct RtTrace {
    const RtSchedule *s;
    char *text;
    size_t len, cap;
    bool *used;             /* per resource: has a slice (gets a name) */
    int nres;
    bool failed;
};

RtTrace *rt_trace_new(const RtSchedule *s) {
    RtTrace *t = h2c_raw_alloc(sizeof *t);
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    t->s = s;
    t->nres = s->dev.nunits + s->dev.nlinks;
    t->used = h2c_raw_alloc((size_t)t->nres + 1);
    if (!t->used) {
        h2c_raw_free(t, sizeof *t);
        return NULL;
    }
    memset(t->used, 0, (size_t)t->nres + 1);
    return t;
}

void rt_trace_free(RtTrace *t) {
    if (!t)
        return;
    if (t->text)
        h2c_raw_free(t->text, t->cap);
    h2c_raw_free(t->used, (size_t)t->nres + 1);
    h2c_raw_free(t, sizeof *t);
}

static bool put(RtTrace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool put(RtTrace *t, const char *fmt, ...) {
    if (t->failed)
        return false;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = t->cap - t->len;
        int n = t->cap ? vsnprintf(t->text + t->len, room, fmt, ap) : -2;
        va_end(ap);
        if (n >= 0 && (size_t)n < room) {
            t->len += (size_t)n;
            return true;
        }
        size_t cap = t->cap ? 2 * t->cap : 1 << 16;
        while (n >= 0 && cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *x = h2c_raw_realloc(t->text, t->cap, cap);
        if (!x) {
            t->failed = true;
            return false;
        }
        t->text = x;
        t->cap = cap;
    }
}

bool rt_trace_cmd(RtTrace *t, int phase, const RtStream *st, const RtCmd *c, const RtTimeCmd *tc, const char *op) {
    int res = st->link ? t->s->dev.nunits + st->id : st->id;
    t->used[res] = true;
    double en = 0;
    for (int k = 0; k < RT_ENERGY_COUNT; k++)
        en += tc->energy[k];
    return put(t,
               "{\"name\":\"%s %s\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.6f,\"dur\":%.6f,\"pid\":1,\"tid\":%d,"
               "\"args\":{\"phase\":\"%s\",\"op\":\"%s\",\"cmd\":%d,\"bytes\":%.0f,\"macs\":%.0f,\"energy_pJ\":%.3f}},\n",
               rt_cmd_names[c->kind], op, rt_cmd_names[c->kind], tc->start * 1e6, (tc->end - tc->start) * 1e6, res + 1,
               rt_phase_names[phase], op, c->id, tc->bytes, tc->macs, en * 1e12);
}

bool rt_trace_counter(RtTrace *t, const char *name, double ts, double value) {
    return put(t, "{\"name\":\"%s\",\"ph\":\"C\",\"ts\":%.6f,\"pid\":1,\"args\":{\"bytes\":%.0f}},\n", name, ts * 1e6,
               value);
}

typedef struct Out {
    const RtTrace *t;
    const RtTime *time;
} Out;

static void write_all(FILE *f, const void *ctx) {
    const Out *o = ctx;
    const RtTrace *t = o->t;
    fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", f);
    fprintf(f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"%s on %s\"}},\n", t->s->model_name,
            t->s->dev.name);
    char buf[64];
    for (int r = 0; r < t->nres; r++)
        if (t->used[r])
            fprintf(f, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"args\":{\"name\":\"%s\"}},\n", r + 1,
                    rt_time_resource_name(o->time, r, buf, sizeof buf));
    if (t->len)
        fwrite(t->text, 1, t->len, f);
    fputs("{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":1,\"args\":{\"sort_index\":0}}\n]}\n", f);
}

bool rt_trace_write(const RtTrace *t, const RtTime *time, const char *path, Diag *d) {
    if (t->failed) {
        diag_error(d, NOLOC, "%s: out of memory for the trace", path);
        return false;
    }
    Out o = {t, time};
    return outfile_write(path, write_all, &o, d);
}
