/* Fused recurrent cells, as torch.nn.LSTMCell and torch.nn.GRUCell.
 *
 * Each cell is one fused op: the gate pre-activations come from two GEMMs
 * (x W_ih^T and h W_hh^T) into step-arena buffers, the nonlinearities and
 * the state update run in one pass, and the backward computes the gate
 * gradients once and then GEMMs for dx, dh, dW_ih, dW_hh (db are column
 * sums); everything accumulates (+=).
 *
 * A tape node holds at most NN_NODE_MAX_INPUTS (4) inputs and a cell has up
 * to 7, so each cell records two nodes for the same output, sharing one
 * saved state: the main node (x, h, c, w_ih for the LSTM; x, h, w_ih, w_hh
 * for the GRU), then the params node (the rest). The tape walks newest
 * first, so the params node runs first: it turns the output's gradient into
 * gate gradients (saved), adds its own inputs' gradients, and the main node
 * then uses the saved gate gradients for the rest. */
#ifndef NN_OPS_RNN_CELL_H
#define NN_OPS_RNN_CELL_H

#include "autograd/tape.h"

/* The LSTM cell with both new states in one tensor: hc = [h' | c'].
 * Gates in torch's order i, f, g, o:
 *   (i f g o) = x w_ih^T + b_ih + h w_hh^T + b_hh,  i f o sigmoid, g tanh,
 *   c' = f c + i g,  h' = o tanh(c').
 * x: (N, I), h, c: (N, H), w_ih: (4H, I), w_hh: (4H, H), b_ih, b_hh: (4H) or
 * NULL -> hc: (N, 2H) in the step arena. NULL (message set) on bad shapes or
 * a full arena, or when any required input is NULL. */
nn_tensor *nn_lstm_cell_fused(nn_tape *t, nn_tensor *x, nn_tensor *h, nn_tensor *c,
                              nn_tensor *w_ih, nn_tensor *w_hh, nn_tensor *b_ih, nn_tensor *b_hh);

/* nn_lstm_cell_fused, then h' and c' as two slices of hc (recorded slice
 * nodes, so gradients flowing into h' and c' separately both reach hc).
 * Sets *h_out, *c_out: (N, H); on failure both are NULL and the status is
 * returned with a message. */
nn_status nn_lstm_cell(nn_tape *t, nn_tensor *x, nn_tensor *h, nn_tensor *c, nn_tensor *w_ih,
                       nn_tensor *w_hh, nn_tensor *b_ih, nn_tensor *b_hh, nn_tensor **h_out,
                       nn_tensor **c_out);

/* The GRU cell, gates in torch's order r, z, n:
 *   r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr),  z alike,
 *   n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)),  h' = (1 - z) n + z h.
 * x: (N, I), h: (N, H), w_ih: (3H, I), w_hh: (3H, H), b_ih, b_hh: (3H) or
 * NULL -> h': (N, H) in the step arena; NULL (message set) on failure. */
nn_tensor *nn_gru_cell(nn_tape *t, nn_tensor *x, nn_tensor *h, nn_tensor *w_ih, nn_tensor *w_hh,
                       nn_tensor *b_ih, nn_tensor *b_hh);

/* The backwards of the two nodes each cell records (see above). */
nn_status nn_lstm_cell_backward(nn_tape *t, const nn_node *node);
nn_status nn_lstm_cell_params_backward(nn_tape *t, const nn_node *node);
nn_status nn_gru_cell_backward(nn_tape *t, const nn_node *node);
nn_status nn_gru_cell_params_backward(nn_tape *t, const nn_node *node);

#endif
