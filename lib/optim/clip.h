/* Gradient clipping and the L1 penalty, applied to a model's gradient
 * buffer between the backward pass and the optimizer step. */
#ifndef NN_OPTIM_CLIP_H
#define NN_OPTIM_CLIP_H

#include "nn/params.h"

/* As torch.nn.utils.clip_grad_norm_(params, max_norm): scales every
 * gradient by min(1, max_norm / (norm + 1e-6)), where norm is the L2 norm
 * of all gradients together (summed in a fixed order: the same bits for any
 * thread count). Returns that norm, before scaling. */
float nn_clip_grad_norm(nn_params *p, float max_norm);

/* As torch.nn.utils.clip_grad_value_(params, clip_value): clamps every
 * gradient to [-clip_value, clip_value]. */
void nn_clip_grad_value(nn_params *p, float clip_value);

/* Adds the gradient of l1 * sum |p|: l1 * sign(p) (0 at p = 0). */
void nn_clip_add_l1(nn_params *p, float l1);

#endif
