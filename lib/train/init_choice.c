#include "train/init_choice.h"

#include <stdio.h>
#include <string.h>

#include "io/config.h"

/* Reads <section>.name and its arguments; *set is 0 when the section is absent. */
static nn_status read_init(nn_config *cfg, const char *section, nn_init *out, int *set)
{
    char path[96];
    snprintf(path, sizeof path, "%s.name", section);
    *set = nn_config_has(cfg, section);
    if (!*set) return NN_OK;
    const char *names[NN_INIT_COUNT + 1];
    for (int i = 0; i < NN_INIT_COUNT; i++) names[i] = nn_init_defs[i].name;
    names[NN_INIT_COUNT] = NULL;
    const char *name;
    NN_TRY(nn_config_string(cfg, path, NULL, names, &name));
    const nn_init_def *def = nn_init_find(name);
    double args[NN_INIT_MAX_ARGS];
    for (int i = 0; i < def->n_args; i++) {
        const nn_init_arg *a = &def->args[i];
        snprintf(path, sizeof path, "%s.%s", section, a->name);
        if (a->choices) {
            const char *choice;
            NN_TRY(nn_config_string(cfg, path, a->choices[(int)a->def], a->choices, &choice));
            for (int c = 0; a->choices[c]; c++)
                if (!strcmp(a->choices[c], choice)) args[i] = c;
        } else {
            NN_TRY(nn_config_number(cfg, path, a->def, a->min, a->max, &args[i]));
        }
    }
    const char *why = NULL;
    int bad = nn_init_check(def, args, &why);
    if (bad >= 0)
        return nn_error(NN_ERR_INPUT, "%s: %s.%s: %s", nn_config_origin(cfg), section,
                        def->args[bad].name, why);
    *out = nn_init_make(def, args);
    return NN_OK;
}

/* The `<layer>.weight` beside `<layer>.bias`, or NULL. */
static const nn_tensor *sibling_weight(const nn_params *p, const char *bias_name)
{
    size_t n = strlen(bias_name) - strlen("bias");
    for (int i = 0; i < p->count; i++) {
        const char *w = p->items[i]->name;
        if (!strncmp(w, bias_name, n) && !strcmp(w + n, "weight")) return p->items[i];
    }
    return NULL;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix) && (n == k || s[n - k - 1] == '.');
}

nn_status nn_init_choice_apply(nn_params *p, nn_config *cfg)
{
    nn_init weight, bias;
    int has_weight, has_bias;
    NN_TRY(read_init(cfg, "model.init.weight", &weight, &has_weight));
    NN_TRY(read_init(cfg, "model.init.bias", &bias, &has_bias));
    if (has_bias && nn_init_needs_matrix(bias.kind))
        return nn_error(NN_ERR_INPUT, "%s: model.init.bias.name: %s needs a tensor of at least 2 dimensions; biases have 1",
                        nn_config_origin(cfg), nn_init_defs[bias.kind].name);
    for (int i = 0; i < p->count; i++) {
        const nn_tensor *x = p->items[i];
        if (!x->requires_grad) continue;   /* buffers keep their fixed starting values */
        if (has_weight && x->ndim >= 2) p->inits[i] = weight;
        if (has_bias && x->ndim == 1 && ends_with(x->name, "bias")) {
            const nn_tensor *w = sibling_weight(p, x->name);
            if (w && w->ndim >= 2) p->inits[i] = bias;
        }
    }
    return NN_OK;
}
