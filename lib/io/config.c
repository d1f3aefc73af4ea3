#include "io/config.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* A growable list of dotted paths. Configs have tens of keys, so linear
 * search is fine and keeps the order in which keys were asked for. */
typedef struct {
    char **items;
    size_t len, cap;
} path_list;

struct nn_config {
    cJSON *root;
    char *origin;
    path_list known;    /* paths a getter asked for */
    path_list accepted; /* paths whose whole subtree is known */
    int oom;            /* nn_config_accept failed to record (it returns void) */
};

/* Longest quoted value shown in a message; a stray array should not flood it. */
#define FOUND_MAX 48
/* A section's valid keys are listed only when the list stays readable. */
#define LIST_MAX_KEYS 12

static nn_status oom(void) { return nn_error(NN_ERR_RUNTIME, "config: out of memory"); }

/* ---- path lists ---- */

static int list_has(const path_list *l, const char *s)
{
    for (size_t i = 0; i < l->len; i++)
        if (strcmp(l->items[i], s) == 0) return 1;
    return 0;
}

static int list_add(path_list *l, const char *s)
{
    if (list_has(l, s)) return 1;
    if (l->len == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **items = realloc(l->items, cap * sizeof *items);
        if (!items) return 0;
        l->items = items;
        l->cap = cap;
    }
    char *copy = strdup(s);
    if (!copy) return 0;
    l->items[l->len++] = copy;
    return 1;
}

static void list_free(path_list *l)
{
    for (size_t i = 0; i < l->len; i++) free(l->items[i]);
    free(l->items);
}

/* 1 if `path` names an ancestor of `full` ("train" of "train.epochs"). */
static int is_ancestor(const char *path, const char *full)
{
    size_t n = strlen(path);
    return strncmp(full, path, n) == 0 && full[n] == '.';
}

/* ---- messages ---- */

/* Compact JSON for "found ..."; strings keep their quotes so "10" and 10
 * are told apart. */
static void describe(const cJSON *v, char *buf, size_t size)
{
    char *s = cJSON_PrintUnformatted(v);
    if (!s) {
        snprintf(buf, size, "a value");
        return;
    }
    if (strlen(s) > FOUND_MAX)
        snprintf(buf, size, "%.*s...", FOUND_MAX, s);
    else
        snprintf(buf, size, "%s", s);
    free(s);
}

static const char *type_name(const cJSON *v)
{
    if (cJSON_IsObject(v)) return "an object";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    return "null";
}

static nn_status found_error(const nn_config *c, const char *path, const char *expected,
                             const cJSON *found)
{
    char buf[FOUND_MAX + 8];
    describe(found, buf, sizeof buf);
    return nn_error(NN_ERR_INPUT, "%s: %s: expected %s, found %s", c->origin, path, expected, buf);
}

/* The error for "a.b" in "a.b.c" holding a non-object: it names the
 * component in the way, since that is the key the user has to change. */
static nn_status not_object_error(const nn_config *c, const char *path, size_t prefix_len,
                                  const cJSON *found)
{
    char buf[FOUND_MAX + 8];
    describe(found, buf, sizeof buf);
    return nn_error(NN_ERR_INPUT, "%s: %.*s: expected an object (holding `%s`), found %s",
                    c->origin, (int)prefix_len, path, path, buf);
}

/* Levenshtein distance; SIZE_MAX when out of memory (treated as "far"). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = malloc((lb + 1) * sizeof *row);
    if (!row) return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[lb];
    free(row);
    return d;
}

/* The candidate closest to `word`, if it is close enough to be a likely typo. */
static const char *closest(const char *word, const char *const *cands, size_t n)
{
    size_t len = strlen(word);
    size_t limit = len / 3 > 2 ? len / 3 : 2;
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, cands[i]);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    return best_d <= limit ? best : NULL;
}

/* ---- tree access ---- */

