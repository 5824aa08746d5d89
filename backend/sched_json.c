/* sched_json.c: the schedule's text layout (backend.h). cJSON prints either everything on one line
 * or every value on a line of its own; a schedule reads best in between: the document's structure
 * indented, and each record (a command, a kernel, a unit, a region) on one line, so that a diff of
 * two schedules is a diff of commands. runtime/sched_write.c prints the same layout, which the
 * round-trip test compares byte for byte. */
#include "backend.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

/* Arrays of records: each element on a line of its own. */
static const char *const record_lists[] = {"commands", "kernels", "regions", "ops", "constants", "energy",
                                           "units", "links", "tiles", "tensors", "attention", "patterns",
                                           "streams", NULL};

static bool is_record_list(const char *key) {
    for (int i = 0; key && record_lists[i]; i++)
        if (strcmp(key, record_lists[i]) == 0)
            return true;
    return false;
}

static bool is_container(const cJSON *n) { return cJSON_IsObject(n) || cJSON_IsArray(n); }

/* A container is spread over lines if it holds a list of records, or a member that is spread. */
static bool spread(const cJSON *n) {
    if (!is_container(n))
        return false;
    for (const cJSON *c = n->child; c; c = c->next) {
        if (cJSON_IsArray(c) && is_record_list(c->string))
            return true;
        if (is_container(c) && spread(c))
            return true;
    }
    return false;
}

typedef JsonText Out;

static void put(Out *o, const char *s, size_t n) {
    if (o->failed)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (o->len + n + 1 > cap)
            cap *= 2;
        char *t = h2c_raw_realloc(o->text, o->cap, cap);
        if (!t) {
            o->failed = true;
            return;
        }
        o->text = t;
        o->cap = cap;
    }
    memcpy(o->text + o->len, s, n);
    o->len += n;
    o->text[o->len] = 0;
}

static void puts_(Out *o, const char *s) { put(o, s, strlen(s)); }

static void put_key(Out *o, const char *s) {
    puts_(o, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': puts_(o, "\\\""); break;
        case '\\': puts_(o, "\\\\"); break;
        case '\b': puts_(o, "\\b"); break;
        case '\f': puts_(o, "\\f"); break;
        case '\n': puts_(o, "\\n"); break;
        case '\r': puts_(o, "\\r"); break;
        case '\t': puts_(o, "\\t"); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                puts_(o, esc);
            } else {
                put(o, (const char *)p, 1);
            }
        }
    }
    puts_(o, "\"");
}

/* A scalar as cJSON prints it; a container on one line, ", " and ": " between its parts. */
/* A number: an integer as one, anything else in the shortest of %.15g, %.16g and %.17g that reads back
 * exactly (fmt_double); a string escaped as JSON wants. */
static void put_scalar(Out *o, const cJSON *n) {
    char buf[64];
    if (cJSON_IsNumber(n)) {
        double v = n->valuedouble;
        if (!isfinite(v))
            snprintf(buf, sizeof buf, "null");
        else if (v == floor(v) && fabs(v) < 9007199254740992.0)
            snprintf(buf, sizeof buf, "%lld", (long long)v);
        else
            fmt_double(buf, sizeof buf, v);
        puts_(o, buf);
    } else if (cJSON_IsString(n)) {
        put_key(o, n->valuestring);
    } else {
        puts_(o, cJSON_IsTrue(n) ? "true" : cJSON_IsFalse(n) ? "false" : "null");
    }
}

/* A container on one line, ", " and ": " between its parts. */
static void put_compact(Out *o, const cJSON *n) {
    if (!is_container(n)) {
        put_scalar(o, n);
        return;
    }
    bool obj = cJSON_IsObject(n);
    puts_(o, obj ? "{" : "[");
    for (const cJSON *c = n->child; c; c = c->next) {
        if (obj) {
            put_key(o, c->string);
            puts_(o, ": ");
        }
        put_compact(o, c);
        if (c->next)
            puts_(o, ", ");
    }
    puts_(o, obj ? "}" : "]");
}

static void put_indent(Out *o, int n) {
    for (int i = 0; i < n; i++)
        puts_(o, "  ");
}

static void put_value(Out *o, const cJSON *n, const char *key, int depth) {
    bool list = cJSON_IsArray(n) && is_record_list(key);
    if (!is_container(n) || (!list && !spread(n))) {
        put_compact(o, n);
        return;
    }
    bool obj = cJSON_IsObject(n);
    if (!n->child) {
        puts_(o, obj ? "{}" : "[]");
        return;
    }
    puts_(o, obj ? "{\n" : "[\n");
    for (const cJSON *c = n->child; c; c = c->next) {
        put_indent(o, depth + 1);
        if (obj) {
            put_key(o, c->string);
            puts_(o, ": ");
        }
        put_value(o, c, obj ? c->string : NULL, depth + 1);
        puts_(o, c->next ? ",\n" : "\n");
    }
    put_indent(o, depth);
    puts_(o, obj ? "}" : "]");
}

bool be_json_render(const cJSON *root, JsonText *out) {
    memset(out, 0, sizeof *out);
    put_value(out, root, NULL, 0);
    puts_(out, "\n");
    if (out->failed)
        be_json_text_free(out);
    return !out->failed;
}

void be_json_text_free(JsonText *t) {
    h2c_raw_free(t->text, t->cap);
    bool failed = t->failed;
    memset(t, 0, sizeof *t);
    t->failed = failed;
}
