/* The fused recurrent cells nn_lstm_cell and nn_gru_cell.
 *
 * Against tests/golden/rnn_cells.safetensors (tests/golden/rnn_reference.py,
 * torch.nn.LSTMCell / GRUCell): outputs and every input's gradient for fixed
 * upstream gradients on h' (and c'). Then a finite-difference gradient check
 * of each cell on fresh inputs, for the LSTM through h' only, c' only and the
 * fused [h'|c']; and bad shapes give clear messages. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "autograd/gradcheck.h"
#include "check_main.h"
#include "io/safetensors.h"
#include "ops/ops.h"
#include "ops/rnn_cell.h"
#include "testutil.h"

#define GOLDEN "tests/golden/rnn_cells.safetensors"
#define TOL 2e-5

static nn_arena arena;

static void setup(void) { nn_arena_init(&arena, "test", 0); }
static void teardown(void) { nn_arena_deinit(&arena); }

static const char *lstm_in[7] = {"x", "h", "c", "w_ih", "w_hh", "b_ih", "b_hh"};
static const char *gru_in[6] = {"x", "h", "w_ih", "w_hh", "b_ih", "b_hh"};

static nn_tensor *golden(const nn_safetensors *g, const char *cell, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "%s.%s", cell, name);
    return tu_golden_tensor(&arena, g, key);
}

static int compare_grads(const nn_safetensors *g, const char *cell, nn_tensor **in,
                         const char **names, int n, double *diff)
{
    int ok = 1;
    char key[64];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s.d%s", cell, names[i]);
        ck_assert_ptr_nonnull(in[i]->grad);
        ok &= tu_golden_compare(g, key, in[i]->grad, (long)in[i]->numel, TOL, TOL, diff);
    }
    return ok;
}

START_TEST(lstm_matches_torch)
{
    nn_safetensors *g = tu_golden_open(GOLDEN);
    nn_tensor *in[7];
    for (int i = 0; i < 7; i++) {
        in[i] = golden(g, "lstm", lstm_in[i]);
        in[i]->requires_grad = 1;
    }
    nn_tensor *dh1 = golden(g, "lstm", "dh1"), *dc1 = golden(g, "lstm", "dc1");
    nn_arena step;
    nn_arena_init(&step, "step", 0);
    nn_tape t;
    nn_tape_init(&t, &step, 1, 1);
    nn_tensor *h1, *c1;
    ck_assert_int_eq(nn_lstm_cell(&t, in[0], in[1], in[2], in[3], in[4], in[5], in[6], &h1, &c1),
                     NN_OK);
    double diff = 0.0;
    int ok = tu_golden_compare(g, "lstm.h1", h1->data, (long)h1->numel, TOL, TOL, &diff);
    ok &= tu_golden_compare(g, "lstm.c1", c1->data, (long)c1->numel, TOL, TOL, &diff);
    /* L = sum(h' dh1) + sum(c' dc1), so the gradients reach hc through both slices. */
    nn_tensor *loss = nn_add(&t, nn_sum(&t, nn_mul(&t, h1, dh1), 0, NULL, 0),
                             nn_sum(&t, nn_mul(&t, c1, dc1), 0, NULL, 0));
    ck_assert_ptr_nonnull(loss);
    ck_assert_int_eq(nn_tape_backward(&t, loss), NN_OK);
    ok &= compare_grads(g, "lstm", in, lstm_in, 7, &diff);
    printf("lstm_cell: max |diff| from torch (outputs and 7 gradients) %.2e\n", diff);
    nn_arena_deinit(&step);
    nn_safetensors_close(g);
    ck_assert(ok);
}
END_TEST

START_TEST(gru_matches_torch)
{
    nn_safetensors *g = tu_golden_open(GOLDEN);
    nn_tensor *in[6];
    for (int i = 0; i < 6; i++) {
        in[i] = golden(g, "gru", gru_in[i]);
        in[i]->requires_grad = 1;
    }
    nn_tensor *dh1 = golden(g, "gru", "dh1");
    nn_arena step;
    nn_arena_init(&step, "step", 0);
    nn_tape t;
    nn_tape_init(&t, &step, 1, 1);
    nn_tensor *h1 = nn_gru_cell(&t, in[0], in[1], in[2], in[3], in[4], in[5]);
    ck_assert_ptr_nonnull(h1);
    double diff = 0.0;
    int ok = tu_golden_compare(g, "gru.h1", h1->data, (long)h1->numel, TOL, TOL, &diff);
    ck_assert_int_eq(nn_tape_backward_from(&t, h1, dh1->data), NN_OK);
    ok &= compare_grads(g, "gru", in, gru_in, 6, &diff);
    printf("gru_cell: max |diff| from torch (output and 6 gradients) %.2e\n", diff);
    nn_arena_deinit(&step);
    nn_safetensors_close(g);
    ck_assert(ok);
}
END_TEST

/* Which LSTM output the gradient check differentiates. */
typedef enum { OUT_H, OUT_C, OUT_HC } lstm_out;

static nn_tensor *call_lstm(nn_tape *t, nn_tensor **in, void *ctx)
{
    lstm_out which = *(const lstm_out *)ctx;
    if (which == OUT_HC) return nn_lstm_cell_fused(t, in[0], in[1], in[2], in[3], in[4], in[5], in[6]);
    nn_tensor *h1, *c1;
    if (nn_lstm_cell(t, in[0], in[1], in[2], in[3], in[4], in[5], in[6], &h1, &c1) != NN_OK)
        return NULL;
    return which == OUT_H ? h1 : c1;
}

