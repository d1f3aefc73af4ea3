#include "ops/conv2d_winograd.h"

#include <omp.h>

#include "core/gemm.h"
#include "ops/conv2d_winograd_kernels.h"

typedef nn_winograd_core wino_core;
typedef nn_winograd_tile tile_pos;

/* Output tile side m of F(m x m, 3 x 3), and the input patch side m + 2.
 * The per-tile work is in conv2d_winograd_kernels.c, one table per CPU
 * level; this file cuts the tiles into blocks and runs the GEMMs. */
#define WM 2
enum { WA = WM + 2, WXI = WA * WA, LANES = NN_WINOGRAD_LANES };
/* Tiles per block: a multiple of LANES, from the channel count so one
 * block's transformed input stays near BLOCK_FLOATS (in cache) while the
 * GEMMs stay wide enough. Every block repacks the whole transformed kernel
 * (WXI * o * c floats) for its GEMMs, so wide layers need long blocks all
 * the same: 512 channels on 4x4 planes took 20% more time at 32 tiles a
 * block than at 128 (a single-thread benchmark of ResNet-18's shapes). */
enum { BLOCK_FLOATS = 128 * 1024, MIN_BLOCK = 128, MAX_BLOCK = 256 };
/* The weight gradient's blocks are shared by all threads and sized apart:
 * their transforms take WXI * (c + o) floats a tile, up to about
 * WGRAD_FLOATS for a block, and the block's tile count is the GEMMs' inner
 * dimension (the longer, the fewer passes over du; 4x as many floats was
 * slower, out of cache, and a quarter no faster). */
enum { WGRAD_FLOATS = 1 << 20, MAX_WGRAD_BLOCK = 2048 };

static int block_tiles(int channels, long tiles)
{
    int b = BLOCK_FLOATS / (WXI * channels) / LANES * LANES;
    if (b < MIN_BLOCK) b = MIN_BLOCK;
    if (b > MAX_BLOCK) b = MAX_BLOCK;
    long whole = (tiles + LANES - 1) / LANES * LANES;
    return whole < b ? (int)whole : b;
}

static wino_core make_core(int n, int ci, int hi, int wi, int co, int ho, int wo, int pad_h, int pad_w)
{
    wino_core k = {n, ci, hi, wi, co, ho, wo, pad_h, pad_w, (ho + WM - 1) / WM, (wo + WM - 1) / WM, 0, 0, 0};
    k.tiles = (long)n * k.th * k.tw;
    k.block = block_tiles(ci > co ? ci : co, k.tiles);
    k.blocks = (k.tiles + k.block - 1) / k.block;
    return k;
}

/* Positions of tiles [t0, t0 + cnt); lanes past the last tile get n = -1. */
static void tile_positions(tile_pos *pos, const wino_core *k, long t0, int cnt)
{
    const long per_plane = (long)k->th * k->tw;
    for (int l = 0; l < cnt; l++) {
        long t = t0 + l;
        if (t >= k->tiles) {
            pos[l] = (tile_pos){-1, 0, 0, 0, 0, 0};
            continue;
        }
        long r = t % per_plane;
        tile_pos p = {(int)(t / per_plane), (int)(r / k->tw) * WM, (int)(r % k->tw) * WM, 0, 0, 0};
        const int iy0 = p.oy - k->pad_h, ix0 = p.ox - k->pad_w;
        p.in_at = (long)p.n * k->ci * k->hi * k->wi + (long)iy0 * k->wi + ix0;
        for (int i = 0; i < WA; i++) {
            p.rows |= (unsigned)(iy0 + i >= 0 && iy0 + i < k->hi) << i;
            p.cols |= (unsigned)(ix0 + i >= 0 && ix0 + i < k->wi) << i;
        }
        pos[l] = p;
    }
}

/* out = conv(in) through u (WXI x co x ci, the transformed kernel), with
 * bias and ReLU, or out += conv(in) when accumulating. mask: see the
 * kernels' inputs. scratch: per thread, WXI * (ci + co) * block floats. */