/* Follows `path` from the root. Returns the item, or NULL when a component
 * is absent. When an intermediate component exists but is not an object,
 * returns NULL and sets *blocker and *blocker_len (the prefix naming it). */
static cJSON *lookup(const cJSON *root, const char *path, const cJSON **blocker,
                     size_t *blocker_len)
{
    *blocker = NULL;
    const cJSON *node = root;
    const char *p = path;
    char key[256];
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char *k = n < sizeof key ? key : malloc(n + 1);
        if (!k) return NULL; /* as absent: the insert that follows reports it */
        memcpy(k, p, n);
        k[n] = '\0';
        const cJSON *child = cJSON_GetObjectItemCaseSensitive(node, k);
        if (k != key) free(k);
        if (!child || !dot) return (cJSON *)child;
        if (!cJSON_IsObject(child)) {
            *blocker = child;
            *blocker_len = (size_t)(dot - path);
            return NULL;
        }
        node = child;
        p = dot + 1;
    }
}

/* The item at `path` or NULL; an intermediate non-object is an error. */
static nn_status find(const nn_config *c, const char *path, cJSON **out)
{
    const cJSON *blocker;
    size_t blen = 0;
    *out = lookup(c->root, path, &blocker, &blen);
    if (blocker) return not_object_error(c, path, blen, blocker);
    return NN_OK;
}

/* Stores `item` at `path` (taking ownership, also on failure), creating
 * missing objects on the way and replacing a value already there. */
static nn_status insert(nn_config *c, const char *path, cJSON *item)
{
    if (!item) return oom();
    char *copy = strdup(path);
    if (!copy) {
        cJSON_Delete(item);
        return oom();
    }
    nn_status st = NN_OK;
    cJSON *node = c->root;
    char *p = copy;
    char *dot;
    while ((dot = strchr(p, '.')) != NULL) {
        *dot = '\0';
        cJSON *child = cJSON_GetObjectItemCaseSensitive(node, p);
        if (!child) {
            child = cJSON_CreateObject();
            if (!child || !cJSON_AddItemToObject(node, p, child)) {
                cJSON_Delete(child);
                st = oom();
                goto fail;
            }
        } else if (!cJSON_IsObject(child)) {
            st = not_object_error(c, path, (size_t)(dot - copy), child);
            goto fail;
        }
        node = child;
        p = dot + 1;
    }
    /* ReplaceItemInObject (unlike ...ViaPointer) also gives `item` its key. */
    int done = cJSON_GetObjectItemCaseSensitive(node, p)
                   ? cJSON_ReplaceItemInObjectCaseSensitive(node, p, item)
                   : cJSON_AddItemToObject(node, p, item);
    if (!done) {
        st = oom();
        goto fail;
    }
    free(copy);
    return NN_OK;
fail:
    cJSON_Delete(item);
    free(copy);
    return st;
}

/* Paths from code are constants; a malformed one is our bug, not the user's. */
static void assert_code_path(const char *path)
{
    NN_ASSERT(path && path[0] && path[0] != '.' && path[strlen(path) - 1] != '.' &&
              !strstr(path, ".."));
}

/* Records `path` as asked for and finds it. */
static nn_status ask(nn_config *c, const char *path, cJSON **out)
{
    assert_code_path(path);
    if (!list_add(&c->known, path)) return oom();
    return find(c, path, out);
}

/* ---- parsing ---- */

/* Duplicate keys are legal to cJSON, which then reads only the first: the
 * user's second value would be silently ignored. */
static nn_status check_duplicates(const nn_config *c, const cJSON *obj, const char *prefix)
{
    for (const cJSON *a = obj->child; a; a = a->next) {
        for (const cJSON *b = obj->child; b != a; b = b->next)
            if (strcmp(a->string, b->string) == 0)
                return nn_error(NN_ERR_INPUT, "%s: duplicate key `%s%s%s`", c->origin, prefix,
                                *prefix ? "." : "", a->string);
        if (cJSON_IsObject(a)) {
            size_t n = strlen(prefix) + strlen(a->string) + 2;
            char *sub = malloc(n);
            if (!sub) return oom();
            snprintf(sub, n, "%s%s%s", prefix, *prefix ? "." : "", a->string);
            nn_status st = check_duplicates(c, a, sub);
            free(sub);
            NN_TRY(st);
        }
    }
    return NN_OK;
}

