/* Sequence layers: embedding, layer norm, LSTM / GRU over a sequence,
 * multi-head attention. As the layers of layers.h: parameters declared
 * under a name prefix with PyTorch's state_dict keys and default init, and a
 * forward built only from ops (no gradient code of their own).
 *
 * Init functions return 0, or -1 with a message (NN_ERR_INPUT for bad
 * arguments, NN_ERR_RUNTIME when the persistent arena is full). Forwards
 * return NULL (or a status) with a message on bad shapes or a full step
 * arena, and pass a NULL input through, as the ops do. */
#ifndef NN_NN_SEQUENCE_LAYERS_H
#define NN_NN_SEQUENCE_LAYERS_H

#include <stdint.h>

#include "nn/layers.h"

/* ---- Embedding ---- */

/* torch.nn.Embedding: `<prefix>.weight` (num, dim), N(0, 1). max_norm,
 * scale_grad_by_freq and sparse are not supported. */
typedef struct nn_embedding_layer {
    nn_tensor *weight;   /* (num, dim) */
    int padding_idx;     /* in [0, num), or NN_NO_PADDING_IDX */
} nn_embedding_layer;

/* Declares the weight. padding_idx in [-num, num) (negative counts from the
 * end, as torch) or NN_NO_PADDING_IDX; its row gets no gradient. -1 when it
 * is out of range or the arena is full. */
int nn_embedding_layer_init(nn_embedding_layer *l, nn_params *p, const char *prefix, int num,
                            int dim, int padding_idx);

/* Zeroes the padding_idx row, as torch's constructor does. The values exist
 * only after nn_params_finalize, so call this after it (and not after
 * loading a checkpoint, which has its own row). No-op without padding_idx. */
void nn_embedding_layer_zero_padding(const nn_embedding_layer *l);

/* Rows of the weight for int32 indices in [0, num) of shape
 * (shape[0..ndim)) -> (shape..., dim). `idx` must outlive the backward. */
nn_tensor *nn_embedding_layer_forward(const nn_embedding_layer *l, nn_tape *t, const int32_t *idx,
                                      int ndim, const int *shape);

/* ---- LayerNorm ---- */

/* torch's default eps. */
#define NN_LAYERNORM_EPS 1e-5f

/* torch.nn.LayerNorm(normalized_shape, eps, elementwise_affine):
 * `<prefix>.weight` (ones) and `<prefix>.bias` (zeros) of normalized_shape,
 * or neither without affine. */
typedef struct nn_layernorm_layer {
    nn_tensor *weight, *bias;   /* normalized_shape, or NULL */
    int norm_ndim;
    float eps;
} nn_layernorm_layer;

/* Normalizes over the last norm_ndim (1 to NN_MAX_DIMS) dims, whose
 * extents are normalized_shape. -1 on a bad shape or a full arena. */
int nn_layernorm_layer_init(nn_layernorm_layer *l, nn_params *p, const char *prefix, int norm_ndim,
                            const int *normalized_shape, float eps, int affine);

/* x: (..., normalized_shape) -> x's shape. */
nn_tensor *nn_layernorm_layer_forward(const nn_layernorm_layer *l, nn_tape *t, nn_tensor *x);

/* ---- LSTM and GRU ---- */

typedef enum nn_rnn_mode {
    NN_RNN_LSTM,
    NN_RNN_GRU,
} nn_rnn_mode;

/* torch.nn.LSTM / GRU's options (proj_size is not supported). */
typedef struct nn_rnn_args {
    int num_layers;      /* >= 1 */
    int bias;            /* b_ih and b_hh */
    int batch_first;     /* x and y (N, T, F) instead of (T, N, F) */
    int bidirectional;
    float dropout;       /* on each layer's output but the last, in training; [0, 1) */
} nn_rnn_args;

/* torch's defaults: one layer, biases, time-major, one direction, no dropout. */
nn_rnn_args nn_rnn_default_args(void);

/* One layer and direction's weights: w_ih (G H, in), w_hh (G H, H), b_ih,
 * b_hh (G H) or NULL, G = 4 (LSTM gates i f g o) or 3 (GRU gates r z n). */
typedef struct nn_rnn_weights {
    nn_tensor *w_ih, *w_hh, *b_ih, *b_hh;
} nn_rnn_weights;