static void core_forward(const nn_winograd_kernels *kern, float *out, int accumulate, const float *in,
                         const float *mask, const float *u, const float *bias, int relu,
                         const wino_core *k, float *scratch)
{
    const long ld = k->block, per_thread = (long)WXI * (k->ci + k->co) * ld;
    #pragma omp parallel for schedule(static)
    for (long b = 0; b < k->blocks; b++) {
        float *v = scratch + (long)omp_get_thread_num() * per_thread;
        float *m = v + (long)WXI * k->ci * ld;
        const long t0 = b * k->block;
        const int cnt = (int)((k->tiles - t0 < k->block ? k->tiles - t0 : k->block) + LANES - 1) / LANES * LANES;
        tile_pos pos[MAX_BLOCK];
        tile_positions(pos, k, t0, cnt);
        for (int ch = 0; ch < k->ci; ch++) kern->inputs(v, ld, in, mask, ch, k, pos, cnt);
        for (int e = 0; e < WXI; e++)
            nn_gemm(0, 0, k->co, cnt, k->ci, 1.0f, u + (long)e * k->co * k->ci, k->ci,
                    v + (long)e * k->ci * ld, (int)ld, 0.0f, m + (long)e * k->co * ld, (int)ld);
        for (int oc = 0; oc < k->co; oc++)
            kern->outputs(out, accumulate, m, ld, bias ? bias[oc] : 0.0f, relu, oc, k, pos, cnt);
    }
}

/* u (WXI rows of rows * cols) = G g G^T for the kernels of w (o, c, 3, 3):
 * u row r, column s takes kernel (r, s), or with flip the kernel (s, r)
 * turned by 180 degrees (the input gradient's convolution). */
static void weights_to_domain(const nn_winograd_kernels *kern, float *u, const float *w, int rows,
                              int cols, int flip)
{
    const long count = (long)rows * cols;
    #pragma omp parallel for schedule(static)
    for (long k0 = 0; k0 < count; k0 += LANES) kern->weights(u, w, rows, cols, flip, k0);
}

static wino_core forward_core(const nn_winograd_geom *q)
{
    return make_core(q->n, q->c, q->h, q->w, q->o, q->oh, q->ow, q->pad_h, q->pad_w);
}

/* The input gradient's convolution: dy with the flipped kernel and the
 * padding that brings it back to x's size. */
static wino_core input_grad_core(const nn_winograd_geom *q)
{
    return make_core(q->n, q->o, q->oh, q->ow, q->c, q->h, q->w, 2 - q->pad_h, 2 - q->pad_w);
}

/* The weight gradient's tiling: the forward's, in blocks of its own size. */
static wino_core weight_grad_core(const nn_winograd_geom *q)
{
    wino_core k = forward_core(q);
    long b = WGRAD_FLOATS / ((long)WXI * (q->c + q->o)) / LANES * LANES;
    if (b < LANES) b = LANES;
    if (b > MAX_WGRAD_BLOCK) b = MAX_WGRAD_BLOCK;
    const long whole = (k.tiles + LANES - 1) / LANES * LANES;
    k.block = (int)(whole < b ? whole : b);
    k.blocks = (k.tiles + k.block - 1) / k.block;
    return k;
}

int nn_conv2d_winograd_fits(int c, int o, int kh, int kw, nn_conv2d_args a)
{
    /* Below 16 channels either way the GEMMs are too thin for the saved
     * flops to pay for the transforms (a network's first conv, C = 3). */
    return kh == 3 && kw == 3 && a.stride_h == 1 && a.stride_w == 1 && a.dilation_h == 1 &&
           a.dilation_w == 1 && a.groups == 1 && a.pad_h >= 0 && a.pad_h <= 2 && a.pad_w >= 0 &&
           a.pad_w <= 2 && c >= 16 && o >= 16;
}

long nn_conv2d_winograd_forward_scratch(const nn_winograd_geom *q, int threads)
{
    const wino_core k = forward_core(q);
    return (long)WXI * q->o * q->c + (long)threads * WXI * (k.ci + k.co) * k.block;
}

void nn_conv2d_winograd_forward(float *y, const float *x, const float *w, const float *b,
                                const nn_winograd_geom *q, float *scratch)
{
    const wino_core k = forward_core(q);
    const nn_winograd_kernels *kern = NN_KERNELS(nn_winograd_kernels);
    float *u = scratch;
    weights_to_domain(kern, u, w, q->o, q->c, 0);
    core_forward(kern, y, 0, x, NULL, u, b, q->relu, &k, u + (long)WXI * q->o * q->c);
}

