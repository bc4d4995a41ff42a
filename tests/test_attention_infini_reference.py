"""Infini-attention over several segments against a step-by-step reference of the paper's equations.

Munkhdalai et al. 2024 ("Leave No Context Behind", section 2.1), per head, segment s, sigma = ELU + 1:

    retrieval:  A_mem = sigma(Q) M_{s-1} / (sigma(Q) z_{s-1})
    linear:     M_s = M_{s-1} + sigma(K)^T V
    delta:      M_s = M_{s-1} + sigma(K)^T (V - sigma(K) M_{s-1} / (sigma(K) z_{s-1}))
    both:       z_s = z_{s-1} + sum_t sigma(K_t)
    output:     A = sigmoid(beta) A_mem + (1 - sigmoid(beta)) A_dot   (A_dot: causal softmax attention
                inside the segment), then the output projection.

The reference below is written from those lines alone, in float64 with explicit loops over
sequences, heads and tokens; it shares only the layer's weights (the q/k/v and output projections).
M_0 = 0 and z_0 = 0, whose retrieval 0/0 the paper leaves undefined: an empty memory reads 0.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from components.attention import create_attention

DIM, HEADS, B, SEG, N_SEG = 8, 2, 2, 5, 4
DH = DIM // HEADS


def sigma(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x + 1.0, np.exp(x))  # ELU(x) + 1


def reference(x: np.ndarray, w_qkv, b_qkv, w_out, b_out, beta, delta_rule: bool):
    """Outputs (B, T, D) and the memory (M, z) after every segment, from the paper's equations."""
    memory = np.zeros((B, HEADS, DH, DH))
    norm = np.zeros((B, HEADS, DH))
    outputs, states = np.zeros((B, N_SEG * SEG, DIM)), []
    gate = 1.0 / (1.0 + np.exp(-beta))
    for s in range(N_SEG):
        seg = x[:, s * SEG : (s + 1) * SEG]
        new_memory, new_norm = memory.copy(), norm.copy()
        for b in range(B):
            proj = seg[b] @ w_qkv.T + b_qkv  # (SEG, 3 * DIM)
            mixed = np.zeros((SEG, DIM))
            for h in range(HEADS):
                cols = slice(h * DH, (h + 1) * DH)
                q, k, v = proj[:, cols], proj[:, DIM:][:, cols], proj[:, 2 * DIM :][:, cols]
                m_prev, z_prev = memory[b, h], norm[b, h]
                for t in range(SEG):
                    sq = sigma(q[t])
                    denom = sq @ z_prev
                    a_mem = np.zeros(DH) if denom == 0 else (sq @ m_prev) / denom
                    logits = np.array([q[t] @ k[j] / math.sqrt(DH) for j in range(t + 1)])
                    weights = np.exp(logits - logits.max())
                    a_dot = (weights / weights.sum()) @ v[: t + 1]
                    mixed[t, cols] = gate[h] * a_mem + (1 - gate[h]) * a_dot
                for t in range(SEG):  # the segment's keys are written after its queries have read
                    sk = sigma(k[t])
                    write = v[t].copy()
                    if delta_rule:
                        denom = sk @ z_prev
                        write -= np.zeros(DH) if denom == 0 else (sk @ m_prev) / denom
                    new_memory[b, h] += np.outer(sk, write)
                    new_norm[b, h] += sk
            outputs[b, s * SEG : (s + 1) * SEG] = mixed @ w_out.T + b_out
        memory, norm = new_memory, new_norm
        states.append((memory.copy(), norm.copy()))
    return outputs, states


@pytest.mark.parametrize("delta_rule", [False, True])
def test_infini_matches_the_papers_update_and_retrieval_over_segments(delta_rule):
    torch.manual_seed(0)
    attn = create_attention("infini", DIM, HEADS, segment_len=SEG, delta_rule=delta_rule).double().eval()
    with torch.no_grad():
        attn.gate.copy_(torch.tensor([-0.7, 1.3], dtype=torch.float64))  # heads lean differently
    x = torch.randn(B, N_SEG * SEG, DIM, dtype=torch.float64)
    params = [p.detach().numpy() for p in (attn.qkv.weight, attn.qkv.bias, attn.proj.weight, attn.proj.bias)]
    ref_out, ref_states = reference(x.numpy(), *params, attn.gate.detach().numpy(), delta_rule)

    state, outs = attn.init_state(B), []  # the memory is fp32 whatever the layer's dtype (by design)
    for s, piece in enumerate(x.split(SEG, dim=1)):
        with torch.no_grad():
            y, state = attn(piece, state)
        outs.append(y)
        m, z = state
        np.testing.assert_allclose(m.numpy(), ref_states[s][0], rtol=1e-5, atol=1e-6, err_msg=f"M after segment {s}")
        np.testing.assert_allclose(z.numpy(), ref_states[s][1], rtol=1e-5, atol=1e-6, err_msg=f"z after segment {s}")
    np.testing.assert_allclose(torch.cat(outs, 1).numpy(), ref_out, rtol=1e-5, atol=1e-6)


def test_reference_tells_the_two_rules_apart():
    """The check above can fail: the linear and delta memories differ after the second segment, so a
    layer that applied the wrong rule (or retrieved from the updated memory) would not match."""
    torch.manual_seed(0)
    attn = create_attention("infini", DIM, HEADS, segment_len=SEG).double()
    x = np.random.default_rng(0).standard_normal((B, N_SEG * SEG, DIM))
    params = [p.detach().numpy() for p in (attn.qkv.weight, attn.qkv.bias, attn.proj.weight, attn.proj.bias)]
    beta = attn.gate.detach().numpy()
    (out_lin, st_lin), (out_delta, st_delta) = (reference(x, *params, beta, rule) for rule in (False, True))
    np.testing.assert_allclose(st_lin[0][0], st_delta[0][0])  # segment 1: empty memory, same write
    assert np.abs(st_lin[1][0] - st_delta[1][0]).max() > 1e-2
    assert np.abs(out_lin[:, 2 * SEG :] - out_delta[:, 2 * SEG :]).max() > 1e-3
