/* safetensors.c: Hugging Face checkpoints in the safetensors format, read strictly: an 8-byte
 * little-endian header length, a JSON header (tensor name -> dtype, shape, data_offsets; an
 * optional __metadata__ of strings), then the data. Files are memory-mapped; a sharded checkpoint
 * is found through model.safetensors.index.json. Everything is checked before a byte of data is
 * used: the header's length against the file, its JSON, every entry's fields, dtype (F32, F16,
 * BF16), shape against byte range, ranges inside the data and neither overlapping nor leaving
 * holes, names given once. Errors name the file and, where it helps, the tensor; never a crash.
 * Rows are handed out converted to double, a block at a time (docs/runtime.md §3). */
#include "runtime.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_HEADER = 100 << 20, MAX_FILES = 1024, MAX_TENSORS = 1 << 20 };

static const char *const dtype_names[ST_DTYPE_COUNT_] = {"F32", "F16", "BF16"};
static const int dtype_size[ST_DTYPE_COUNT_] = {4, 2, 2};

const char *st_dtype_name(StDtype t) { return t < ST_DTYPE_COUNT_ ? dtype_names[t] : "?"; }

static bool fail(StModel *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(StModel *m, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err, sizeof m->err, fmt, ap);
    va_end(ap);
    return false;
}