long nn_conv2d_winograd_backward_scratch(const nn_winograd_geom *q, int threads)
{
    const wino_core kx = input_grad_core(q), kw = weight_grad_core(q);
    const long per_dx = (long)threads * WXI * (kx.ci + kx.co) * kx.block;
    const long per_dw = (long)WXI * (kw.ci + kw.co) * kw.block;
    const long du = (long)WXI * q->o * q->c;
    return du + (per_dx > per_dw ? per_dx : per_dw);
}

/* The weight gradient in the Winograd domain: du (WXI x o x c) = sum over
 * tiles of dm (A dy A^T) times v (B^T x B). All threads transform one
 * block together (channel by channel), then each point's GEMM adds the
 * block into du[e]: every du[e] sums the blocks in order within one GEMM
 * call at a time, so the result does not depend on the thread count, and
 * no thread needs a du of its own. */
static void weight_grad_domain(const nn_winograd_kernels *kern, float *du, const float *dy,
                               const float *x, const float *y, const nn_winograd_geom *q,
                               float *scratch)
{
    const wino_core k = weight_grad_core(q);
    const long ld = k.block;
    float *v = scratch, *dm = v + (long)WXI * q->c * ld;
    tile_pos pos[MAX_WGRAD_BLOCK];
    for (long b = 0; b < k.blocks; b++) {
        const long t0 = b * k.block;
        const int cnt = (int)((k.tiles - t0 < k.block ? k.tiles - t0 : k.block) + LANES - 1) / LANES * LANES;
        tile_positions(pos, &k, t0, cnt);
        #pragma omp parallel
        {
            #pragma omp for schedule(static)
            for (int ch = 0; ch < q->c; ch++) kern->inputs(v, ld, x, NULL, ch, &k, pos, cnt);
            #pragma omp for schedule(static)
            for (int oc = 0; oc < q->o; oc++) kern->output_grads(dm, ld, dy, q->relu ? y : NULL, oc, &k, pos, cnt);
            #pragma omp for schedule(static)
            for (int e = 0; e < WXI; e++)
                nn_gemm(0, 1, q->o, q->c, cnt, 1.0f, dm + (long)e * q->o * ld, (int)ld,
                        v + (long)e * q->c * ld, (int)ld, b ? 1.0f : 0.0f, du + (long)e * q->o * q->c, q->c);
        }
    }
}

/* dw (o, c, 3, 3) += G^T du G. */
static void weight_grad_from_domain(const nn_winograd_kernels *kern, float *dw, const float *du, int o,
                                    int c)
{
    const long count = (long)o * c;
    #pragma omp parallel for schedule(static)
    for (long k0 = 0; k0 < count; k0 += LANES) kern->weight_grads(dw, du, count, k0);
}

void nn_conv2d_winograd_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                 const float *w, const float *y, const nn_winograd_geom *q,
                                 float *scratch)
{
    const nn_winograd_kernels *kern = NN_KERNELS(nn_winograd_kernels);
    const long du_size = (long)WXI * q->o * q->c;
    float *u = scratch, *work = u + du_size;
    const float *mask = q->relu ? y : NULL;
    if (db) {
        const long plane = (long)q->oh * q->ow;
        #pragma omp parallel for schedule(static)
        for (int oc = 0; oc < q->o; oc++) {
            float lanes[LANES] = {0};
            for (int n = 0; n < q->n; n++) {
                const long at = ((long)n * q->o + oc) * plane;
                long j = 0;
                for (; j + LANES <= plane; j += LANES)
                    for (int l = 0; l < LANES; l++)
                        lanes[l] += !mask || mask[at + j + l] > 0.0f ? dy[at + j + l] : 0.0f;
                for (int l = 0; j < plane; j++, l++) lanes[l] += !mask || mask[at + j] > 0.0f ? dy[at + j] : 0.0f;
            }
            float sum = 0.0f;
            for (int l = 0; l < LANES; l++) sum += lanes[l];
            db[oc] += sum;
        }
    }
    if (dx) {
        const wino_core k = input_grad_core(q);
        weights_to_domain(kern, u, w, q->c, q->o, 1);
        core_forward(kern, dx, 1, dy, mask, u, NULL, 0, &k, work);
    }
    if (dw) {
        weight_grad_domain(kern, u, dy, x, y, q, work);
        weight_grad_from_domain(kern, dw, u, q->o, q->c);
    }
}
