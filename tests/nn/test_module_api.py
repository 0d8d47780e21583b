"""The Module API of issue 11: train/eval, named_parameters/modules/buffers, register_buffer in
state_dict, apply, requires_grad_, zero_grad(set_to_none), to(device/dtype), load_state_dict
naming missing and unexpected keys; the containers ModuleList/ModuleDict/ParameterList/Dict."""

import numpy as np
import pytest

import minigrad
from minigrad import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)])
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 2), "b": nn.Linear(4, 3)})
        self.drop = nn.Dropout(0.5)
        self.register_buffer("scale", minigrad.ones(1))
        self.register_buffer("cache", minigrad.zeros(2), persistent=False)


def test_named_parameters_modules_buffers():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names[:4] == ["conv.weight", "conv.bias", "bn.weight", "bn.bias"]
    assert "blocks.1.weight" in names and "heads.b.bias" in names
    assert [n for n, _ in net.named_modules()][:5] == ["", "conv", "bn", "blocks", "blocks.0"]
    assert [n for n, _ in net.named_buffers()] == [
        "scale", "cache", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["conv", "bn", "blocks", "heads", "drop"]
    assert net.get_submodule("blocks.1") is net.blocks[1]
    assert net.get_parameter("heads.a.weight") is net.heads["a"].weight
    assert net.get_buffer("bn.running_var") is net.bn.running_var
    assert [n for n, _ in net.named_parameters(recurse=False)] == []


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(seq.parameters()) == 2
    assert len(list(seq.modules())) == 3          # seq, lin, relu


def test_state_dict_has_persistent_buffers_in_torch_order():
    net = Net()
    keys = list(net.state_dict())
    assert keys[:2] == ["scale", "conv.weight"]   # own params, own buffers, then children
    assert "cache" not in keys and "scale" in keys
    assert "bn.running_mean" in keys and "bn.num_batches_tracked" in keys
    sd = net.state_dict()
    sd["bn.running_mean"][:] = 7.0            # a copy: the model is not changed
    assert not np.any(net.bn.running_mean.numpy() == 7.0)
    kept = net.state_dict(keep_vars=True)
    assert kept["bn.running_mean"] is net.bn.running_mean


def test_state_dict_matches_torch_keys():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.LSTM(3, 4, 2))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2),
                                 torch.nn.LSTM(3, 4, 2))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())            # torch tensors load as they are
    np.testing.assert_array_equal(ours[0].weight.numpy(), theirs[0].weight.detach().numpy())


def test_load_state_dict_names_missing_and_unexpected_keys():
    net = Net()
    sd = net.state_dict()
    del sd["bn.running_var"]
    sd["extra.weight"] = np.zeros(3)
    with pytest.raises(RuntimeError, match='Missing key.*"bn.running_var"') as e:
        net.load_state_dict(sd)
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in str(e.value)
    assert isinstance(e.value, KeyError)                  # what minigrad raised before
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["bn.running_var"] and res.unexpected_keys == ["extra.weight"]
    good = Net().state_dict()
    good["conv.weight"] = np.zeros((2, 1, 2, 2))
    before = net.conv.bias.numpy().copy()
    with pytest.raises(ValueError, match=r"conv.weight.*\(2, 1, 2, 2\).*\(2, 1, 3, 3\)"):
        net.load_state_dict(good)
    np.testing.assert_array_equal(net.conv.bias.numpy(), before)  # nothing changed


def test_load_state_dict_round_trip_restores_buffers(rng):
    a, b = Net(), Net()
    a.bn(minigrad.tensor(rng.standard_normal((4, 2, 3, 3)).astype(np.float32)))
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(b.bn.running_mean.numpy(), a.bn.running_mean.numpy())
    assert b.bn.num_batches_tracked.item() == 1
    assert b.bn.num_batches_tracked.dtype == np.int64


