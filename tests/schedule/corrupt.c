/* corrupt.c: breaks a schedule the way a hand edit or a bad disk would, for the reader's tests
 * (tests/schedule/bad/<case>.edit). usage: corrupt IN OUT EDITS. Each line of EDITS is one edit:
 *   set PATH TEXT     the value at PATH (made if the last key is new) becomes TEXT, written as it is
 *                     (so NaN or 1e400 reach the file)
 *   del PATH          removes the member or element at PATH
 *   text OLD NEW      replaces the first OLD in the written text by NEW (words: no spaces)
 *   truncate N        keeps the first N bytes of the text (N < 0: drops the last -N)
 * PATH is $.key[3].key...; `#` starts a comment line. The document is written compactly. */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* The parent of PATH's last step, and that step: a key (*key) or an index (*idx). */
static cJSON *walk(cJSON *root, const char *path, char *key, int *idx) {
    if (path[0] != '$')
        return NULL;
    cJSON *cur = root, *parent = NULL;
    const char *p = path + 1;
    key[0] = 0;
    *idx = -1;
    while (*p) {
        parent = cur;
        if (*p == '.') {
            size_t n = strcspn(p + 1, ".[");
            snprintf(key, 256, "%.*s", (int)n, p + 1);
            *idx = -1;
            p += 1 + n;
            cur = cur ? cJSON_GetObjectItemCaseSensitive(cur, key) : NULL;
        } else if (*p == '[') {
            *idx = atoi(p + 1);
            key[0] = 0;
            p = strchr(p, ']');
            if (!p)
                return NULL;
            p++;
            cur = cur ? cJSON_GetArrayItem(cur, *idx) : NULL;
        } else {
            return NULL;
        }
        if (!cur && *p)
            return NULL;
    }
    return parent;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: corrupt IN OUT EDITS\n");
        return 2;
    }
    size_t len;
    char *text = slurp(argv[1], &len);
    if (!text) {
        fprintf(stderr, "corrupt: cannot read %s\n", argv[1]);
        return 1;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) {
        fprintf(stderr, "corrupt: %s is not JSON\n", argv[1]);
        return 1;
    }
    FILE *ef = fopen(argv[3], "r");
    if (!ef) {
        fprintf(stderr, "corrupt: cannot read %s\n", argv[3]);
        return 1;
    }
    char line[4096];
    struct { char old[512], new_[3000]; } texts[8];
    int ntexts = 0;
    long truncate = 0;
    bool has_truncate = false;
    while (fgets(line, sizeof line, ef)) {
        line[strcspn(line, "\n")] = 0;
        char op[16], path[512], val[3000];
        if (line[0] == '#' || line[0] == 0)
            continue;
        int n = sscanf(line, "%15s %511s %2999[^\n]", op, path, val);
        char key[256];
        int idx;
        if (strcmp(op, "set") == 0 && n == 3) {
            cJSON *parent = walk(root, path, key, &idx);
            if (!parent) {
                fprintf(stderr, "corrupt: no %s\n", path);
                return 1;
            }
            cJSON *v = cJSON_CreateRaw(val);
            if (idx >= 0)
                cJSON_ReplaceItemInArray(parent, idx, v);
            else if (cJSON_GetObjectItemCaseSensitive(parent, key))
                cJSON_ReplaceItemInObjectCaseSensitive(parent, key, v);
            else
                cJSON_AddItemToObject(parent, key, v);
        } else if (strcmp(op, "del") == 0 && n >= 2) {
            cJSON *parent = walk(root, path, key, &idx);
            if (!parent) {
                fprintf(stderr, "corrupt: no %s\n", path);
                return 1;
            }
            if (idx >= 0)
                cJSON_DeleteItemFromArray(parent, idx);
            else
                cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
        } else if (strcmp(op, "text") == 0 && n == 3 && ntexts < 8) {
            snprintf(texts[ntexts].old, sizeof texts[ntexts].old, "%s", path);
            snprintf(texts[ntexts].new_, sizeof texts[ntexts].new_, "%s", val);
            ntexts++;
        } else if (strcmp(op, "truncate") == 0 && n >= 2) {
            truncate = atol(path);
            has_truncate = true;
        } else {
            fprintf(stderr, "corrupt: cannot read the edit '%s'\n", line);
            return 1;
        }
    }
    fclose(ef);
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    size_t olen = strlen(out);
    for (int i = 0; i < ntexts; i++) {
        char *at = strstr(out, texts[i].old);
        if (!at) {
            fprintf(stderr, "corrupt: no '%s' in the text\n", texts[i].old);
            return 1;
        }
        size_t lo = strlen(texts[i].old), ln = strlen(texts[i].new_), pre = (size_t)(at - out);
        char *s = malloc(olen - lo + ln + 1);
        memcpy(s, out, pre);
        memcpy(s + pre, texts[i].new_, ln);
        memcpy(s + pre + ln, at + lo, olen - pre - lo + 1);
        free(out);
        out = s;
        olen = strlen(out);
    }
    if (has_truncate)
        olen = truncate >= 0 ? ((size_t)truncate < olen ? (size_t)truncate : olen)
                             : ((size_t)-truncate < olen ? olen - (size_t)-truncate : 0);
    FILE *of = fopen(argv[2], "wb");
    if (!of || fwrite(out, 1, olen, of) != olen || fclose(of) != 0) {
        fprintf(stderr, "corrupt: cannot write %s\n", argv[2]);
        return 1;
    }
    free(out);
    return 0;
}