static nn_status syntax_error(const char *origin, const char *text, const char *at)
{
    long line = 1;
    const char *line_start = text;
    for (const char *p = text; p < at; p++)
        if (*p == '\n') {
            line++;
            line_start = p + 1;
        }
    long col = (long)(at - line_start) + 1;
    if (!*at)
        return nn_error(NN_ERR_INPUT, "%s:%ld:%ld: invalid JSON: unexpected end of input", origin,
                        line, col);
    char near[16];
    size_t n = 0;
    for (const char *p = at; *p && *p != '\n' && n < 10; p++)
        near[n++] = (*p == '`' || (unsigned char)*p < 0x20) ? ' ' : *p;
    near[n] = '\0';
    return nn_error(NN_ERR_INPUT, "%s:%ld:%ld: invalid JSON near `%s`", origin, line, col, near);
}

nn_status nn_config_parse(nn_config **out, const char *text, const char *origin)
{
    *out = NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) return syntax_error(origin, text, end ? end : text);
    if (!cJSON_IsObject(root)) {
        nn_status st = nn_error(NN_ERR_INPUT, "%s: expected a JSON object at the top level, found %s",
                                origin, type_name(root));
        cJSON_Delete(root);
        return st;
    }
    nn_config *c = calloc(1, sizeof *c);
    if (!c || !(c->origin = strdup(origin))) {
        free(c);
        cJSON_Delete(root);
        return oom();
    }
    c->root = root;
    nn_status st = check_duplicates(c, root, "");
    if (st != NN_OK) {
        nn_config_free(c);
        return st;
    }
    *out = c;
    return NN_OK;
}

nn_status nn_config_load(nn_config **out, const char *path)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return nn_error(NN_ERR_INPUT, "%s: cannot open config: %s", path, strerror(errno));
    /* Read in chunks rather than trusting a size from fseek: works for
     * pipes, and a directory fails here with EISDIR. */
    size_t len = 0, cap = 4096;
    char *text = malloc(cap);
    nn_status st = NN_OK;
    while (text) {
        len += fread(text + len, 1, cap - len - 1, f);
        if (ferror(f)) {
            st = nn_error(NN_ERR_INPUT, "%s: cannot open config: %s", path, strerror(errno));
            break;
        }
        if (feof(f)) break;
        if (cap - len - 1 == 0) {
            char *bigger = realloc(text, 2 * cap);
            if (!bigger) {
                free(text);
                text = NULL;
                break;
            }
            text = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (!text) return oom();
    if (st == NN_OK) {
        text[len] = '\0';
        /* cJSON stops at a NUL, which would silently drop the rest of the file. */
        const char *nul = memchr(text, '\0', len);
        if (nul)
            st = nn_error(NN_ERR_INPUT, "%s: invalid JSON: NUL byte at offset %ld", path,
                          (long)(nul - text));
        else
            st = nn_config_parse(out, text, path);
    }
    free(text);
    return st;
}

void nn_config_free(nn_config *c)
{
    if (!c) return;
    cJSON_Delete(c->root);
    free(c->origin);
    list_free(&c->known);
    list_free(&c->accepted);
    free(c);
}

const char *nn_config_origin(const nn_config *c) { return c->origin; }

nn_status nn_config_set(nn_config *c, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    size_t plen = eq ? (size_t)(eq - assignment) : 0;
    if (!eq || plen == 0)
        return nn_error(NN_ERR_INPUT, "--set %s: expected dotted.path=value", assignment);
    char *path = strndup(assignment, plen);
    if (!path) return oom();
    nn_status st = NN_OK;
    if (path[0] == '.' || path[plen - 1] == '.' || strstr(path, "..")) {
        st = nn_error(NN_ERR_INPUT, "--set %s: empty component in path `%s`", assignment, path);
    } else {
        const char *value = eq + 1;
        cJSON *item = cJSON_ParseWithOpts(value, NULL, 1);
        /* Not JSON: a bare word such as model.name=lenet5. */
        if (!item) item = cJSON_CreateString(value);
        st = insert(c, path, item);
    }
    free(path);
    return st;
}

/* ---- getters ---- */

nn_status nn_config_int(nn_config *c, const char *path, long def, long min, long max, long *out)
{
    NN_ASSERT(min <= def && def <= max);
    cJSON *v = NULL;
    NN_TRY(ask(c, path, &v));
    if (!v) {
        NN_TRY(insert(c, path, cJSON_CreateNumber((double)def)));
        *out = def;
        return NN_OK;
    }
    char expected[96];
    snprintf(expected, sizeof expected, "an integer in [%ld, %ld]", min, max);
    if (!cJSON_IsNumber(v)) return found_error(c, path, expected, v);
    double d = v->valuedouble;
    /* The bounds keep the cast defined; 2^63 itself is out of range. */
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d))
        return found_error(c, path, expected, v);
    long x = (long)d;
    if (x < min || x > max) return found_error(c, path, expected, v);
    *out = x;
    return NN_OK;
}

