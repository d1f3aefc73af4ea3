#include "data/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nn_image_split_deinit(nn_image_split *s)
{
    free(s->pixels);
    free(s->labels);
    free(s->files);
    free(s->file_offsets);
    free(s->class_names);
    /* Zeroed so a second deinit, or one after a failed load, is harmless. */
    memset(s, 0, sizeof *s);
}

char **nn_strings_pack(const char *const *strings, int n)
{
    size_t text = 0;
    for (int i = 0; i < n; i++) text += strlen(strings[i]) + 1;
    char **out = malloc(sizeof(char *) * (size_t)(n + 1) + text);
    if (!out) return NULL;
    char *p = (char *)(out + n + 1);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(strings[i]) + 1;
        memcpy(p, strings[i], len);
        out[i] = p;
        p += len;
    }
    out[n] = NULL;
    return out;
}

/* Copies the chosen folder, refusing to cut it short: a truncated path would
 * fail later with a misleading "cannot open". */
static nn_status put_root(const nn_dataset_def *d, char *out, size_t size, const char *a,
                          const char *b)
{
    int n = b ? snprintf(out, size, "%s/%s", a, b) : snprintf(out, size, "%s", a);
    if (n < 0 || (size_t)n >= size)
        return nn_error(NN_ERR_INPUT, "%s: data folder path is longer than %zu bytes: %s%s%s",
                        d->name, size - 1, a, b ? "/" : "", b ? b : "");
    return NN_OK;
}

nn_status nn_dataset_resolve_root(const nn_dataset_def *d, const char *config_root, char *out,
                                  size_t size)
{
    if (config_root && config_root[0]) return put_root(d, out, size, config_root, NULL);
    const char *env = getenv("NNZOO_DATA");
    if (env && env[0]) return put_root(d, out, size, env, d->folder);
    if (d->default_root) return put_root(d, out, size, d->default_root, NULL);
    return nn_error(NN_ERR_INPUT,
                    "%s: no data folder: set data.root in the config, or NNZOO_DATA so that "
                    "nnzoo reads $NNZOO_DATA/%s (datasets/README.md says where to get it)",
                    d->name, d->folder);
}
