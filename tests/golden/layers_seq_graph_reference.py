"""Golden values for the sequence and graph layer builders
(lib/nn/sequence_layers.c, lib/nn/graph_layers.c; tests/test_layers_seq_graph.c).

Run by hand from the repository root with Debian's python3-torch:

    /usr/bin/python3 tests/golden/layers_seq_graph_reference.py

Inputs, weights and upstream gradients are float32 draws from a seeded NumPy
generator; PyTorch runs in float64 on those values, so the stored outputs and
gradients carry no float32 rounding of their own. torch_geometric is not
installed here, so GCN and GAT are written out in plain torch with PyG's
formulas (GCNConv's gcn_norm with add_remaining_self_loops; GATConv's
remove_self_loops + add_self_loops, leaky_relu 0.2, softmax over each
target's incoming edges, sum aggregation, concat or mean over heads).

Writes tests/golden/layers_seq_graph.safetensors with, per case <c>:

    <c>.p.<name>     every parameter, under the state_dict key the C layer gets
                     (the C test loads them by name, so a missing or misshapen
                     name fails)
    <c>.g.<name>     the gradient of the loss with respect to that parameter
    <c>.<input>      inputs (indices, lengths, masks and edge lists as float32:
                     exact), and <c>.d<input> their gradients
    <c>.dy, ...      upstream gradients; the loss is sum(out * dy) over the
                     case's outputs
    <c>.y, ...       the outputs

and metadata `cases` (names separated by spaces), `<c>.names` (the parameter
names in state_dict order) and `<c>.spec` (the layer's arguments).

Cases:
    lstm        nn.LSTM(4, 3, num_layers=2, bidirectional=True, batch_first=True)
                over a pack_padded_sequence with lengths 5, 2, 4 (unsorted),
                given h0 and c0; out (unpacked with total_length=T), h_n, c_n
    gru         nn.GRU(3, 4), time-major, lengths 4, 2, 3, no h0 (zeros)
    gru_bi      nn.GRU(3, 2, bidirectional=True), time-major, full lengths, h0
    mha_self    nn.MultiheadAttention(8, 2, batch_first=True), self-attention
                with a key padding mask and a causal attn_mask
    mha_cross   nn.MultiheadAttention(8, 4), time-major, query 3 steps, key and
                value 4 steps (all distinct), key padding mask
    embedding   nn.Embedding(10, 4, padding_idx=2)
    layernorm   nn.LayerNorm((4, 5)) on (2, 3, 4, 5)
    gcn         GCNConv(4, 3) on 6 nodes (edges with a duplicate, a one-way
                edge and an existing self-loop)
    gat         GATConv(4, 3, heads=2) on the same graph, concat
    gat_mean    GATConv(4, 2, heads=3, concat=False)
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layers_seq_graph.safetensors")

rng = np.random.default_rng(20240611)
tensors, meta, names = {}, {"torch": torch.__version__}, []


def draw(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def leaf(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def const(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64)


def load_module(case, module, prefix, scale=0.5):
    """Fresh float32 draws into every parameter of `module` (float64); the
    parameters as (state_dict key with prefix, tensor), in state_dict order."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(const(draw(*p.shape, scale=scale)))
    params = [(prefix + name, p) for name, p in module.named_parameters()]
    assert [prefix + k for k in module.state_dict()] == [name for name, _ in params]
    return params


def finish(case, spec, params, inputs, outputs, extra=None):
    """Loss sum(out * dy) over the outputs, backward, and store everything."""
    loss = 0.0
    ups = {}
    for name, y in outputs.items():
        dy = const(draw(*y.shape))
        ups["d" + name] = dy
        loss = loss + (y * dy).sum()
    loss.backward()
    meta[case + ".names"] = " ".join(name for name, _ in params)
    for name, p in params:
        tensors["%s.p.%s" % (case, name)] = p.detach().float()
        tensors["%s.g.%s" % (case, name)] = p.grad.detach().float()
    for name, x in inputs.items():
        tensors["%s.%s" % (case, name)] = x.detach().float()
        if x.requires_grad:
            tensors["%s.d%s" % (case, name)] = x.grad.detach().float()
    for name, v in (extra or {}).items():
        tensors["%s.%s" % (case, name)] = torch.as_tensor(np.asarray(v, dtype=np.float32))
    for name, y in outputs.items():
        tensors["%s.%s" % (case, name)] = y.detach().float()
        tensors["%s.%s" % (case, "d" + name)] = ups["d" + name].float()
    meta[case + ".spec"] = spec
    names.append(case)


# ---- recurrent ------------------------------------------------------------

