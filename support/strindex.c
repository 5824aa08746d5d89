/* strindex.c: names to numbers in linear time (support/, the ground floor): an open-addressing
 * hash table over borrowed strings, for the readers and checkers that look names up once per
 * reference (50,000 ops must not cost 50,000^2 string comparisons). */
#include "support.h"

#include <string.h>

static uint64_t hash(const char *s) {
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void strindex_init(StrIndex *x) { memset(x, 0, sizeof *x); }

void strindex_free(StrIndex *x) {
    h2c_raw_free(x->keys, sizeof(const char *) * x->cap);
    h2c_raw_free(x->vals, sizeof(int) * x->cap);
    memset(x, 0, sizeof *x);
}

static bool grow(StrIndex *x) {
    size_t ncap = x->cap ? x->cap * 2 : 64;
    const char **keys = h2c_raw_alloc(sizeof(const char *) * ncap);
    int *vals = h2c_raw_alloc(sizeof(int) * ncap);
    if (!keys || !vals) {
        h2c_raw_free(keys, sizeof(const char *) * ncap);
        h2c_raw_free(vals, sizeof(int) * ncap);
        return false;
    }
    memset(keys, 0, sizeof(const char *) * ncap);
    for (size_t i = 0; i < x->cap; i++) {
        if (!x->keys[i])
            continue;
        size_t j = (size_t)hash(x->keys[i]) & (ncap - 1);
        while (keys[j])
            j = (j + 1) & (ncap - 1);
        keys[j] = x->keys[i];
        vals[j] = x->vals[i];
    }
    h2c_raw_free(x->keys, sizeof(const char *) * x->cap);
    h2c_raw_free(x->vals, sizeof(int) * x->cap);
    x->keys = keys;
    x->vals = vals;
    x->cap = ncap;
    return true;
}

int strindex_find(const StrIndex *x, const char *key) {
    if (!x->cap)
        return -1;
    size_t j = (size_t)hash(key) & (x->cap - 1);
    while (x->keys[j]) {
        if (strcmp(x->keys[j], key) == 0)
            return x->vals[j];
        j = (j + 1) & (x->cap - 1);
    }
    return -1;
}

int strindex_add(StrIndex *x, const char *key, int value) {
    if ((x->n + 1) * 2 > x->cap && !grow(x))
        return -2;
    size_t j = (size_t)hash(key) & (x->cap - 1);
    while (x->keys[j]) {
        if (strcmp(x->keys[j], key) == 0)
            return x->vals[j];
        j = (j + 1) & (x->cap - 1);
    }
    x->keys[j] = key;
    x->vals[j] = value;
    x->n++;
    return -1;
}