/* Maps one file and reads its header into m's table. */
static bool open_file(StModel *m, const char *path) {
    if (m->nfiles >= MAX_FILES)
        return fail(m, "%s: more than %d shards", path, MAX_FILES);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return fail(m, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(m, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    if (size < 8) {
        close(fd);
        return fail(m, "%s: %zu bytes: too short for the 8-byte header length", path, size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return fail(m, "%s: cannot map: %s", path, strerror(errno));
    StFile *f = &m->files[m->nfiles++];
    f->path = strdup(path);
    f->map = map;
    f->size = size;
    if (!f->path)
        return fail(m, "out of memory");
    const unsigned char *b = map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | b[i];
    if (hlen > size - 8)
        return fail(m, "%s: the header claims %llu bytes but only %zu follow the length", path,
                    (unsigned long long)hlen, size - 8);
    if (hlen > MAX_HEADER)
        return fail(m, "%s: a header of %llu bytes is over the %d MiB h2c reads", path, (unsigned long long)hlen,
                    MAX_HEADER >> 20);
    if (hlen < 2)
        return fail(m, "%s: the header is %llu bytes, too short for a JSON object", path, (unsigned long long)hlen);
    const char *h = (const char *)b + 8;
    if (memchr(h, 0, (size_t)hlen))
        return fail(m, "%s: the header holds a NUL byte", path);
    f->data = (const unsigned char *)h + hlen;
    f->data_size = size - 8 - (size_t)hlen;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(h, (size_t)hlen, &end, false);
    if (!root)
        return fail(m, "%s: the header is not JSON (at byte %td of it)", path, end ? end - h : 0);
    /* nothing but spaces after the object (the format pads with spaces) */
    for (const char *p = end; p && p < h + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return fail(m, "%s: bytes after the header's JSON object (at byte %td of it)", path, p - h);
        }
    bool ok = true;
    if (!cJSON_IsObject(root))
        ok = fail(m, "%s: the header is not a JSON object", path);
    int first = m->n;
    for (const cJSON *e = ok ? root->child : NULL; e && ok; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e))
                ok = fail(m, "%s: __metadata__ is not an object", path);
            for (const cJSON *k = ok ? e->child : NULL; k && ok; k = k->next)
                if (!cJSON_IsString(k))
                    ok = fail(m, "%s: __metadata__.%s is not a string", path, k->string);
            continue;
        }
        if (m->n >= MAX_TENSORS) {
            ok = fail(m, "%s: more than %d tensors", path, MAX_TENSORS);
            break;
        }
        const char *name = e->string;
        if (!cJSON_IsObject(e)) {
            ok = fail(m, "%s: tensor '%s' is not an object", path, name);
            break;
        }
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype"), *sh = cJSON_GetObjectItemCaseSensitive(e, "shape"),
                    *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2) {
            ok = fail(m, "%s: tensor '%s' needs a string 'dtype', a list 'shape' and two 'data_offsets'", path, name);
            break;
        }
        int dtype = -1;
        for (int t = 0; t < ST_DTYPE_COUNT_; t++)
            if (strcmp(dt->valuestring, dtype_names[t]) == 0)
                dtype = t;
        if (dtype < 0) {
            ok = fail(m, "%s: tensor '%s' is %s; h2c reads F32, F16 and BF16", path, name, dt->valuestring);
            break;
        }
        if (m->n == m->cap) {
            int nc = m->cap ? m->cap * 2 : 64;
            StTensor *nt = realloc(m->t, sizeof(StTensor) * (size_t)nc);
            if (!nt) {
                ok = fail(m, "out of memory");
                break;
            }
            m->t = nt;
            m->cap = nc;
        }
        StTensor *t = &m->t[m->n];
        memset(t, 0, sizeof *t);
        t->dtype = (StDtype)dtype;
        t->file = m->nfiles - 1;
        int rank = cJSON_GetArraySize(sh);
        if (rank > ST_MAX_RANK) {
            ok = fail(m, "%s: tensor '%s' has %d dimensions (h2c reads up to %d)", path, name, rank, ST_MAX_RANK);
            break;
        }
        t->rank = rank;
        double elems = 1;
        for (int i = 0; i < rank && ok; i++) {
            const cJSON *d = cJSON_GetArrayItem(sh, i);
            if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble != floor(d->valuedouble) ||
                d->valuedouble > 9007199254740992.0)
                ok = fail(m, "%s: tensor '%s': dimension %d is not a whole number >= 0", path, name, i);
            else
                t->dims[i] = (int64_t)d->valuedouble;
            elems *= d->valuedouble;
        }
        double lo = cJSON_GetArrayItem(off, 0)->valuedouble, hi = cJSON_GetArrayItem(off, 1)->valuedouble;
        if (ok && (!cJSON_IsNumber(cJSON_GetArrayItem(off, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(off, 1)) ||
                   lo < 0 || hi < lo || lo != floor(lo) || hi != floor(hi)))
            ok = fail(m, "%s: tensor '%s': data_offsets must be two whole numbers, begin <= end", path, name);
        if (ok && hi > (double)f->data_size)
            ok = fail(m, "%s: tensor '%s': bytes %.0f..%.0f run past the data's %zu bytes", path, name, lo, hi,
                      f->data_size);
        if (ok && elems * dtype_size[dtype] != hi - lo)
            ok = fail(m, "%s: tensor '%s': shape holds %.0f bytes of %s, its data_offsets %.0f", path, name,
                      elems * dtype_size[dtype], dtype_names[dtype], hi - lo);
        if (!ok)
            break;
        t->offset = (size_t)lo;
        t->nbytes = (size_t)(hi - lo);
        t->name = strdup(name);
        if (!t->name) {
            ok = fail(m, "out of memory");
            break;
        }
        m->n++;
    }
    cJSON_Delete(root);
    if (!ok)
        return false;
    /* the data: every byte belongs to one tensor (no overlap, no hole) */
    int cnt = m->n - first;
    int *idx = malloc(sizeof(int) * (size_t)(cnt + 1));
    if (!idx)
        return fail(m, "out of memory");
    for (int i = 0; i < cnt; i++)
        idx[i] = first + i;
    for (int i = 1; i < cnt; i++)     /* insertion sort by offset: headers are in order already */
        for (int j = i; j > 0 && m->t[idx[j]].offset < m->t[idx[j - 1]].offset; j--) {
            int x = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = x;
        }
    size_t at = 0;
    for (int i = 0; i < cnt && ok; i++) {
        const StTensor *t = &m->t[idx[i]];
        if (t->offset < at)
            ok = fail(m, "%s: tensor '%s' overlaps the tensor before it in the data", path, t->name);
        else if (t->offset > at)
            ok = fail(m, "%s: %zu bytes before tensor '%s' belong to no tensor", path, t->offset - at, t->name);
        at = t->offset + t->nbytes;
    }
    if (ok && at != f->data_size)
        ok = fail(m, "%s: %zu bytes at the end of the data belong to no tensor", path, f->data_size - at);
    free(idx);
    return ok;
}

typedef struct NameAt {
    const char *name;
    int i;
} NameAt;

static int cmp_name_at(const void *a, const void *b) {
    return strcmp(((const NameAt *)a)->name, ((const NameAt *)b)->name);
}

/* The name index, and names given twice (in one header, which cJSON would keep silently, or in two
 * shards). */
static bool index_names(StModel *m) {
    free(m->byname);
    m->byname = malloc(sizeof(int) * (size_t)(m->n + 1));
    NameAt *v = malloc(sizeof(NameAt) * (size_t)(m->n + 1));
    if (!m->byname || !v) {
        free(v);
        return fail(m, "out of memory");
    }
    for (int i = 0; i < m->n; i++)
        v[i] = (NameAt){m->t[i].name, i};
    qsort(v, (size_t)m->n, sizeof(NameAt), cmp_name_at);
    bool ok = true;
    for (int i = 0; i < m->n; i++) {
        m->byname[i] = v[i].i;
        if (i > 0 && ok && strcmp(v[i - 1].name, v[i].name) == 0)
            ok = fail(m, "tensor '%s' is given twice", v[i].name);
    }
    free(v);
    return ok;
}