def rnn_case(case, kind, prefix, inp, hid, layers, bidir, batch_first, n, steps, lengths,
             with_h0):
    cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
    rnn = cls(inp, hid, num_layers=layers, bidirectional=bidir, batch_first=batch_first).double()
    params = load_module(case, rnn, prefix)
    dirs = 2 if bidir else 1
    x = leaf(draw(*((n, steps, inp) if batch_first else (steps, n, inp))))
    inputs = {"x": x}
    state = None
    if with_h0:
        h0 = leaf(draw(layers * dirs, n, hid))
        inputs["h0"] = h0
        state = h0
        if kind == "lstm":
            c0 = leaf(draw(layers * dirs, n, hid))
            inputs["c0"] = c0
            state = (h0, c0)
    extra = {}
    if lengths is not None:
        extra["lengths"] = lengths
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first,
                                      enforce_sorted=False)
        out, hn = rnn(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=steps)
    else:
        out, hn = rnn(x, state)
    outputs = {"y": out}
    if kind == "lstm":
        outputs["h_n"], outputs["c_n"] = hn
    else:
        outputs["h_n"] = hn
    spec = "%s input=%d hidden=%d layers=%d bidirectional=%d batch_first=%d h0=%d lengths=%d" % (
        kind, inp, hid, layers, int(bidir), int(batch_first), int(with_h0),
        int(lengths is not None))
    finish(case, spec, params, inputs, outputs, extra)


rnn_case("lstm", "lstm", "encoder.rnn.", 4, 3, 2, True, True, 3, 5, [5, 2, 4], True)
rnn_case("gru", "gru", "gru.", 3, 4, 1, False, False, 3, 4, [4, 2, 3], False)
rnn_case("gru_bi", "gru", "gru.", 3, 2, 1, True, False, 2, 3, None, True)


# ---- multi-head attention ---------------------------------------------------

def mha_case(case, e, heads, batch_first, lq, lk, n, self_attention, pad, causal):
    mha = torch.nn.MultiheadAttention(e, heads, batch_first=batch_first).double()
    params = load_module(case, mha, "attn.")
    shape_q = (n, lq, e) if batch_first else (lq, n, e)
    shape_k = (n, lk, e) if batch_first else (lk, n, e)
    q = leaf(draw(*shape_q))
    inputs = {"q": q}
    if self_attention:
        k = v = q
    else:
        k, v = leaf(draw(*shape_k)), leaf(draw(*shape_k))
        inputs["k"], inputs["v"] = k, v
    mask = torch.tensor(pad, dtype=torch.bool)
    attn_mask = torch.triu(torch.ones(lq, lk, dtype=torch.bool), 1) if causal else None
    y, _ = mha(q, k, v, key_padding_mask=mask, attn_mask=attn_mask, need_weights=False)
    spec = "mha embed=%d heads=%d batch_first=%d self=%d causal=%d" % (
        e, heads, int(batch_first), int(self_attention), int(causal))
    finish(case, spec, params, inputs, {"y": y}, {"pad": pad})


mha_case("mha_self", 8, 2, True, 5, 5, 2, True, [[0, 0, 0, 0, 1], [0, 0, 0, 1, 1]], True)
mha_case("mha_cross", 8, 4, False, 3, 4, 2, False, [[0, 0, 1, 0], [0, 0, 0, 1]], False)


# ---- embedding, layer norm ----------------------------------------------------

emb = torch.nn.Embedding(10, 4, padding_idx=2).double()
params = load_module("embedding", emb, "embed.", scale=1.0)
with torch.no_grad():
    emb.weight[2].zero_()   # as torch's init leaves it
idx = [[2, 7, 7, 0, 9], [3, 2, 5, 7, 1]]
finish("embedding", "embedding num=10 dim=4 padding_idx=2", params, {}, {"y": emb(torch.tensor(idx))},
       {"idx": idx})

ln = torch.nn.LayerNorm((4, 5)).double()
params = load_module("layernorm", ln, "norm.")
x = leaf(draw(2, 3, 4, 5))
finish("layernorm", "layernorm dims=4,5 eps=1e-5", params, {"x": x}, {"y": ln(x)})


# ---- graphs -------------------------------------------------------------------

NODES = 6
# Undirected pairs, a one-way edge 5 -> 0, a duplicate 1 -> 2 and a self-loop 3 -> 3.
EDGES = np.array([[0, 1, 1, 2, 2, 3, 3, 4, 5, 1, 3, 4, 0],
                  [1, 0, 2, 1, 3, 2, 4, 3, 0, 2, 3, 0, 4]], dtype=np.int64)