def test_train_eval_apply_requires_grad():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert net.heads["b"].training
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen[0] == "Conv2d"

    def init(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
    net.apply(init)
    assert not np.any(net.blocks[0].weight.numpy())
    net.blocks.requires_grad_(False)
    assert not net.blocks[1].bias.requires_grad and net.conv.weight.requires_grad
    with pytest.raises(ValueError, match="bool"):
        net.train("yes")


def test_zero_grad_set_to_none_or_zero():
    lin = nn.Linear(2, 1)
    lin(minigrad.ones(1, 2)).sum().backward()
    lin.zero_grad(set_to_none=False)
    assert lin.weight.grad is not None and not np.any(lin.weight.grad.numpy())
    lin(minigrad.ones(1, 2)).sum().backward()
    assert lin.weight.grad.numpy().tolist() == [[1.0, 1.0]]
    lin.zero_grad()
    assert lin.weight.grad is None


def test_to_dtype_keeps_parameter_objects_and_integer_buffers():
    net = Net()
    w = net.conv.weight
    net.to(dtype="float64")
    assert net.conv.weight is w and w.dtype == np.float64
    assert net.bn.running_mean.dtype == np.float64 and net.scale.dtype == np.float64
    assert net.bn.num_batches_tracked.dtype == np.int64
    net.float()
    assert w.dtype == np.float32
    net.to(minigrad.zeros(1, dtype="float64"))
    assert w.dtype == np.float64
    with pytest.raises(TypeError, match="neither a device"):
        net.to("gpu0")


def test_to_reference_device_moves_buffers(rng):
    net = Net().to("reference")
    assert net.bn.running_var.device == "reference" and net.conv.weight.device == "reference"
    x = minigrad.tensor(rng.standard_normal((2, 1, 5, 5)).astype(np.float32), device="reference")
    y = net.bn(net.conv(x))
    y.sum().backward()
    assert net.conv.weight.grad.device == "reference"
    net.to("cpu")
    assert net.bn.running_var.device == "cpu" and net.conv.weight.grad.device == "cpu"


def test_setattr_rules():
    net = Net()
    with pytest.raises(TypeError, match="Parameter or None"):
        net.conv.weight = minigrad.zeros(2, 1, 3, 3)
    with pytest.raises(TypeError, match="Tensor or None"):
        net.scale = 3.0
    net.scale = minigrad.full((1,), 2.0)         # a buffer stays a buffer
    assert net.state_dict()["scale"].tolist() == [2.0]
    net.conv.bias = None
    assert "conv.bias" not in net.state_dict()
    with pytest.raises(KeyError, match="already exists"):
        net.register_buffer("conv", minigrad.zeros(1))
    del net.scale
    assert "scale" not in net.state_dict()


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(2, 2)])
    ml.append(nn.ReLU())
    ml.extend([nn.Linear(2, 3)])
    ml.insert(1, nn.Tanh())
    assert [type(m).__name__ for m in ml] == ["Linear", "Tanh", "ReLU", "Linear"]
    assert list(ml.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    del ml[0]
    assert list(ml.state_dict()) == ["2.weight", "2.bias"] and len(ml) == 3
    assert isinstance(ml[1:], nn.ModuleList) and len(ml[1:]) == 2
    md = nn.ModuleDict({"x": nn.Linear(2, 2)})
    md["y"] = nn.Linear(2, 1)
    assert list(md.keys()) == ["x", "y"] and "y" in md and len(md.parameters()) == 4
    md.pop("x")
    assert list(md.state_dict()) == ["y.weight", "y.bias"]
    pl = nn.ParameterList([np.zeros(2, np.float32), nn.Parameter(np.ones(3, np.float32))])
    pd = nn.ParameterDict({"a": np.zeros(1, np.float32)})
    holder = nn.Sequential()
    holder.add_module("pl", pl)
    holder.add_module("pd", pd)
    assert list(holder.state_dict()) == ["pl.0", "pl.1", "pd.a"]


def test_sequential_slicing_dict_and_append():
    from collections import OrderedDict
    seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.ReLU())]))
    assert list(seq.state_dict()) == ["fc.weight", "fc.bias"]
    seq.append(nn.Linear(3, 1))
    assert seq(minigrad.ones(4, 2)).shape == (4, 1)
    assert isinstance(seq[:2], nn.Sequential) and len(seq[:2]) == 2
    assert isinstance(nn.Identity(3, foo=1)(seq), nn.Sequential)


def test_elman_rnn_is_kept():
    rnn = nn.ElmanRNN(2, 3)
    hs, h = rnn(minigrad.randn(4, 5, 2))
    assert hs.shape == (4, 5, 3) and h.shape == (4, 3)