static nn_tensor *call_gru(nn_tape *t, nn_tensor **in, void *ctx)
{
    (void)ctx;
    return nn_gru_cell(t, in[0], in[1], in[2], in[3], in[4], in[5]);
}

/* Fresh inputs: x (N, I), states (N, H), weights, biases for g gates. */
static void make_inputs(nn_tensor **in, int lstm, uint64_t seed)
{
    const int n = 3, i_ = 5, h = 4, g = lstm ? 4 : 3;
    int k = 0;
    in[k++] = tu_random(&arena, seed + 0, -1, 1, NN_SHAPE(n, i_));
    in[k++] = tu_random(&arena, seed + 1, -1, 1, NN_SHAPE(n, h));
    if (lstm) in[k++] = tu_random(&arena, seed + 2, -1, 1, NN_SHAPE(n, h));
    in[k++] = tu_random(&arena, seed + 3, -0.7f, 0.7f, NN_SHAPE(g * h, i_));
    in[k++] = tu_random(&arena, seed + 4, -0.7f, 0.7f, NN_SHAPE(g * h, h));
    in[k++] = tu_random(&arena, seed + 5, -0.5f, 0.5f, NN_SHAPE(g * h));
    in[k++] = tu_random(&arena, seed + 6, -0.5f, 0.5f, NN_SHAPE(g * h));
    for (int j = 0; j < k; j++) in[j]->requires_grad = 1;
}

static void check_grad(const char *what, nn_gradcheck_fn fn, nn_tensor **in, int n, void *ctx)
{
    nn_gradcheck_result r = {0};
    nn_status st = nn_gradcheck(fn, in, n, ctx, 1e-2, 1e-3, 1e-2, &r);
    printf("%-22s gradcheck %4ld elements, max abs err %.2e, rel %.2e\n", what, r.checked,
           r.max_abs_err, r.max_rel_err);
    if (st != NN_OK) fprintf(stderr, "%s: %s\n", what, nn_error_message());
    ck_assert_int_eq(st, NN_OK);
    ck_assert_int_gt(r.checked, 0);
}

START_TEST(lstm_gradcheck)
{
    static const char *names[3] = {"lstm_cell (h' only)", "lstm_cell (c' only)",
                                   "lstm_cell ([h'|c'])"};
    for (lstm_out w = OUT_H; w <= OUT_HC; w++) {
        nn_tensor *in[7];
        make_inputs(in, 1, 10 + 10 * (uint64_t)w);
        check_grad(names[w], call_lstm, in, 7, &w);
    }
}
END_TEST

START_TEST(gru_gradcheck)
{
    nn_tensor *in[6];
    make_inputs(in, 0, 50);
    check_grad("gru_cell", call_gru, in, 6, NULL);
}
END_TEST

START_TEST(eval_mode_records_nothing)
{
    nn_tensor *in[7];
    make_inputs(in, 1, 70);
    nn_tape t;
    nn_tape_init(&t, &arena, 0, 0);
    nn_tensor *h1, *c1;
    ck_assert_int_eq(nn_lstm_cell(&t, in[0], in[1], in[2], in[3], in[4], in[5], in[6], &h1, &c1),
                     NN_OK);
    ck_assert_int_eq(t.n_nodes, 0);
    ck_assert(!h1->requires_grad && !c1->requires_grad);
}
END_TEST

START_TEST(bad_shapes_are_errors)
{
    nn_tensor *in[7];
    make_inputs(in, 1, 90);
    nn_tape t;
    nn_tape_init(&t, &arena, 1, 1);
    nn_tensor *h1, *c1;
    /* w_hh passed as w_ih: (16, 4) does not fit x (3, 5). */
    ck_assert_int_eq(nn_lstm_cell(&t, in[0], in[1], in[2], in[4], in[4], in[5], in[6], &h1, &c1),
                     NN_ERR_INPUT);
    ck_assert_ptr_null(h1);
    ck_assert_ptr_null(c1);
    ck_assert_ptr_nonnull(strstr(nn_error_message(), "lstm_cell: weights w_ih (16, 4)"));
    ck_assert_ptr_nonnull(strstr(nn_error_message(), "expected (16, 5), (16, 4) and biases (16)"));
    /* LSTM weights (4H rows) given to the GRU (3H rows). */
    ck_assert_ptr_null(nn_gru_cell(&t, in[0], in[1], in[3], in[4], in[5], in[6]));
    ck_assert_ptr_nonnull(strstr(nn_error_message(), "gru_cell: weights w_ih (16, 5)"));
    /* State of the wrong batch size. */
    ck_assert_ptr_null(nn_gru_cell(&t, in[0], in[3], in[3], in[4], NULL, NULL));
    ck_assert_ptr_nonnull(strstr(nn_error_message(), "gru_cell: input (3, 5) and state (16, 5)"));
}
END_TEST

static Suite *rnn_cells_suite(void)
{
    Suite *s = suite_create("rnn_cells");
    TCase *tc = tcase_create("cells");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, lstm_matches_torch);
    tcase_add_test(tc, gru_matches_torch);
    tcase_add_test(tc, lstm_gradcheck);
    tcase_add_test(tc, gru_gradcheck);
    tcase_add_test(tc, eval_mode_records_nothing);
    tcase_add_test(tc, bad_shapes_are_errors);
    suite_add_tcase(s, tc);
    return s;
}

NN_TEST_MAIN(rnn_cells_suite)
