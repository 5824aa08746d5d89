/* gen_planted.c: synthetic calibration data with planted head patterns, for `h2c profile`'s test.
 * Half the KV heads (chosen by a seeded shuffle) are local: their queries attend to the most recent
 * tokens (a rotary pair makes q_t . k_j = A cos(pi (t - j) / tokens), steep enough that the keys past
 * the window get almost nothing) and to the sink tokens; the other half are retrieval heads: every
 * query attends to one needle far from both. Writes DIR/q.L.npy, k.L.npy, v.L.npy and prints the
 * planted kind of each head, `layer,head,local|retrieval`, on stdout.
 * usage: gen_planted DIR LAYERS HEADS KV_HEADS HEAD_DIM TOKENS QUERIES SINK WINDOW SEED */
#include "support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long rng;

static double uniform(void) { /* [0, 1) */
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static double noise(void) { return 0.05 * (2 * uniform() - 1); }

int main(int argc, char **argv) {
    if (argc != 11) {
        fprintf(stderr, "usage: gen_planted DIR LAYERS HEADS KV_HEADS HEAD_DIM TOKENS QUERIES SINK WINDOW SEED\n");
        return 2;
    }
    const char *dir = argv[1];
    int L = atoi(argv[2]), H = atoi(argv[3]), KV = atoi(argv[4]), d = atoi(argv[5]), T = atoi(argv[6]),
        NQ = atoi(argv[7]), S = atoi(argv[8]), W = atoi(argv[9]);
    rng = strtoull(argv[10], NULL, 10);
    int g = H / KV, needle = T / 3;
    if (d < 8 || H % KV || NQ > T || needle < S || needle + W + NQ >= T) {
        fprintf(stderr, "gen_planted: bad sizes\n");
        return 2;
    }
    /* which heads are local: a shuffle of half local, half retrieval */
    int n = L * KV, *local = calloc((size_t)n, sizeof(int)), *perm = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++)
        perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(uniform() * (i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int i = 0; i < n / 2; i++)
        local[perm[i]] = 1;
    float *q = malloc(sizeof(float) * (size_t)H * NQ * d), *k = malloc(sizeof(float) * (size_t)KV * T * d),
          *v = malloc(sizeof(float) * (size_t)KV * T * d);
    double rs = sqrt((double)d), w = M_PI / T;  /* queries carry sqrt(d): scores come out in logits */
    Diag dg;
    diag_init(&dg, stderr);
    for (int l = 0; l < L; l++) {
        for (int j = 0; j < KV; j++) {
            int cell = l * KV + j;
            double A = 300 + 15 * (cell % 7), C = 10 + (cell % 5);    /* each head a little different */
            for (int t = 0; t < T; t++) {
                float *kr = k + ((size_t)j * T + t) * d, *vr = v + ((size_t)j * T + t) * d;
                for (int c = 0; c < d; c++) {
                    kr[c] = (float)noise();
                    vr[c] = (float)(2 * uniform() - 1);
                }
                if (local[cell]) {
                    kr[0] = (float)cos(w * t);
                    kr[1] = (float)sin(w * t);
                    kr[2] = t < S ? 1.0f : 0.0f;
                } else {
                    kr[3] = t == needle ? 1.0f : 0.0f;
                }
            }
            for (int h = 0; h < g; h++)
                for (int i = 0; i < NQ; i++) {
                    int t = T - NQ + i;
                    float *qr = q + (((size_t)(j * g + h) * NQ + i) * d);
                    for (int c = 0; c < d; c++)
                        qr[c] = (float)(rs * noise());
                    if (local[cell]) {
                        qr[0] = (float)(rs * A * cos(w * t));
                        qr[1] = (float)(rs * A * sin(w * t));
                        qr[2] = (float)(rs * (2 * A - 2));  /* a sink's score: about A - 2 */
                    } else {
                        qr[3] = (float)(rs * C);
                    }
                }
        }
        char path[4096];
        int64_t qd[3] = {H, NQ, d}, kd[3] = {KV, T, d};
        snprintf(path, sizeof path, "%s/q.%d.npy", dir, l);
        if (!npy_write_file(&dg, path, NPY_F32, 3, qd, q))
            return 1;
        snprintf(path, sizeof path, "%s/k.%d.npy", dir, l);
        if (!npy_write_file(&dg, path, NPY_F32, 3, kd, k))
            return 1;
        snprintf(path, sizeof path, "%s/v.%d.npy", dir, l);
        if (!npy_write_file(&dg, path, NPY_F32, 3, kd, v))
            return 1;
    }
    for (int c = 0; c < n; c++)
        printf("%d,%d,%s\n", c / KV, c % KV, local[c] ? "local" : "retrieval");
    free(local);
    free(perm);
    free(q);
    free(k);
    free(v);
    return 0;
}
