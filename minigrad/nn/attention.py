"""``MultiheadAttention``, as ``torch.nn.MultiheadAttention``: a composite of linear, reshape,
transpose, batched matmul, softmax and dropout, so it runs on every backend."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..tensor.tensor import Tensor, cat
from . import init
from .layers import Linear
from .module import Module, Parameter


class MultiheadAttention(Module):
    """Attention with ``num_heads`` heads of ``embed_dim / num_heads`` features each:

        head_i = softmax(Q_i K_i^T / sqrt(d) + mask) V_i,   Q = query W_q^T + b_q (K, V alike)
        out = cat(head_1, ..., head_h) W_o^T + b_o

    Inputs (L, N, E) query and (S, N, E_k), (S, N, E_v) key and value ((N, L, E) with
    ``batch_first``; 2-D unbatched). ``key_padding_mask`` (N, S) and a bool ``attn_mask``
    (L, S) or (N * num_heads, L, S) are True where attention is *not* allowed; float masks are
    added to the scores. Returns (output, weights): the weights (N, L, S) averaged over heads
    (``average_attn_weights``) or (N, num_heads, L, S), None when ``need_weights`` is False.
    Parameters and their names are PyTorch's (``in_proj_weight``, ``out_proj.weight``, ...).

    >>> import minigrad
    >>> mha = MultiheadAttention(8, 2, batch_first=True)
    >>> x = minigrad.randn(3, 5, 8)
    >>> out, w = mha(x, x, x)
    >>> out.shape, w.shape
    ((3, 5, 8), (3, 5, 5))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False):
        super().__init__()
        if embed_dim < 1 or num_heads < 1 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by "
                             f"num_heads {num_heads}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, float(dropout)
        self.head_dim = embed_dim // num_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.batch_first, self.add_zero_attn = batch_first, add_zero_attn
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        e = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.zeros((3 * e, e), np.float32))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(np.zeros((e, e), np.float32))
            self.k_proj_weight = Parameter(np.zeros((e, self.kdim), np.float32))
            self.v_proj_weight = Parameter(np.zeros((e, self.vdim), np.float32))
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * e, np.float32))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias)
        if add_bias_kv:
            self.bias_k = Parameter(np.zeros((1, 1, e), np.float32))
            self.bias_v = Parameter(np.zeros((1, 1, e), np.float32))
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's: Glorot-uniform projections, zero biases, Glorot-normal bias_k/v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        for b in (self.in_proj_bias, self.out_proj.bias):
            if b is not None:
                init.zeros_(b)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                init.xavier_normal_(b)

    def _project(self, query, key, value):
        e, w, b = self.embed_dim, self.in_proj_weight, self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if not self._qkv_same_embed_dim:
            return (F.linear(query, self.q_proj_weight, bq), F.linear(key, self.k_proj_weight, bk),
                    F.linear(value, self.v_proj_weight, bv))
        if query is key and key is value:  # self-attention: one GEMM for q, k and v
            qkv = F.linear(query, w, b)
            return qkv[..., :e], qkv[..., e:2 * e], qkv[..., 2 * e:]
        return (F.linear(query, w[:e], bq), F.linear(key, w[e:2 * e], bk),
                F.linear(value, w[2 * e:], bv))

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask=None,
                need_weights: bool = True, attn_mask=None, average_attn_weights: bool = True,
                is_causal: bool = False):
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"MultiheadAttention: query, key and value must all be 3-D "
                             f"(batched) or 2-D, got {query.shape}, {key.shape}, {value.shape}")
        if query.shape[-1] != self.embed_dim or key.shape[-1] != self.kdim \
                or value.shape[-1] != self.vdim:
            raise ValueError(f"MultiheadAttention: expected feature sizes {self.embed_dim}, "
                             f"{self.kdim}, {self.vdim} for query, key, value; got shapes "
                             f"{query.shape}, {key.shape}, {value.shape}")
        same = query is key, key is value
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = np.asarray(key_padding_mask)[None] \
                    if not isinstance(key_padding_mask, Tensor) else key_padding_mask.unsqueeze(0)
        elif self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        if same[0] and same[1]:
            key = value = query
        elif same[1]:
            value = key
        L, n, e = query.shape
        h, d = self.num_heads, self.head_dim
        q, k, v = self._project(query, key, value)
        extra = 0  # key positions appended below (bias_k/v, a zero key)
        if self.bias_k is not None:
            k = cat([k, self.bias_k.expand(1, n, e)], 0)
            v = cat([v, self.bias_v.expand(1, n, e)], 0)
            extra += 1
        q, k, v = (t.reshape(t.shape[0], n * h, d).transpose(0, 1) for t in (q, k, v))
        if self.add_zero_attn:
            z = Tensor(np.zeros((n * h, 1, d), q.dtype), device=q.device)
            k, v = cat([k, z], 1), cat([v, z], 1)
            extra += 1
        S = k.shape[1]
        mask = self._mask(attn_mask, key_padding_mask, is_causal, n, L, S, extra, q)
        out, weights = F._attention(q, k, v, mask, self.dropout, self.training)
        out = out.transpose(0, 1).reshape(L * n, e)
        out = self.out_proj(out).reshape(L, n, e)
        if not batched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        weights = weights.reshape(n, h, L, S)
        if average_attn_weights:
            weights = weights.mean(1)
        return out, (weights if batched else weights.squeeze(0))

    def _mask(self, attn_mask, key_padding_mask, is_causal, n, L, S, extra, like):
        """One additive mask, broadcastable to (N * heads, L, S), or None."""
        h = self.num_heads
        parts = []
        if attn_mask is None and is_causal:
            attn_mask = ~np.tril(np.ones((L, S - extra), bool))
        if attn_mask is not None:
            m = F._additive_mask(attn_mask, like.dtype, like.device, allow_true=False)
            if m.ndim not in (2, 3) or m.shape[-2:] != (L, S - extra) or (
                    m.ndim == 3 and m.shape[0] != n * h):
                raise ValueError(f"MultiheadAttention: attn_mask must be ({L}, {S - extra}) or "
                                 f"({n * h}, {L}, {S - extra}), got {m.shape}")
            if extra:
                m = F._pad(m, {m.ndim - 1: (0, extra)})
            parts.append(m)
        if key_padding_mask is not None:
            m = F._additive_mask(key_padding_mask, like.dtype, like.device, allow_true=False)
            if m.shape != (n, S - extra):
                raise ValueError(f"MultiheadAttention: key_padding_mask must be "
                                 f"({n}, {S - extra}), got {m.shape}")
            if extra:
                m = F._pad(m, {1: (0, extra)})
            parts.append(m.reshape(n, 1, 1, S).expand(n, h, 1, S).reshape(n * h, 1, S))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else parts[0] + parts[1]

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")
