#include "optim/clip.h"

#include <math.h>

#include "optim/optimizer.h"

float nn_clip_grad_norm(nn_params *p, float max_norm)
{
    float *g = p->grads;
    const int64_t n = p->total;
    const float norm = (float)sqrt(nn_optim_dot(g, g, n));
    /* PyTorch: max_norm / (norm + 1e-6) in float32, where a number over a
     * tensor is the tensor's reciprocal times the number. */
    float coef = 1.0f / (norm + 1e-6f) * max_norm;
    if (coef >= 1.0f) return norm;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) g[i] *= coef;
    return norm;
}

void nn_clip_grad_value(nn_params *p, float clip_value)
{
    float *g = p->grads;
    const int64_t n = p->total;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) {
        float x = g[i] < -clip_value ? -clip_value : g[i];
        g[i] = x > clip_value ? clip_value : x;
    }
}

void nn_clip_add_l1(nn_params *p, float l1)
{
    const float *w = p->values;
    float *g = p->grads;
    const int64_t n = p->total;
    #pragma omp parallel for schedule(static) if (n > NN_OPTIM_MIN_PARALLEL)
    for (int64_t i = 0; i < n; i++) g[i] += l1 * (float)((w[i] > 0.0f) - (w[i] < 0.0f));
}