nn_status nn_config_number(nn_config *c, const char *path, double def, double min, double max,
                           double *out)
{
    NN_ASSERT(min <= def && def <= max);
    cJSON *v = NULL;
    NN_TRY(ask(c, path, &v));
    if (!v) {
        NN_TRY(insert(c, path, cJSON_CreateNumber(def)));
        *out = def;
        return NN_OK;
    }
    char expected[96];
    snprintf(expected, sizeof expected, "a number in [%g, %g]", min, max);
    /* Written as a negated test so that NaN (from an overflowing literal
     * such as 1e999 minus itself) is out of range too. */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= min && v->valuedouble <= max))
        return found_error(c, path, expected, v);
    *out = v->valuedouble;
    return NN_OK;
}

nn_status nn_config_bool(nn_config *c, const char *path, int def, int *out)
{
    cJSON *v = NULL;
    NN_TRY(ask(c, path, &v));
    if (!v) {
        NN_TRY(insert(c, path, cJSON_CreateBool(def)));
        *out = def != 0;
        return NN_OK;
    }
    if (!cJSON_IsBool(v)) return found_error(c, path, "true or false", v);
    *out = cJSON_IsTrue(v);
    return NN_OK;
}

static int in_range(double x, double min, double max, int open)
{
    return (open & NN_CONFIG_OPEN_MIN ? x > min : x >= min) &&
           (open & NN_CONFIG_OPEN_MAX ? x < max : x <= max);
}

/* "an array of 2 numbers in [0, 1)", or "... in (0, 1) and (1, 10]". */
static void expected_numbers(int n, const double *min, const double *max, int open, char *buf,
                             size_t size)
{
    int same = 1;
    for (int i = 1; i < n; i++) same &= min[i] == min[0] && max[i] == max[0];
    size_t len = (size_t)snprintf(buf, size, "an array of %d number%s in", n, n == 1 ? "" : "s");
    for (int i = 0; i < (same ? 1 : n) && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s %c%g, %g%c",
                                i == 0 ? "" : i == n - 1 ? " and" : ",",
                                open & NN_CONFIG_OPEN_MIN ? '(' : '[', min[i], max[i],
                                open & NN_CONFIG_OPEN_MAX ? ')' : ']');
}

