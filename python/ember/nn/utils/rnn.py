"""Variable-length sequences: pad_sequence, pack_padded_sequence, pad_packed_sequence, ...

A PackedSequence stores the time-major concatenation of the sequences' steps
(`data`), how many sequences are still running at each step (`batch_sizes`,
int64 on the cpu) and the permutation that sorted them by length. ember's
RNN/LSTM/GRU accept it and return one.
"""

from collections import namedtuple

import ember

__all__ = [
    "PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
    "unpad_sequence", "pack_sequence", "unpack_sequence", "invert_permutation",
]  # fmt: skip

_PackedSequenceBase = namedtuple(
    "PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"]
)


class PackedSequence(_PackedSequenceBase):
    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        dev = data.device
        sorted_indices = None if self.sorted_indices is None else self.sorted_indices.to(dev)
        unsorted_indices = None if self.unsorted_indices is None else self.unsorted_indices.to(dev)
        return type(self)(data, self.batch_sizes, sorted_indices, unsorted_indices)

    def cpu(self):
        return self.to("cpu")

    @property
    def is_cuda(self):
        return str(self.data.device) != "cpu"

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    if permutation is None:
        return None
    out = ember.empty_like(permutation)
    out[permutation] = ember.arange(permutation.numel(), device=permutation.device)
    return out


def _lengths_list(lengths):
    if isinstance(lengths, ember.Tensor):
        return [int(v) for v in lengths.reshape(-1).tolist()]
    return [int(v) for v in lengths]


def _batch_sizes(sorted_lengths):
    T = sorted_lengths[0] if sorted_lengths else 0
    return [sum(1 for n in sorted_lengths if n > t) for t in range(T)]


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    lens = _lengths_list(lengths)
    if any(n <= 0 for n in lens):
        raise RuntimeError(
            "Length of all samples has to be greater than 0, but found an element in "
            "'lengths' that is <= 0"
        )
    if enforce_sorted:
        if any(lens[i] < lens[i + 1] for i in range(len(lens) - 1)):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability."
            )
        sorted_indices = None
        order = list(range(len(lens)))
    else:
        order = sorted(range(len(lens)), key=lambda i: -lens[i])
        sorted_indices = ember.tensor(order, dtype=ember.int64, device=input.device)
    if batch_first:
        input = input.transpose(0, 1)
    if sorted_indices is not None:
        input = input.index_select(1, sorted_indices)
    sorted_lens = [lens[i] for i in order]
    if sorted_lens[0] > int(input.shape[0]):
        raise RuntimeError(
            f"Expected sequence length to be larger than or equal to {sorted_lens[0]}, "
            f"got {int(input.shape[0])}"
        )
    sizes = _batch_sizes(sorted_lens)
    data = ember.cat([input[t, :bs] for t, bs in enumerate(sizes)], 0)
    batch_sizes = ember.tensor(sizes, dtype=ember.int64)
    return PackedSequence(data, batch_sizes, sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    data, batch_sizes = sequence.data, [int(b) for b in sequence.batch_sizes.tolist()]
    T = len(batch_sizes)
    B = batch_sizes[0]
    if total_length is not None:
        if total_length < T:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being {T}"
            )
    else:
        total_length = T
    feat = tuple(int(s) for s in data.shape[1:])
    steps = []
    offset = 0
    for bs in batch_sizes:
        step = data[offset : offset + bs]
        if bs < B:
            fill = ember.full((B - bs,) + feat, padding_value, dtype=data.dtype, device=data.device)
            step = ember.cat([step, fill], 0)
        steps.append(step)
        offset += bs
    for _ in range(total_length - T):
        steps.append(ember.full((B,) + feat, padding_value, dtype=data.dtype, device=data.device))
    padded = ember.stack(steps, 0)  # (T, B, *)
    lengths = [sum(1 for bs in batch_sizes if bs > b) for b in range(B)]
    lengths_t = ember.tensor(lengths, dtype=ember.int64)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths_t = lengths_t.index_select(0, sequence.unsorted_indices.to("cpu"))
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, lengths_t


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    if padding_side not in ("left", "right"):
        raise ValueError(
            f"Expected padding_side to be one of left or right, but got {padding_side}."
        )
    sequences = list(sequences)
    max_len = max(int(s.shape[0]) for s in sequences)
    out = []
    for s in sequences:
        n = int(s.shape[0])
        if n < max_len:
            fill = ember.full(
                (max_len - n,) + tuple(int(d) for d in s.shape[1:]),
                padding_value,
                dtype=s.dtype,
                device=s.device,
            )
            s = ember.cat([s, fill] if padding_side == "right" else [fill, s], 0)
        out.append(s)
    return ember.stack(out, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :n] for i, n in enumerate(_lengths_list(lengths))]


def pack_sequence(sequences, enforce_sorted=True):
    lengths = [int(s.shape[0]) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