typedef struct nn_rnn_layer {
    nn_rnn_mode mode;
    int input_size, hidden_size;
    nn_rnn_args args;
    nn_rnn_weights *w;   /* num_layers * dirs, w[layer * dirs + dir]; dir 1 is the reverse */
} nn_rnn_layer;

/* Declares, for each layer k and direction, torch's
 * `<prefix>.weight_ih_l<k>`, `.weight_hh_l<k>`, `.bias_ih_l<k>`,
 * `.bias_hh_l<k>` (with `_reverse` appended for the backward direction), in
 * torch's order, each U(-1/sqrt(hidden), 1/sqrt(hidden)). Layer 0 reads
 * input_size features, the others hidden_size * dirs. The weight table is
 * in p's (persistent) arena. -1 on bad sizes or a full arena. */
int nn_rnn_layer_init(nn_rnn_layer *l, nn_params *p, const char *prefix, nn_rnn_mode mode,
                      int input_size, int hidden_size, nn_rnn_args args);

/* Runs the whole stack over the sequence, as torch's module call.
 *   x: (T, N, in), or (N, T, in) with batch_first;
 *   lengths: N ints in [1, T], or NULL for all T. As pack_padded_sequence
 *     (any order, enforce_sorted=False): steps t >= lengths[n] of sequence
 *     n leave its state unchanged and output zeros, so *h_n holds each
 *     sequence's state at its own last step, and the reverse direction of a
 *     bidirectional layer starts from h0 at step lengths[n] - 1. Only read
 *     during the call;
 *   h0, c0: (layers * dirs, N, H), or NULL for zeros; c0 is the LSTM's
 *     (NULL for the GRU).
 * Sets *y: (T, N, dirs * H), or (N, T, dirs * H) with batch_first (each
 * step [forward | reverse], as torch; padded steps zero, so this is
 * pad_packed_sequence's output with total_length = T), and, where the
 * pointers are not NULL, *h_n and *c_n: (layers * dirs, N, H) (*c_n NULL
 * for the GRU). All in the step arena. Dropout between layers draws one
 * seed per layer and step from nn_tape_next_seed. Returns NN_OK, or a
 * status with a message and every output NULL. */
nn_status nn_rnn_layer_forward(const nn_rnn_layer *l, nn_tape *t, nn_tensor *x,
                               const int32_t *lengths, nn_tensor *h0, nn_tensor *c0, nn_tensor **y,
                               nn_tensor **h_n, nn_tensor **c_n);

/* ---- Multi-head attention ---- */

/* torch.nn.MultiheadAttention(embed_dim, num_heads, bias, batch_first) with
 * kdim = vdim = embed_dim: `<prefix>.in_proj_weight` (3E, E) xavier_uniform,
 * `.in_proj_bias` (3E) zeros, `.out_proj.weight` (E, E) as Linear,
 * `.out_proj.bias` (E) zeros. No dropout on the attention weights (the
 * fused op has none), no add_bias_kv / add_zero_attn, and the attention
 * weights are not returned. */
typedef struct nn_mha_layer {
    nn_tensor *in_proj_weight, *in_proj_bias;   /* (3E, E), (3E) or NULL */
    nn_linear_layer out_proj;                   /* (E, E), (E) or NULL */
    int embed_dim, num_heads, batch_first;
} nn_mha_layer;

/* -1 when embed_dim is not a positive multiple of num_heads, or the arena
 * is full. */
int nn_mha_layer_init(nn_mha_layer *l, nn_params *p, const char *prefix, int embed_dim,
                      int num_heads, int bias, int batch_first);

/* Attention of query over key and value through the fused nn_attention.
 *   query: (L, N, E), key and value: (S, N, E); (N, L, E), (N, S, E) with
 *     batch_first. Passing the same tensor for all three (self-attention)
 *     projects it with one product;
 *   key_padding_mask: (N, S) uint8, nonzero = padded (torch's True), or
 *     NULL; caller-owned, it must outlive the backward;
 *   causal: query i sees keys j <= i (torch's attn_mask
 *     triu(ones(L, S), 1) as bool; arbitrary attn_masks are not supported).
 * A query whose keys are all masked gets zeros from the attention, where
 * torch gives NaN. -> (L, N, E), or (N, L, E) with batch_first, in the
 * step arena. */
nn_tensor *nn_mha_layer_forward(const nn_mha_layer *l, nn_tape *t, nn_tensor *query,
                                nn_tensor *key, nn_tensor *value, const uint8_t *key_padding_mask,
                                int causal);

#endif