nn_status nn_config_numbers(nn_config *c, const char *path, int n, const double *def,
                            const double *min, const double *max, int open, double *out)
{
    enum { MAX_N = 16 };
    NN_ASSERT(n >= 1 && n <= MAX_N);
    for (int i = 0; i < n; i++) NN_ASSERT(in_range(def[i], min[i], max[i], open));
    cJSON *v = NULL;
    NN_TRY(ask(c, path, &v));
    if (!v) {
        NN_TRY(insert(c, path, cJSON_CreateDoubleArray(def, n)));
        for (int i = 0; i < n; i++) out[i] = def[i];
        return NN_OK;
    }
    char expected[256];
    expected_numbers(n, min, max, open, expected, sizeof expected);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != n) return found_error(c, path, expected, v);
    double x[MAX_N];
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !in_range(e->valuedouble, min[i], max[i], open))
            return found_error(c, path, expected, v);
        x[i] = e->valuedouble;
    }
    for (i = 0; i < n; i++) out[i] = x[i];
    return NN_OK;
}

nn_status nn_config_int_list(nn_config *c, const char *path, int max_n, long min, long max,
                             long *out, int *n)
{
    cJSON *v = NULL;
    NN_TRY(ask(c, path, &v));
    if (!v) {
        NN_TRY(insert(c, path, cJSON_CreateArray()));
        *n = 0;
        return NN_OK;
    }
    char expected[160];
    snprintf(expected, sizeof expected, "an array of at most %d integers in [%ld, %ld]", max_n, min, max);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > max_n) return found_error(c, path, expected, v);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        double x = e->valuedouble;
        if (!cJSON_IsNumber(e) || x != (double)(long)x || x < (double)min || x > (double)max)
            return found_error(c, path, expected, v);
    }
    i = 0;
    for (const cJSON *e = v->child; e; e = e->next) out[i++] = (long)e->valuedouble;
    *n = i;
    return NN_OK;
}

