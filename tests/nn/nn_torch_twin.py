"""One helper for the nn tests: run a minigrad module and its PyTorch twin (same weights, copied
through ``state_dict``) on the same inputs and compare outputs, gradients of the inputs and of
every parameter, and the buffers afterwards (tinygrad's ``helper_test_op``, for modules)."""

from __future__ import annotations

import numpy as np

import minigrad


def flat(out) -> list:
    """The tensors of a nested output ((out, (h, c)), ...), None left out."""
    if out is None:
        return []
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flat(o)]
    return [out]


def load_from_torch(module, tmodule) -> None:
    """Copy the torch module's parameters and buffers into ours (strict: the names must match)."""
    module.load_state_dict({k: v.detach().cpu().numpy() for k, v in tmodule.state_dict().items()})


def compare(module, tmodule, inputs, *, call=None, tcall=None, grad_inputs=None, atol=1e-8,
            rtol=1e-6, device="cpu", seed=0, load=True, steps=1):
    """Forward both modules on ``inputs`` (numpy arrays; float ones get gradients unless
    ``grad_inputs`` says which), backward a random weighting of every output, and assert that
    outputs, input gradients, parameter gradients and state (buffers) agree. ``steps`` repeats
    forward/backward (BatchNorm's running statistics). Returns the minigrad outputs."""
    import torch
    if load:
        load_from_torch(module, tmodule)
    module.to(device)
    call = call or (lambda m, *xs: m(*xs))
    tcall = tcall or call
    rng = np.random.default_rng(seed)
    if grad_inputs is None:
        grad_inputs = [np.asarray(a).dtype.kind == "f" for a in inputs]
    outs = None
    for _ in range(steps):
        module.zero_grad()
        tmodule.zero_grad()
        xs = [minigrad.tensor(a, requires_grad=g, device=device, dtype=np.asarray(a).dtype)
              for a, g in zip(inputs, grad_inputs)]
        txs = [torch.tensor(np.asarray(a), requires_grad=g) for a, g in zip(inputs, grad_inputs)]
        outs, touts = flat(call(module, *xs)), flat(tcall(tmodule, *txs))
        assert len(outs) == len(touts), (len(outs), len(touts))
        loss, tloss = None, None
        for o, to in zip(outs, touts):
            assert o.shape == tuple(to.shape), (o.shape, tuple(to.shape))
            np.testing.assert_allclose(o.numpy(), to.detach().numpy(), atol=atol, rtol=rtol)
            if not to.requires_grad:
                continue
            w = rng.standard_normal(o.shape).astype(o.dtype)
            term = (o * minigrad.tensor(w, device=device, dtype=o.dtype)).sum()
            tterm = (to * torch.tensor(w)).sum()
            loss = term if loss is None else loss + term
            tloss = tterm if tloss is None else tloss + tterm
        if loss is not None:
            loss.backward()
            tloss.backward()
        for x, tx, g in zip(xs, txs, grad_inputs):
            if g:
                assert x.grad is not None, "no gradient for an input"
                np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=atol * 10,
                                           rtol=rtol * 10)
        tparams = dict(tmodule.named_parameters())
        for name, p in module.named_parameters():
            tp = tparams[name]
            if tp.grad is None:
                assert p.grad is None or not np.any(p.grad.numpy()), name
                continue
            assert p.grad is not None, f"no gradient for {name}"
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), atol=atol * 10,
                                       rtol=rtol * 10, err_msg=name)
        tstate = tmodule.state_dict()
        for name, v in module.state_dict().items():
            np.testing.assert_allclose(v, tstate[name].detach().numpy(), atol=atol, rtol=rtol,
                                       err_msg=name)
    return outs
