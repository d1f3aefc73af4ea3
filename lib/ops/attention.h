/* Fused scaled dot-product attention with causal and key-padding masks. */
#ifndef NN_OPS_ATTENTION_H
#define NN_OPS_ATTENTION_H

#include <stdint.h>

#include "autograd/tape.h"

/* y = softmax(q k^T * scale + mask) v per batch b and head h, one fused op
 * (the scores never become a tensor of their own).
 * q: (B, H, Lq, D), k: (B, H, Lk, D), v: (B, H, Lk, Dv) -> y: (B, H, Lq, Dv)
 * in the step arena. Lq, Lk, D, Dv must be at least 1.
 * Masks (a masked score is -inf, as torch's masked_fill(mask, -inf)):
 *   causal: query i sees keys j <= i (top-left aligned, as torch's
 *           ones(Lq, Lk).tril(); with Lq != Lk the diagonal starts at (0, 0));
 *   key_padding: (B, Lk) uint8, nonzero = padded (masked for every query
 *           and head), or NULL; caller-owned, it must outlive the backward.
 * scale 0 means 1 / sqrt(D).
 * A query row with every key masked (where PyTorch gives NaN) is defined to
 * output zeros, and it passes no gradient to q, k or v.
 * Deterministic: each (b, h) is one independent block, whatever the thread
 * count. Returns NULL (message set) on bad shapes, a full arena, or a NULL
 * input. */
nn_tensor *nn_attention(nn_tape *t, nn_tensor *q, nn_tensor *k, nn_tensor *v, int causal,
                        const uint8_t *key_padding, float scale);
nn_status nn_attention_backward(nn_tape *t, const nn_node *node);

#endif