/* "one of a, b, c" (or "a string" without choices). */
static void expected_string(const char *const *choices, char *buf, size_t size)
{
    if (!choices) {
        snprintf(buf, size, "a string");
        return;
    }
    size_t n = (size_t)snprintf(buf, size, "one of");
    for (size_t i = 0; choices[i] && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s %s", i ? "," : "", choices[i]);
}

static size_t count_choices(const char *const *choices)
{
    size_t n = 0;
    while (choices[n]) n++;
    return n;
}

static int is_choice(const char *s, const char *const *choices)
{
    for (size_t i = 0; choices[i]; i++)
        if (strcmp(s, choices[i]) == 0) return 1;
    return 0;
}

nn_status nn_config_string(nn_config *c, const char *path, const char *def,
                           const char *const *choices, const char **out)
{
    NN_ASSERT(!def || !choices || is_choice(def, choices));
    cJSON *v = NULL;
    NN_TRY(ask(c, path, &v));
    char expected[512];
    expected_string(choices, expected, sizeof expected);
    if (!v) {
        if (!def)
            return nn_error(NN_ERR_INPUT, "%s: %s: missing required key; expected %s", c->origin,
                            path, expected);
        NN_TRY(insert(c, path, cJSON_CreateString(def)));
        NN_TRY(find(c, path, &v));
        NN_ASSERT(v);
        *out = v->valuestring;
        return NN_OK;
    }
    if (!cJSON_IsString(v) && !choices) return found_error(c, path, expected, v);
    /* "; found" because the list of choices itself contains commas. */
    if (choices && (!cJSON_IsString(v) || !is_choice(v->valuestring, choices))) {
        char found[FOUND_MAX + 8];
        describe(v, found, sizeof found);
        const char *near =
            cJSON_IsString(v) ? closest(v->valuestring, choices, count_choices(choices)) : NULL;
        if (near)
            return nn_error(NN_ERR_INPUT, "%s: %s: expected %s; found %s (did you mean `%s`?)",
                            c->origin, path, expected, found, near);
        return nn_error(NN_ERR_INPUT, "%s: %s: expected %s; found %s", c->origin, path, expected,
                        found);
    }
    *out = v->valuestring;
    return NN_OK;
}

int nn_config_has(const nn_config *c, const char *path)
{
    const cJSON *blocker;
    size_t blen;
    return lookup(c->root, path, &blocker, &blen) != NULL;
}

void nn_config_accept(nn_config *c, const char *path)
{
    assert_code_path(path);
    if (!list_add(&c->accepted, path)) c->oom = 1;
}

/* ---- unknown keys ---- */

static int is_expected_section(const nn_config *c, const char *path)
{
    for (size_t i = 0; i < c->known.len; i++)
        if (is_ancestor(path, c->known.items[i])) return 1;
    for (size_t i = 0; i < c->accepted.len; i++)
        if (is_ancestor(path, c->accepted.items[i])) return 1;
    return 0;
}

static int is_accepted(const nn_config *c, const char *path)
{
    for (size_t i = 0; i < c->accepted.len; i++) {
        const char *a = c->accepted.items[i];
        if (strcmp(a, path) == 0 || is_ancestor(a, path)) return 1;
    }
    return 0;
}

/* Appends " (valid keys in <section>: a, b)" listing the direct children
 * of `section` ("" for the top level) that code knows, when they are few. */
static void list_section(const nn_config *c, const char *section, char *buf, size_t size)
{
    path_list keys = {0};
    size_t slen = strlen(section);
    const path_list *lists[] = {&c->known, &c->accepted};
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; i < lists[l]->len; i++) {
            const char *k = lists[l]->items[i];
            if (slen && !is_ancestor(section, k)) continue;
            const char *rest = k + (slen ? slen + 1 : 0);
            char child[128];
            size_t n = strcspn(rest, ".");
            if (n >= sizeof child) continue;
            memcpy(child, rest, n);
            child[n] = '\0';
            if (!list_add(&keys, child)) goto done;
        }
    if (keys.len == 0 || keys.len > LIST_MAX_KEYS) goto done;
    size_t n = slen ? (size_t)snprintf(buf, size, " (valid keys in %s:", section)
                    : (size_t)snprintf(buf, size, " (valid top-level keys:");
    for (size_t i = 0; i < keys.len && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s %s", i ? "," : "", keys.items[i]);
    if (n < size) snprintf(buf + n, size - n, ")");
done:
    list_free(&keys);
}

static nn_status unknown_key(const nn_config *c, const char *path)
{
    const char *near = closest(path, (const char *const *)c->known.items, c->known.len);
    if (!near) {
        /* A key in the wrong section ("train.lr" for "optim.lr") is far by
         * edit distance but has the same last component. */
        const char *leaf = strrchr(path, '.');
        leaf = leaf ? leaf + 1 : path;
        for (size_t i = 0; i < c->known.len && !near; i++) {
            const char *k = c->known.items[i];
            const char *kleaf = strrchr(k, '.');
            if (strcmp(kleaf ? kleaf + 1 : k, leaf) == 0) near = k;
        }
    }
    if (near)
        return nn_error(NN_ERR_INPUT, "%s: unknown key `%s` (did you mean `%s`?)", c->origin, path,
                        near);
    char section[256] = "";
    const char *dot = strrchr(path, '.');
    if (dot && (size_t)(dot - path) < sizeof section) {
        memcpy(section, path, (size_t)(dot - path));
        section[dot - path] = '\0';
    }
    char valid[512] = "";
    list_section(c, section, valid, sizeof valid);
    return nn_error(NN_ERR_INPUT, "%s: unknown key `%s`%s", c->origin, path, valid);
}

static nn_status check_object(const nn_config *c, const cJSON *obj, const char *prefix)
{
    for (const cJSON *item = obj->child; item; item = item->next) {
        size_t n = strlen(prefix) + strlen(item->string) + 2;
        char *path = malloc(n);
        if (!path) return oom();
        snprintf(path, n, "%s%s%s", prefix, *prefix ? "." : "", item->string);
        nn_status st = NN_OK;
        if (is_accepted(c, path)) {
            /* read by code not run in this command */
        } else if (strchr(item->string, '.')) {
            /* No getter can reach it, yet its path may equal a known one. */
            st = nn_error(NN_ERR_INPUT, "%s: key `%s` contains '.', which separates path "
                          "components; nest it as objects", c->origin, path);
        } else if (list_has(&c->known, path)) {
            /* asked for, possibly as a whole object */
        } else if (is_expected_section(c, path) && cJSON_IsObject(item)) {
            st = check_object(c, item, path);
        } else if (!is_expected_section(c, path)) {
            st = unknown_key(c, path);
        }
        free(path);
        NN_TRY(st);
    }
    return NN_OK;
}

nn_status nn_config_check_unknown(const nn_config *c)
{
    if (c->oom) return oom();
    return check_object(c, c->root, "");
}

char *nn_config_to_json(const nn_config *c) { return cJSON_Print(c->root); }

/* "an array of 5 integers in [1, 65536]", or "an array of 1 to 64
 * elements, each an integer in [1, 65536] or \"M\"". */
static void expected_marker_list(int min_n, int max_n, long min, long max, const char *marker,
                                 char *buf, size_t size)
{
    size_t n;
    if (min_n == max_n)
        n = (size_t)snprintf(buf, size, "an array of %d %s", max_n,
                             marker ? (max_n == 1 ? "element, " : "elements, each ") : "");
    else
        n = (size_t)snprintf(buf, size, "an array of %d to %d %s", min_n, max_n,
                             marker ? "elements, each " : "");
    if (n >= size) return;
    if (marker)
        snprintf(buf + n, size - n, "an integer in [%ld, %ld] or \"%s\"", min, max, marker);
    else
        snprintf(buf + n, size - n, "integer%s in [%ld, %ld]", max_n == 1 ? "" : "s", min, max);
}

nn_status nn_config_int_marker_list(nn_config *c, const char *path, int min_n, int max_n, long min,
                                    long max, const char *marker, long marker_value,
                                    const long *def, int def_n, long *out, int *n)
{
    NN_ASSERT(0 <= min_n && min_n <= def_n && def_n <= max_n);
    NN_ASSERT(!marker || marker_value < min || marker_value > max);
    cJSON *v = NULL;
    NN_TRY(ask(c, path, &v));
    if (!v) {
        cJSON *arr = cJSON_CreateArray();
        for (int i = 0; arr && i < def_n; i++) {
            int is_marker = marker && def[i] == marker_value;
            NN_ASSERT(is_marker || (def[i] >= min && def[i] <= max));
            cJSON *e = is_marker ? cJSON_CreateString(marker) : cJSON_CreateNumber((double)def[i]);
            if (!e || !cJSON_AddItemToArray(arr, e)) {
                cJSON_Delete(e);
                cJSON_Delete(arr);
                arr = NULL;
            }
        }
        NN_TRY(insert(c, path, arr));
        for (int i = 0; i < def_n; i++) out[i] = def[i];
        *n = def_n;
        return NN_OK;
    }
    char expected[192];
    expected_marker_list(min_n, max_n, min, max, marker, expected, sizeof expected);
    int count = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (count < min_n || count > max_n) return found_error(c, path, expected, v);
    /* Checked in full before `out` is written, so an error leaves it as it was. */
    for (const cJSON *e = v->child; e; e = e->next) {
        if (marker && cJSON_IsString(e) && strcmp(e->valuestring, marker) == 0) continue;
        double x = e->valuedouble;
        if (!cJSON_IsNumber(e) || !(x >= (double)min && x <= (double)max) || x != floor(x))
            return found_error(c, path, expected, v);
    }
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next)
        out[i++] = cJSON_IsString(e) ? marker_value : (long)e->valuedouble;
    *n = i;
    return NN_OK;
}
