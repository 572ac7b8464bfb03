"""RNN, LSTM, GRU (+ cells) with PyTorch's parameter names and gate order.

The input projection of every time step is one matmul per layer/direction;
the recurrence loops over time steps in Python (one fused step per t).
"""

import math

import ember

from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence, pad_packed_sequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]


class RNNBase(Module):
    def __init__(
        self,
        mode,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        proj_size=0,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        if proj_size != 0:
            raise NotImplementedError("ember: LSTM proj_size is not supported yet")
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of "
                "an element being zeroed"
            )
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError("hidden_size must be a positive integer")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than or equal to 1")
        gate_size = {"LSTM": 4, "GRU": 3}.get(mode, 1) * hidden_size
        kw = {}
        if device is not None:
            kw["device"] = device
        if dtype is not None:
            kw["dtype"] = dtype
        num_directions = 2 if bidirectional else 1
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input_size = input_size if layer == 0 else hidden_size * num_directions
                suffix = "_reverse" if direction == 1 else ""
                names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
                params = [
                    Parameter(ember.empty((gate_size, layer_input_size), **kw)),
                    Parameter(ember.empty((gate_size, hidden_size), **kw)),
                ]
                if bias:
                    names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
                    params += [
                        Parameter(ember.empty(gate_size, **kw)),
                        Parameter(ember.empty(gate_size, **kw)),
                    ]
                for name, param in zip(names, params):
                    setattr(self, name, param)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def all_weights(self):
        return [[getattr(self, w) for w in weights] for weights in self._all_weights]

    def flatten_parameters(self):
        pass

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    # -- one layer, one direction --------------------------------------------------
    def _params(self, layer, direction):
        suffix = "_reverse" if direction == 1 else ""
        w_ih = getattr(self, f"weight_ih_l{layer}{suffix}")
        w_hh = getattr(self, f"weight_hh_l{layer}{suffix}")
        b_ih = getattr(self, f"bias_ih_l{layer}{suffix}") if self.bias else None
        b_hh = getattr(self, f"bias_hh_l{layer}{suffix}") if self.bias else None
        return w_ih, w_hh, b_ih, b_hh

    def _cell(self, xw, h, c, w_hh, b_hh):
        raise NotImplementedError

    def _run_direction(self, x, h, c, layer, direction, masks=None):
        """x: (T, N, I). Returns outputs (T, N, H), final h, final c.

        masks[t] (N, 1) marks the sequences still running at step t (packed input):
        elsewhere the state is carried over unchanged, so each sequence's final state
        is the one at its own last step (and the reverse direction starts there).
        """
        w_ih, w_hh, b_ih, b_hh = self._params(layer, direction)
        xw = F.linear(x, w_ih, b_ih)  # all time steps at once
        T = int(x.shape[0])
        steps = range(T - 1, -1, -1) if direction == 1 else range(T)
        outs = [None] * T
        for t in steps:
            h_new, c_new = self._cell(xw[t], h, c, w_hh, b_hh)
            if masks is not None:
                h_new = ember.where(masks[t], h_new, h)
                if c_new is not None:
                    c_new = ember.where(masks[t], c_new, c)
            h, c = h_new, c_new
            outs[t] = h
        return ember.stack(outs, 0), h, c

    def _check_input(self, input, batch_sizes=None):
        expected = 3
        if input.dim() not in (2, 3):
            raise ValueError(
                f"{self.mode}: Expected input to be 2D or 3D, got {input.dim()}D tensor instead"
            )
        if int(input.shape[-1]) != self.input_size:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                f"got {int(input.shape[-1])}"
            )
        return expected

    def _forward_impl(self, input, hx, lengths=None):
        self._check_input(input)
        is_batched = input.dim() == 3
        time_major = lengths is not None  # packed input arrives as (T, N, *)
        if not is_batched:
            input = input.unsqueeze(1)
        elif self.batch_first and not time_major:
            input = input.transpose(0, 1)
        masks = None
        if lengths is not None:
            lens = lengths.to(input.device).unsqueeze(1)
            masks = [lens > t for t in range(int(input.shape[0]))]
        N = int(input.shape[1])
        num_directions = 2 if self.bidirectional else 1
        is_lstm = self.mode == "LSTM"
        if hx is None:
            z = ember.zeros(
                (self.num_layers * num_directions, N, self.hidden_size),
                dtype=input.dtype,
                device=input.device,
            )
            h0, c0 = z, (z if is_lstm else None)
        else:
            if is_lstm:
                h0, c0 = hx
            else:
                h0, c0 = hx, None
            if not is_batched:
                if h0.dim() != 2:
                    raise RuntimeError(
                        f"For unbatched 2-D input, hx should also be 2-D but got {h0.dim()}-D tensor"
                    )
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
            elif h0.dim() != 3:
                raise RuntimeError(
                    f"For batched 3-D input, hx should also be 3-D but got {h0.dim()}-D tensor"
                )
            expected = (self.num_layers * num_directions, N, self.hidden_size)
            if tuple(int(s) for s in h0.shape) != expected:
                raise RuntimeError(
                    f"Expected hidden size {expected}, got {list(int(s) for s in h0.shape)}"
                )
        h_n, c_n = [], []
        layer_input = input
        for layer in range(self.num_layers):
            dir_outs = []
            for d in range(num_directions):
                idx = layer * num_directions + d
                out, h, c = self._run_direction(
                    layer_input, h0[idx], c0[idx] if c0 is not None else None, layer, d, masks
                )
                dir_outs.append(out)
                h_n.append(h)
                c_n.append(c)
            layer_input = dir_outs[0] if num_directions == 1 else ember.cat(dir_outs, 2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        output = layer_input
        h_n = ember.stack(h_n, 0)
        c_n = ember.stack(c_n, 0) if is_lstm else None
        if not is_batched:
            output = output.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        elif self.batch_first and not time_major:
            output = output.transpose(0, 1)
        return output, (h_n, c_n) if is_lstm else h_n

    def forward(self, input, hx=None):
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        return self._forward_impl(input, hx)

    def _forward_packed(self, packed, hx):
        padded, lengths = pad_packed_sequence(packed)  # (T, N, *), original batch order
        output, hidden = self._forward_impl(padded, hx, lengths=lengths)
        if packed.sorted_indices is not None:
            output = output.index_select(1, packed.sorted_indices)
        sizes = [int(b) for b in packed.batch_sizes.tolist()]
        data = ember.cat([output[t, :bs] for t, bs in enumerate(sizes)], 0)
        out = PackedSequence(
            data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
        )
        return out, hidden


def _mm(h, w_hh, b_hh):
    return F.linear(h, w_hh, b_hh)


class RNN(RNNBase):
    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(
                f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        super().__init__(mode, *args, **kwargs)

    def _cell(self, xw, h, c, w_hh, b_hh):
        pre = xw + _mm(h, w_hh, b_hh)
        return (pre.tanh() if self.nonlinearity == "tanh" else pre.relu()), None

    def extra_repr(self):
        s = super().extra_repr()
        if self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


class LSTM(RNNBase):
    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def _cell(self, xw, h, c, w_hh, b_hh):
        gates = xw + _mm(h, w_hh, b_hh)
        i, f, g, o = gates.chunk(4, -1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        return h, c


class GRU(RNNBase):
    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def _cell(self, xw, h, c, w_hh, b_hh):
        hw = _mm(h, w_hh, b_hh)
        xr, xz, xn = xw.chunk(3, -1)
        hr, hz, hn = hw.chunk(3, -1)
        r = (xr + hr).sigmoid()
        z = (xz + hz).sigmoid()
        n = (xn + r * hn).tanh()
        return (1 - z) * n + z * h, None


class RNNCellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        kw = {}
        if device is not None:
            kw["device"] = device
        if dtype is not None:
            kw["dtype"] = dtype
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(ember.empty((num_chunks * hidden_size, input_size), **kw))
        self.weight_hh = Parameter(ember.empty((num_chunks * hidden_size, hidden_size), **kw))
        if bias:
            self.bias_ih = Parameter(ember.empty(num_chunks * hidden_size, **kw))
            self.bias_hh = Parameter(ember.empty(num_chunks * hidden_size, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _prep(self, input, hx, n_states):
        if input.dim() not in (1, 2):
            raise ValueError(
                f"{type(self).__name__}: Expected input to be 1D or 2D, got {input.dim()}D instead"
            )
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        if hx is None:
            z = ember.zeros(
                (int(input.shape[0]), self.hidden_size), dtype=input.dtype, device=input.device
            )
            hx = (z, z) if n_states == 2 else z
        elif not is_batched:
            hx = tuple(h.unsqueeze(0) for h in hx) if n_states == 2 else hx.unsqueeze(0)
        return input, hx, is_batched


class RNNCell(RNNCellBase):
    def __init__(
        self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None
    ):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, hx, is_batched = self._prep(input, hx, 1)
        pre = F.linear(input, self.weight_ih, self.bias_ih) + F.linear(
            hx, self.weight_hh, self.bias_hh
        )
        if self.nonlinearity == "tanh":
            ret = pre.tanh()
        elif self.nonlinearity == "relu":
            ret = pre.relu()
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return ret if is_batched else ret.squeeze(0)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        input, (h, c), is_batched = self._prep(input, hx, 2)
        gates = F.linear(input, self.weight_ih, self.bias_ih) + F.linear(
            h, self.weight_hh, self.bias_hh
        )
        i, f, g, o = gates.chunk(4, -1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        if not is_batched:
            h, c = h.squeeze(0), c.squeeze(0)
        return h, c


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        input, h, is_batched = self._prep(input, hx, 1)
        xr, xz, xn = F.linear(input, self.weight_ih, self.bias_ih).chunk(3, -1)
        hr, hz, hn = F.linear(h, self.weight_hh, self.bias_hh).chunk(3, -1)
        r = (xr + hr).sigmoid()
        z = (xz + hz).sigmoid()
        n = (xn + r * hn).tanh()
        h = (1 - z) * n + z * h
        return h if is_batched else h.squeeze(0)
