/* Config: typed getters, defaults, --set, and the exact error messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "io/config.h"

#define ORIGIN "configs/x.json"

static nn_config *parse(const char *text)
{
    nn_config *c = NULL;
    nn_status st = nn_config_parse(&c, text, ORIGIN);
    ck_assert_msg(st == NN_OK, "parse failed: %s", nn_error_message());
    ck_assert_ptr_nonnull(c);
    return c;
}

/* Asserts that `st` is an input error with exactly `msg`. */
static void expect_error(nn_status st, const char *msg)
{
    ck_assert_int_eq(st, NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), msg);
}

/* Writes `text` to a fresh file in /tmp; the caller unlinks it. */
static void write_temp(char *path, const char *text)
{
    strcpy(path, "/tmp/nnzoo_config_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t n = strlen(text);
    ck_assert_int_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
}

static void setup(void) { nn_error_clear(); }

/* ---- defaults ---- */

START_TEST(defaults_inserted_and_visible)
{
    nn_config *c = parse("{\"train\": {\"batch_size\": 32}}");
    long epochs = 0, bs = 0;
    double lr = 0;
    int shuffle = 0;
    const char *name = NULL;
    ck_assert_int_eq(nn_config_int(c, "train.epochs", 10, 1, 100000, &epochs), NN_OK);
    ck_assert_int_eq(nn_config_int(c, "train.batch_size", 64, 1, 4096, &bs), NN_OK);
    ck_assert_int_eq(nn_config_number(c, "optim.sgd.lr", 0.05, 0, 10, &lr), NN_OK);
    ck_assert_int_eq(nn_config_bool(c, "train.shuffle", 1, &shuffle), NN_OK);
    ck_assert_int_eq(nn_config_string(c, "model.name", "lenet5", NULL, &name), NN_OK);
    ck_assert_int_eq(epochs, 10);
    ck_assert_int_eq(bs, 32); /* present value wins over the default */
    ck_assert_double_eq(lr, 0.05);
    ck_assert_int_eq(shuffle, 1);
    ck_assert_str_eq(name, "lenet5");
    ck_assert_int_eq(nn_config_check_unknown(c), NN_OK);

    /* The resolved JSON holds the defaults, including created sections,
     * and reads back with different defaults unchanged. */
    char *json = nn_config_to_json(c);
    ck_assert_ptr_nonnull(json);
    ck_assert_ptr_nonnull(strstr(json, "\"epochs\":\t10"));
    ck_assert_ptr_nonnull(strstr(json, "\"sgd\":"));
    nn_config *back = parse(json);
    free(json);
    ck_assert_int_eq(nn_config_int(back, "train.epochs", 99, 1, 100000, &epochs), NN_OK);
    ck_assert_int_eq(nn_config_number(back, "optim.sgd.lr", 1, 0, 10, &lr), NN_OK);
    ck_assert_int_eq(nn_config_bool(back, "train.shuffle", 0, &shuffle), NN_OK);
    ck_assert_int_eq(nn_config_string(back, "model.name", "other", NULL, &name), NN_OK);
    ck_assert_int_eq(epochs, 10);
    ck_assert_double_eq(lr, 0.05);
    ck_assert_int_eq(shuffle, 1);
    ck_assert_str_eq(name, "lenet5");
    nn_config_free(back);
    nn_config_free(c);
}
END_TEST

START_TEST(present_values_are_read)
{
    nn_config *c = parse("{\"a\": {\"i\": -7, \"f\": 2.5, \"b\": false, \"s\": \"hi\", "
                         "\"big\": 1e3}}");
    long i = 0, big = 0;
    double f = 0;
    int b = 1;
    const char *s = NULL;
    ck_assert_int_eq(nn_config_int(c, "a.i", 0, -10, 10, &i), NN_OK);
    ck_assert_int_eq(nn_config_int(c, "a.big", 0, 0, 1000, &big), NN_OK);
    ck_assert_int_eq(nn_config_number(c, "a.f", 0, 0, 3, &f), NN_OK);
    ck_assert_int_eq(nn_config_bool(c, "a.b", 1, &b), NN_OK);
    ck_assert_int_eq(nn_config_string(c, "a.s", NULL, NULL, &s), NN_OK);
    ck_assert_int_eq(i, -7);
    ck_assert_int_eq(big, 1000);
    ck_assert_double_eq(f, 2.5);
    ck_assert_int_eq(b, 0);
    ck_assert_str_eq(s, "hi");
    ck_assert_int_eq(nn_config_check_unknown(c), NN_OK);
    nn_config_free(c);
}
END_TEST

/* ---- type and range errors ---- */

START_TEST(int_lists)
{
    nn_config *c = parse("{\"s\": {\"milestones\": [3, 8, 20], \"bad\": [3, 2.5], \"long\": [1, 2, 3]}}");
    long v[4];
    int n = -1;
    ck_assert_int_eq(nn_config_int_list(c, "s.milestones", 4, 1, 100, v, &n), NN_OK);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(v[2], 20);
    ck_assert_int_eq(nn_config_int_list(c, "s.absent", 4, 1, 100, v, &n), NN_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(nn_config_int_list(c, "s.bad", 4, 1, 100, v, &n), NN_ERR_INPUT);
    ck_assert_str_eq(nn_error_message(), "configs/x.json: s.bad: expected an array of at most 4 integers in [1, 100], found [3,2.5]");
    ck_assert_int_eq(nn_config_int_list(c, "s.long", 2, 1, 100, v, &n), NN_ERR_INPUT);
    nn_config_free(c);
}
END_TEST

START_TEST(int_type_and_range_errors)
{
    nn_config *c = parse("{\"train\": {\"epochs\": \"ten\", \"a\": 3.5, \"b\": 0, \"c\": true, "
                         "\"d\": 100001, \"e\": 1e30}}");
    long v = 0;
    expect_error(nn_config_int(c, "train.epochs", 10, 1, 100000, &v),
                 ORIGIN ": train.epochs: expected an integer in [1, 100000], found \"ten\"");
    expect_error(nn_config_int(c, "train.a", 10, 1, 100000, &v),
                 ORIGIN ": train.a: expected an integer in [1, 100000], found 3.5");
    expect_error(nn_config_int(c, "train.b", 10, 1, 100000, &v),
                 ORIGIN ": train.b: expected an integer in [1, 100000], found 0");
    expect_error(nn_config_int(c, "train.c", 10, 1, 100000, &v),
                 ORIGIN ": train.c: expected an integer in [1, 100000], found true");
    expect_error(nn_config_int(c, "train.d", 10, 1, 100000, &v),
                 ORIGIN ": train.d: expected an integer in [1, 100000], found 100001");
    expect_error(nn_config_int(c, "train.e", 10, 1, 100000, &v),
                 ORIGIN ": train.e: expected an integer in [1, 100000], found 1e+30");
    ck_assert_int_eq(v, 0); /* never written on error */
    nn_config_free(c);
}
END_TEST

START_TEST(number_bool_string_errors)
{
    nn_config *c = parse("{\"optim\": {\"lr\": -0.5, \"m\": \"0.9\", \"nesterov\": 1, "
                         "\"name\": 3, \"list\": [1, 2]}}");
    double d;
    int b;
    const char *s;
    expect_error(nn_config_number(c, "optim.lr", 0.1, 0, 10, &d),
                 ORIGIN ": optim.lr: expected a number in [0, 10], found -0.5");
    expect_error(nn_config_number(c, "optim.m", 0.9, 0, 1, &d),
                 ORIGIN ": optim.m: expected a number in [0, 1], found \"0.9\"");
    expect_error(nn_config_bool(c, "optim.nesterov", 0, &b),
                 ORIGIN ": optim.nesterov: expected true or false, found 1");
    expect_error(nn_config_string(c, "optim.name", "sgd", NULL, &s),
                 ORIGIN ": optim.name: expected a string, found 3");
    expect_error(nn_config_string(c, "optim.list", "sgd", NULL, &s),
                 ORIGIN ": optim.list: expected a string, found [1,2]");
    nn_config_free(c);
}
END_TEST

START_TEST(intermediate_not_object)
{
    nn_config *c = parse("{\"train\": 5}");
    long v;
    expect_error(nn_config_int(c, "train.epochs", 10, 1, 100, &v),
                 ORIGIN ": train: expected an object (holding `train.epochs`), found 5");
    expect_error(nn_config_set(c, "train.epochs=3"),
                 ORIGIN ": train: expected an object (holding `train.epochs`), found 5");
    nn_config_free(c);
}
END_TEST

/* ---- strings: required and choices ---- */

START_TEST(required_string_missing)
{
    nn_config *c = parse("{}");
    const char *s = "unchanged";
    static const char *const models[] = {"lenet5", "resnet18", NULL};
    expect_error(nn_config_string(c, "data.path", NULL, NULL, &s),
                 ORIGIN ": data.path: missing required key; expected a string");
    expect_error(nn_config_string(c, "model.name", NULL, models, &s),
                 ORIGIN ": model.name: missing required key; expected one of lenet5, resnet18");
    ck_assert_str_eq(s, "unchanged");
    ck_assert_int_eq(nn_config_has(c, "data.path"), 0); /* nothing inserted */
    nn_config_free(c);
}
END_TEST

START_TEST(choices)
{
    static const char *const models[] = {"lenet5", "resnet18", "vit", NULL};
    nn_config *c = parse("{\"a\": \"lenet\", \"b\": \"transformer\", \"c\": \"vit\", \"d\": 7}");
    const char *s = NULL;
    expect_error(nn_config_string(c, "a", "lenet5", models, &s),
                 ORIGIN ": a: expected one of lenet5, resnet18, vit; found \"lenet\" "
                        "(did you mean `lenet5`?)");
    expect_error(nn_config_string(c, "b", "lenet5", models, &s),
                 ORIGIN ": b: expected one of lenet5, resnet18, vit; found \"transformer\"");
    expect_error(nn_config_string(c, "d", "lenet5", models, &s),
                 ORIGIN ": d: expected one of lenet5, resnet18, vit; found 7");
    ck_assert_int_eq(nn_config_string(c, "c", "lenet5", models, &s), NN_OK);
    ck_assert_str_eq(s, "vit");
    ck_assert_int_eq(nn_config_string(c, "e", "resnet18", models, &s), NN_OK);
    ck_assert_str_eq(s, "resnet18");
    nn_config_free(c);
}
END_TEST

/* ---- parsing and loading ---- */

START_TEST(malformed_json_line_col)
{
    char path[64];
    write_temp(path, "{\n  \"a\": 1,\n  \"b\": ]\n}\n");
    nn_config *c = (nn_config *)1;
    nn_status st = nn_config_load(&c, path);
    char want[256];
    snprintf(want, sizeof want, "%s:3:8: invalid JSON near `]`", path);
    expect_error(st, want);
    ck_assert_ptr_null(c);

    /* A trailing comma at the end of the text. */
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"a\": 1,", f);
    fclose(f);
    st = nn_config_load(&c, path);
    snprintf(want, sizeof want, "%s:1:9: invalid JSON: unexpected end of input", path);
    expect_error(st, want);
    unlink(path);

    expect_error(nn_config_parse(&c, "{\"a\": tru}", ORIGIN), ORIGIN ":1:7: invalid JSON near `tru}`");
    expect_error(nn_config_parse(&c, "{} x", ORIGIN), ORIGIN ":1:4: invalid JSON near `x`");
}
END_TEST

START_TEST(load_file_ok_and_errors)
{
    char path[64];
    write_temp(path, "{\"train\": {\"epochs\": 3}}");
    nn_config *c = NULL;
    ck_assert_int_eq(nn_config_load(&c, path), NN_OK);
    ck_assert_str_eq(nn_config_origin(c), path);
    long v = 0;
    ck_assert_int_eq(nn_config_int(c, "train.epochs", 1, 1, 10, &v), NN_OK);
    ck_assert_int_eq(v, 3);
    nn_config_free(c);
    unlink(path);

    char want[256];
    snprintf(want, sizeof want, "%s: cannot open config: %s", path, strerror(ENOENT));
    expect_error(nn_config_load(&c, path), want);

    /* cJSON would stop at the NUL and ignore the rest of the file. */
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite("{}\0{\"x\": 1}", 1, 11, f);
    fclose(f);
    snprintf(want, sizeof want, "%s: invalid JSON: NUL byte at offset 2", path);
    expect_error(nn_config_load(&c, path), want);
    unlink(path);

    /* Larger than the first read buffer. */
    size_t n = 20000;
    char *big = malloc(n + 32);
    ck_assert_ptr_nonnull(big);
    strcpy(big, "{\"note\": \"");
    memset(big + 10, 'x', n);
    strcpy(big + 10 + n, "\"}");
    write_temp(path, big);
    free(big);
    ck_assert_int_eq(nn_config_load(&c, path), NN_OK);
    const char *note = NULL;
    ck_assert_int_eq(nn_config_string(c, "note", NULL, NULL, &note), NN_OK);
    ck_assert_uint_eq(strlen(note), n);
    nn_config_free(c);
    c = NULL;
    unlink(path);

    snprintf(want, sizeof want, "/tmp: cannot open config: %s", strerror(EISDIR));
    expect_error(nn_config_load(&c, "/tmp"), want);
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(top_level_must_be_object)
{
    nn_config *c = NULL;
    expect_error(nn_config_parse(&c, "[1, 2]", ORIGIN),
                 ORIGIN ": expected a JSON object at the top level, found an array");
    expect_error(nn_config_parse(&c, "\"s\"", ORIGIN),
                 ORIGIN ": expected a JSON object at the top level, found a string");
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(duplicate_key)
{
    nn_config *c = NULL;
    expect_error(nn_config_parse(&c, "{\"train\": {\"epochs\": 1, \"epochs\": 2}}", ORIGIN),
                 ORIGIN ": duplicate key `train.epochs`");
    ck_assert_ptr_null(c);
}
END_TEST

/* ---- unknown keys ---- */

START_TEST(unknown_key_with_suggestion)
{
    nn_config *c = parse("{\"model\": {\"name\": \"lenet5\"}, \"train\": {\"epoch\": 3, \"batch\": 8}}");
    long v;
    const char *s;
    ck_assert_int_eq(nn_config_string(c, "model.name", NULL, NULL, &s), NN_OK);
    ck_assert_int_eq(nn_config_int(c, "train.epochs", 10, 1, 100000, &v), NN_OK);
    ck_assert_int_eq(nn_config_int(c, "train.batch_size", 64, 1, 4096, &v), NN_OK);
    /* First in file order, and the typo's value did not count. */
    ck_assert_int_eq(v, 64);
    expect_error(nn_config_check_unknown(c),
                 ORIGIN ": unknown key `train.epoch` (did you mean `train.epochs`?)");
    nn_config_free(c);
}
END_TEST

START_TEST(unknown_key_lists_section)
{
    nn_config *c = parse("{\"train\": {\"epochs\": 3, \"warmup\": 8}}");
    long v;
    ck_assert_int_eq(nn_config_int(c, "train.epochs", 10, 1, 100000, &v), NN_OK);
    ck_assert_int_eq(nn_config_int(c, "train.batch_size", 64, 1, 4096, &v), NN_OK);
    expect_error(nn_config_check_unknown(c),
                 ORIGIN ": unknown key `train.warmup` (valid keys in train: epochs, batch_size)");
    nn_config_free(c);

    c = parse("{\"model\": {}, \"zzzzzzzz\": {\"x\": 1}}");
    const char *s;
    ck_assert_int_eq(nn_config_string(c, "model.name", "lenet5", NULL, &s), NN_OK);
    ck_assert_int_eq(nn_config_int(c, "train.epochs", 10, 1, 100000, &v), NN_OK);
    /* A whole unknown section is reported by its own name. */
    expect_error(nn_config_check_unknown(c),
                 ORIGIN ": unknown key `zzzzzzzz` (valid top-level keys: model, train)");
    nn_config_free(c);
}
END_TEST

START_TEST(unknown_key_wrong_section)
{
    nn_config *c = parse("{\"train\": {\"epochs\": 1, \"lr\": 0.1}}");
    double d;
    long v;
    ck_assert_int_eq(nn_config_int(c, "train.epochs", 10, 1, 100, &v), NN_OK);
    ck_assert_int_eq(nn_config_number(c, "optim.lr", 0.01, 0, 10, &d), NN_OK);
    expect_error(nn_config_check_unknown(c),
                 ORIGIN ": unknown key `train.lr` (did you mean `optim.lr`?)");
    nn_config_free(c);
}
END_TEST

START_TEST(unknown_key_nested_child)
{
    nn_config *c = parse("{\"optim\": {\"sgd\": {\"lr\": 0.1, \"momentun\": 0.9}}}");
    double d;
    ck_assert_int_eq(nn_config_number(c, "optim.sgd.lr", 0.01, 0, 10, &d), NN_OK);
    ck_assert_int_eq(nn_config_number(c, "optim.sgd.momentum", 0, 0, 1, &d), NN_OK);
    expect_error(nn_config_check_unknown(c),
                 ORIGIN ": unknown key `optim.sgd.momentun` (did you mean `optim.sgd.momentum`?)");
    nn_config_free(c);
}
END_TEST

START_TEST(accepted_and_whole_objects_are_known)
{
    nn_config *c = parse("{\"eval\": {\"anything\": {\"deep\": 1}}, \"labels\": {\"cat\": 0}, "
                         "\"train\": {\"epochs\": 2}}");
    long v;
    nn_config_accept(c, "eval");
    ck_assert_int_eq(nn_config_int(c, "train.epochs", 1, 1, 10, &v), NN_OK);
    /* "labels" is an object but nobody asked for it yet. */
    expect_error(nn_config_check_unknown(c), ORIGIN ": unknown key `labels` (valid top-level keys: "
                                             "train, eval)");
    nn_config_accept(c, "labels");
    ck_assert_int_eq(nn_config_check_unknown(c), NN_OK);
    nn_config_free(c);

    /* An accepted deep path makes its parents valid sections, no more. */
    c = parse("{\"data\": {\"aug\": {\"flip\": true}, \"extra\": 1}}");
    nn_config_accept(c, "data.aug");
    expect_error(nn_config_check_unknown(c),
                 ORIGIN ": unknown key `data.extra` (valid keys in data: aug)");
    nn_config_free(c);
}
END_TEST

START_TEST(has_does_not_count_as_asking)
{
    nn_config *c = parse("{\"train\": {\"epochs\": 3}}");
    ck_assert_int_eq(nn_config_has(c, "train.epochs"), 1);
    ck_assert_int_eq(nn_config_has(c, "train"), 1);
    ck_assert_int_eq(nn_config_has(c, "train.epochs.x"), 0);
    ck_assert_int_eq(nn_config_has(c, "model.name"), 0);
    expect_error(nn_config_check_unknown(c), ORIGIN ": unknown key `train`");
    nn_config_free(c);
}
END_TEST

START_TEST(dotted_key_in_file)
{
    nn_config *c = parse("{\"train.epochs\": 3}");
    long v;
    ck_assert_int_eq(nn_config_int(c, "train.epochs", 10, 1, 100, &v), NN_OK);
    ck_assert_int_eq(v, 10);
    expect_error(nn_config_check_unknown(c),
                 ORIGIN ": key `train.epochs` contains '.', which separates path components; "
                        "nest it as objects");
    nn_config_free(c);
}
END_TEST

/* ---- --set ---- */

START_TEST(set_values)
{
    nn_config *c = parse("{\"train\": {\"epochs\": 3, \"shuffle\": true}}");
    ck_assert_int_eq(nn_config_set(c, "train.epochs=20"), NN_OK);
    ck_assert_int_eq(nn_config_set(c, "train.shuffle=false"), NN_OK);
    ck_assert_int_eq(nn_config_set(c, "optim.sgd.lr=1e-3"), NN_OK);
    ck_assert_int_eq(nn_config_set(c, "model.name=lenet5"), NN_OK);
    ck_assert_int_eq(nn_config_set(c, "model.tag=\"007\""), NN_OK);
    ck_assert_int_eq(nn_config_set(c, "model.note=a=b"), NN_OK);
    ck_assert_int_eq(nn_config_set(c, "model.empty="), NN_OK);
    ck_assert_int_eq(nn_config_set(c, "model.dims=[1, 2]"), NN_OK);
    ck_assert_int_eq(nn_config_set(c, "model.seven=7"), NN_OK);
    long v = 0;
    int b = 1;
    double d = 0;
    const char *s = NULL;
    ck_assert_int_eq(nn_config_int(c, "train.epochs", 1, 1, 100, &v), NN_OK);
    ck_assert_int_eq(v, 20);
    ck_assert_int_eq(nn_config_bool(c, "train.shuffle", 1, &b), NN_OK);
    ck_assert_int_eq(b, 0);
    ck_assert_int_eq(nn_config_number(c, "optim.sgd.lr", 0.1, 0, 1, &d), NN_OK);
    ck_assert_double_eq(d, 1e-3);
    ck_assert_int_eq(nn_config_string(c, "model.name", NULL, NULL, &s), NN_OK);
    ck_assert_str_eq(s, "lenet5");
    ck_assert_int_eq(nn_config_string(c, "model.tag", NULL, NULL, &s), NN_OK);
    ck_assert_str_eq(s, "007");
    ck_assert_int_eq(nn_config_string(c, "model.note", NULL, NULL, &s), NN_OK);
    ck_assert_str_eq(s, "a=b");
    ck_assert_int_eq(nn_config_string(c, "model.empty", NULL, NULL, &s), NN_OK);
    ck_assert_str_eq(s, "");
    /* A JSON number is not a string, even when the user meant one. */
    expect_error(nn_config_string(c, "model.seven", NULL, NULL, &s),
                 ORIGIN ": model.seven: expected a string, found 7");
    char *json = nn_config_to_json(c);
    ck_assert_ptr_nonnull(strstr(json, "\"dims\":\t[1, 2]"));
    free(json);
    nn_config_free(c);
}
END_TEST

START_TEST(set_replaces_any_type)
{
    nn_config *c = parse("{\"model\": {\"name\": \"x\"}, \"z\": 1}");
    ck_assert_int_eq(nn_config_set(c, "model={\"name\": \"y\"}"), NN_OK);
    ck_assert_int_eq(nn_config_set(c, "z.a=2"), NN_ERR_INPUT);
    const char *s = NULL;
    ck_assert_int_eq(nn_config_string(c, "model.name", NULL, NULL, &s), NN_OK);
    ck_assert_str_eq(s, "y");
    char *json = nn_config_to_json(c);
    /* Replaced in place: the key order of the file is kept. */
    const char *model = strstr(json, "\"model\""), *z = strstr(json, "\"z\"");
    ck_assert_ptr_nonnull(model);
    ck_assert_ptr_nonnull(z);
    ck_assert_msg(model < z, "model moved after z:\n%s", json);
    free(json);
    nn_config_free(c);
}
END_TEST

START_TEST(set_syntax_errors)
{
    nn_config *c = parse("{}");
    expect_error(nn_config_set(c, "train.epochs"), "--set train.epochs: expected dotted.path=value");
    expect_error(nn_config_set(c, "=3"), "--set =3: expected dotted.path=value");
    expect_error(nn_config_set(c, "a..b=3"), "--set a..b=3: empty component in path `a..b`");
    expect_error(nn_config_set(c, ".a=3"), "--set .a=3: empty component in path `.a`");
    expect_error(nn_config_set(c, "a.=3"), "--set a.=3: empty component in path `a.`");
    char *json = nn_config_to_json(c);
    ck_assert_str_eq(json, "{\n}");
    free(json);
    nn_config_free(c);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, defaults_inserted_and_visible);
    tcase_add_test(tc, present_values_are_read);
    tcase_add_test(tc, int_type_and_range_errors);
    tcase_add_test(tc, number_bool_string_errors);
    tcase_add_test(tc, intermediate_not_object);
    tcase_add_test(tc, required_string_missing);
    tcase_add_test(tc, choices);
    tcase_add_test(tc, malformed_json_line_col);
    tcase_add_test(tc, load_file_ok_and_errors);
    tcase_add_test(tc, top_level_must_be_object);
    tcase_add_test(tc, duplicate_key);
    tcase_add_test(tc, unknown_key_with_suggestion);
    tcase_add_test(tc, unknown_key_lists_section);
    tcase_add_test(tc, unknown_key_wrong_section);
    tcase_add_test(tc, unknown_key_nested_child);
    tcase_add_test(tc, accepted_and_whole_objects_are_known);
    tcase_add_test(tc, has_does_not_count_as_asking);
    tcase_add_test(tc, dotted_key_in_file);
    tcase_add_test(tc, set_values);
    tcase_add_test(tc, set_replaces_any_type);
    tcase_add_test(tc, set_syntax_errors);
    tcase_add_test(tc, int_lists);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(config_suite)