def self_loops(edge_index, n):
    """PyG's remove_self_loops then add_self_loops (= add_remaining_self_loops
    for unweighted graphs): every old loop dropped, one loop per node appended."""
    keep = edge_index[0] != edge_index[1]
    loops = np.stack([np.arange(n), np.arange(n)])
    return torch.tensor(np.concatenate([edge_index[:, keep], loops], axis=1))


def gcn_case(case, fin, fout):
    w = leaf(draw(fout, fin, scale=0.5))
    b = leaf(draw(fout, scale=0.5))
    x = leaf(draw(NODES, fin))
    ei = self_loops(EDGES, NODES)
    row, col = ei[0], ei[1]
    deg = torch.zeros(NODES, dtype=torch.float64).index_add_(0, col, torch.ones(ei.shape[1],
                                                                                 dtype=torch.float64))
    dis = deg.pow(-0.5)
    norm = dis[row] * dis[col]
    xw = x @ w.t()
    y = torch.zeros(NODES, fout, dtype=torch.float64).index_add_(0, col, norm[:, None] * xw[row])
    y = y + b
    # The same layer densely: D^-1/2 (A + I) D^-1/2 X W^T + b with A[target, source]
    # counting edges, old self-loops replaced by one per node.
    with torch.no_grad():
        a = torch.zeros(NODES, NODES, dtype=torch.float64)
        a.index_put_((col, row), torch.ones(len(row), dtype=torch.float64), accumulate=True)
        d = a.sum(1).pow(-0.5)
        dense = (d[:, None] * a * d[None, :]) @ (x @ w.t()) + b
        assert torch.allclose(dense, y, atol=1e-12), "GCN: edge form and dense form differ"
    finish(case, "gcn in=%d out=%d nodes=%d" % (fin, fout, NODES),
           [("conv.bias", b), ("conv.lin.weight", w)], {"x": x}, {"y": y}, {"edges": EDGES})


def gat_case(case, fin, fout, heads, concat):
    att_src = leaf(draw(1, heads, fout, scale=0.5))
    att_dst = leaf(draw(1, heads, fout, scale=0.5))
    b = leaf(draw(heads * fout if concat else fout, scale=0.5))
    w = leaf(draw(heads * fout, fin, scale=0.5))
    x = leaf(draw(NODES, fin))
    ei = self_loops(EDGES, NODES)
    src, dst = ei[0], ei[1]
    xw = (x @ w.t()).view(-1, heads, fout)
    a_src = (xw * att_src).sum(-1)
    a_dst = (xw * att_dst).sum(-1)
    e = F.leaky_relu(a_src[src] + a_dst[dst], 0.2)
    # Softmax over the incoming edges of each target, as torch_geometric.utils.softmax
    # (which shifts by a detached per-target max first: the same values; the
    # scores here are small enough for float64 without it).
    ex = e.exp()
    den = torch.zeros(NODES, heads, dtype=torch.float64).index_add_(0, dst, ex)
    alpha = ex / den[dst]
    out = torch.zeros(NODES, heads, fout, dtype=torch.float64).index_add_(
        0, dst, alpha[:, :, None] * xw[src])
    y = out.reshape(NODES, heads * fout) if concat else out.mean(dim=1)
    y = y + b
    # The same layer densely: a masked softmax over each target's row of sources
    # (multi-edges count once per copy, so add log(count) to the score).
    with torch.no_grad():
        count = torch.zeros(NODES, NODES, dtype=torch.float64)
        count.index_put_((dst, src), torch.ones(len(src), dtype=torch.float64), accumulate=True)
        s = F.leaky_relu(a_dst[:, None, :] + a_src[None, :, :], 0.2) + count.log()[:, :, None]
        att = torch.softmax(s, dim=1)   # (target, source, head)
        dense = torch.einsum("tsh,shc->thc", att, xw)
        dense = (dense.reshape(NODES, -1) if concat else dense.mean(dim=1)) + b
        assert torch.allclose(dense, y, atol=1e-12), "GAT: edge form and dense form differ"
    finish(case, "gat in=%d out=%d heads=%d concat=%d nodes=%d" % (fin, fout, heads, int(concat),
                                                                   NODES),
           [("conv.att_src", att_src), ("conv.att_dst", att_dst), ("conv.bias", b),
            ("conv.lin.weight", w)], {"x": x}, {"y": y}, {"edges": EDGES})


gcn_case("gcn", 4, 3)
gat_case("gat", 4, 3, 2, True)
gat_case("gat_mean", 4, 2, 3, False)


def main():
    meta["cases"] = " ".join(names)
    write(OUT, tensors, meta)
    print("wrote", OUT, "with", len(tensors), "tensors")


if __name__ == "__main__":
    main()
