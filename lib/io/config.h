/* Run configuration: a JSON file (cJSON) read through typed getters.
 *
 * There is no separate schema to keep in step with the code: every getter
 * records the dotted path it was asked for, and inserts the default into the
 * tree when the key is absent, so that after all consumers have read their
 * keys
 *   - nn_config_check_unknown() can name any key nobody asked for, with the
 *     closest path that was asked for ("did you mean `train.epochs`?"), and
 *   - nn_config_to_json() is the resolved config, defaults included.
 *
 * Every error is one line that names the config file, the dotted path, what
 * was found and what was expected, with status NN_ERR_INPUT. */
#ifndef NN_IO_CONFIG_H
#define NN_IO_CONFIG_H

#include "core/error.h"

typedef struct nn_config nn_config;

/* Parses the JSON object in file `path`. Malformed JSON gives
 * "<path>:<line>:<col>: invalid JSON ..." ; a missing file names the file. */
nn_status nn_config_load(nn_config **out, const char *path);

/* As nn_config_load, from text; `origin` names it in messages. */
nn_status nn_config_parse(nn_config **out, const char *text, const char *origin);

void nn_config_free(nn_config *c);

/* The file name (or origin) the config came from. */
const char *nn_config_origin(const nn_config *c);

/* Applies "dotted.path=value" (the CLI's --set). The value is parsed as JSON
 * when it is valid JSON (numbers, true/false, null, arrays, quoted strings),
 * otherwise taken as a bare string. Missing objects on the way are created. */
nn_status nn_config_set(nn_config *c, const char *assignment);

/* Typed getters. Each returns NN_OK and stores the value, inserting `def`
 * when the key is absent; a present value of the wrong type or out of
 * [min, max] is an error naming the path and the expected range. */
nn_status nn_config_int(nn_config *c, const char *path, long def, long min, long max, long *out);
nn_status nn_config_number(nn_config *c, const char *path, double def, double min, double max,
                           double *out);
nn_status nn_config_bool(nn_config *c, const char *path, int def, int *out);

/* nn_config_numbers `open`: ends excluded from every element's range. */
enum { NN_CONFIG_OPEN_MIN = 1, NN_CONFIG_OPEN_MAX = 2 };

/* An array of exactly n numbers, as PyTorch's tuples ("betas": [0.9, 0.999]),
 * element i in [min[i], max[i]], except the ends that `open` excludes; the
 * defaults when absent. On error `out` is untouched and the message names
 * the path, the ranges and what was found:
 * "<file>: train.optimizer.betas: expected an array of 2 numbers in [0, 1),
 * found [0.9,1]", or with ranges that differ, "... in (0, 1) and (1, 1e+06),
 * found ...". */
nn_status nn_config_numbers(nn_config *c, const char *path, int n, const double *def,
                            const double *min, const double *max, int open, double *out);

/* An array of up to max_n integers in [min, max] (MultiStepLR's
 * milestones); absent means empty. *n gets the count. */
nn_status nn_config_int_list(nn_config *c, const char *path, int max_n, long min, long max,
                             long *out, int *n);

/* String getter. def == NULL makes the key required. When `choices` is not
 * NULL (NULL-terminated list) the value must be one of them, and the error
 * lists them. The returned string lives as long as the config. */
nn_status nn_config_string(nn_config *c, const char *path, const char *def,
                           const char *const *choices, const char **out);

/* 1 if the key is present in the config (does not count as asking for it). */
int nn_config_has(const nn_config *c, const char *path);

/* Marks every key below `path` as known without reading it (for a section
 * read by code that is not run in this command). */
void nn_config_accept(nn_config *c, const char *path);

/* Error for the first key (in file order) that no getter asked for:
 * "<file>: unknown key `train.epoch` (did you mean `train.epochs`?)". */
nn_status nn_config_check_unknown(const nn_config *c);

/* The resolved config as indented JSON; the caller frees it with free(). */
char *nn_config_to_json(const nn_config *c);

/* An array of min_n to max_n elements (VGG's layer list [64, "M", 128, "M"]),
 * each an integer in [min, max] or, when `marker` is not NULL, the string
 * `marker`, which is stored in `out` as `marker_value` (outside [min, max]).
 * Absent: the def_n elements of `def` are inserted (marker_value as the
 * marker) and returned. *n gets the count. On error `out` is untouched and
 * the message names the path, what was expected and what was found:
 * "<file>: model.cfg: expected an array of 1 to 64 elements, each an integer
 * in [1, 65536] or "M", found [64,"X"]". */
nn_status nn_config_int_marker_list(nn_config *c, const char *path, int min_n, int max_n, long min,
                                    long max, const char *marker, long marker_value,
                                    const long *def, int def_n, long *out, int *n);

#endif