bool st_open(const char *path, StModel *m) {
    memset(m, 0, sizeof *m);
    m->files = calloc(MAX_FILES, sizeof(StFile));
    if (!m->files)
        return fail(m, "out of memory");
    struct stat st;
    if (stat(path, &st) != 0)
        return fail(m, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return open_file(m, path) && index_names(m);
    /* a folder: the index of a sharded checkpoint, else model.safetensors */
    char p[4096];
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", path);
    FILE *fi = fopen(p, "rb");
    if (!fi) {
        snprintf(p, sizeof p, "%s/model.safetensors", path);
        return open_file(m, p) && index_names(m);
    }
    /* read in a buffer that grows as the file does (an index is some KiB; MAX_HEADER + 1 bytes at
       once cost 100 MiB of address space for each) */
    char *text = NULL;
    size_t len = 0, cap = 0;
    bool nomem = false;
    while (len == cap && cap <= MAX_HEADER) {
        size_t ncap = cap ? (cap * 2 < MAX_HEADER + 1 ? cap * 2 : MAX_HEADER + 1) : 1 << 16;
        char *nt = realloc(text, ncap);
        if (!nt) {
            nomem = true;
            break;
        }
        text = nt;
        cap = ncap;
        len += fread(text + len, 1, cap - len, fi);
    }
    fclose(fi);
    if (nomem) {
        free(text);
        return fail(m, "out of memory");
    }
    if (len > MAX_HEADER) {
        free(text);
        return fail(m, "%s: larger than %d MiB", p, MAX_HEADER >> 20);
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root)
        return fail(m, "%s: not JSON", p);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    bool ok = true;
    if (!cJSON_IsObject(wm))
        ok = fail(m, "%s: no 'weight_map' object", p);
    /* each shard once, in the order first named */
    for (const cJSON *e = ok ? wm->child : NULL; e && ok; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || strcmp(e->valuestring, "..") == 0 ||
            e->valuestring[0] == '.') {
            ok = fail(m, "%s: weight_map['%s'] is not a file name in the folder", p, e->string);
            break;
        }
        char shard[4096];
        snprintf(shard, sizeof shard, "%s/%s", path, e->valuestring);
        bool seen = false;
        for (int i = 0; i < m->nfiles && !seen; i++)
            seen = strcmp(m->files[i].path, shard) == 0;
        if (!seen)
            ok = open_file(m, shard);
    }
    /* every name the index lists is in the shard it names */
    ok = ok && index_names(m);
    for (const cJSON *e = ok ? wm->child : NULL; e && ok; e = e->next) {
        const StTensor *t = st_find(m, e->string);
        char shard[4096];
        snprintf(shard, sizeof shard, "%s/%s", path, e->valuestring);
        if (!t)
            ok = fail(m, "%s: '%s' is not in %s", p, e->string, shard);
        else if (strcmp(m->files[t->file].path, shard) != 0)
            ok = fail(m, "%s: '%s' is in %s, not %s", p, e->string, m->files[t->file].path, shard);
    }
    cJSON_Delete(root);
    return ok;
}

void st_close(StModel *m) {
    free(m->byname);
    for (int i = 0; i < m->n; i++)
        free(m->t[i].name);
    free(m->t);
    for (int i = 0; i < m->nfiles; i++) {
        if (m->files[i].map)
            munmap(m->files[i].map, m->files[i].size);
        free(m->files[i].path);
    }
    free(m->files);
    memset(m, 0, sizeof *m);
}

const StTensor *st_find(const StModel *m, const char *name) {
    if (!m->byname)
        return NULL;
    int lo = 0, hi = m->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(m->t[m->byname[mid]].name, name);
        if (c == 0)
            return &m->t[m->byname[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static double f16_to_double(uint16_t h) {
    int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
    double v;
    if (exp == 0)
        v = ldexp(man, -24);
    else if (exp == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexp(man | 1024, exp - 25);
    return sign ? -v : v;
}

double st_element(const StModel *m, const StTensor *t, size_t i) {
    const unsigned char *p = m->files[t->file].data + t->offset + i * (size_t)dtype_size[t->dtype];
    switch (t->dtype) {
    case ST_F32: {
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case ST_F16: return f16_to_double((uint16_t)(p[0] | p[1] << 8));
    case ST_BF16: {
        uint32_t u = ((uint32_t)p[0] | (uint32_t)p[1] << 8) << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    default: return NAN;
    }
}

size_t st_count(const StTensor *t) {
    size_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= (size_t)t->dims[i];
    return n;
}
