/* bench_schedule.c: where the time of `h2c compile FILE.h2 -o DIR/ --jit` goes, stage by stage, best
 * of N runs: the front end and the pass pipeline, the schedule (memory map, command streams), its JSON
 * text, the kernels' C text, the JIT of every distinct kernel (one module, this thread: CPU seconds),
 * and the runtime's reader taking the text back. bench/run.sh also times the command itself.
 * usage: bench_schedule FILE.h2 [RUNS]   (from the repository root) */
#include "backend.h"
#include "frontend.h"
#include "runtime.h"

#include <stdlib.h>
#include <time.h>

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum { FRONT, SCHED, JSON, CTEXT, JIT, READ, NSTAGES };
static const char *const stage_names[NSTAGES] = {
    "front end + passes", "schedule (memory map, streams)", "schedule JSON text", "kernels as C text",
    "JIT of every kernel", "runtime reader (parse + check)"};

int main(int argc, char **argv) {
    const char *file = argc > 1 ? argv[1] : "examples/llama3-8b.h2";
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    double best[NSTAGES], cpu_best[NSTAGES];
    for (int k = 0; k < NSTAGES; k++)
        best[k] = cpu_best[k] = 1e30;
    int nkernels = 0, ncmds = 0;
    size_t bytes = 0;
    for (int r = 0; r < runs; r++) {
        double t[NSTAGES + 1], c[NSTAGES + 1];
        Diag d;
        diag_init(&d, stderr);
        d.quiet = true;     /* (the sparsity note of the examples) */
        t[0] = h2c_seconds();
        c[0] = cpu_seconds();
        Session s;
        session_init(&s, &d);
        AstFile *root = fe_load(&s, file);
        Config *cfg = root ? fe_check(&s, root, NULL) : NULL;
        Module *m = cfg ? ir_lower(cfg, &d) : NULL;
        PipelineOpts po = {NULL, NULL, false, false, true, stderr};
        if (!m || !pipeline_run(m, default_pipeline, default_pipeline_len, &po, &d)) {
            fprintf(stderr, "bench_schedule: %s does not compile\n", file);
            return 1;
        }
        t[1] = h2c_seconds();
        c[1] = cpu_seconds();
        Schedule *sc = be_schedule_build(m, "bench", &d);
        if (!sc) {
            fprintf(stderr, "bench_schedule: no schedule for %s\n", file);
            return 1;
        }
        t[2] = h2c_seconds();
        c[2] = cpu_seconds();
        JsonText text;
        be_schedule_render(sc, &text);
        t[3] = h2c_seconds();
        c[3] = cpu_seconds();
        const KernelDesc *k = be_schedule_kernels(sc, &nkernels);
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        KernelOptions ko = {0};
        be_emit_kernels(&be_target_c, mem, "bench", k, nkernels, &ko, &d);
        fclose(mem);
        free(buf);
        t[4] = h2c_seconds();
        c[4] = cpu_seconds();
        KernelJit *j = be_jit_compile(k, nkernels, &ko, &d);
        t[5] = h2c_seconds();
        c[5] = cpu_seconds();
        RtSchedule *rs = rt_schedule_parse("bench.schedule.json", text.text, text.len, &d);
        t[6] = h2c_seconds();
        c[6] = cpu_seconds();
        if (!j || !rs) {
            fprintf(stderr, "bench_schedule: the JIT or the reader failed\n");
            return 1;
        }
        ncmds = 0;
        for (int p = 0; p < 2; p++)
            for (int b = 0; b < RT_SCHED_SCOPE_COUNT_; b++)
                ncmds += rs->phase[p].body[b].ncmds;
        bytes = text.len;
        for (int s2 = 0; s2 < NSTAGES; s2++) {
            if (t[s2 + 1] - t[s2] < best[s2])
                best[s2] = t[s2 + 1] - t[s2];
            if (c[s2 + 1] - c[s2] < cpu_best[s2])
                cpu_best[s2] = c[s2 + 1] - c[s2];
        }
        rt_schedule_free(rs);
        be_jit_free(j);
        be_json_text_free(&text);
        be_schedule_free(sc);
        ir_module_free(m);
        session_free(&s);
    }
    printf("%s: %d kernels, %d commands (one pass over each scope), %zu bytes of JSON; best of %d runs:\n", file,
           nkernels, ncmds, bytes, runs);
    double sum = 0, csum = 0;
    for (int s2 = 0; s2 < NSTAGES; s2++) {
        printf("  %-32s %8.1f ms wall %8.1f ms CPU\n", stage_names[s2], best[s2] * 1e3, cpu_best[s2] * 1e3);
        if (s2 != READ) {
            sum += best[s2];
            csum += cpu_best[s2];
        }
    }
    printf("  %-32s %8.1f ms wall %8.1f ms CPU (compile with --jit on one thread, before writing files)\n", "total",
           sum * 1e3, csum * 1e3);
    return 0;
}
