"""ember.backends: PyTorch's backend switches (cudnn, cuda, mps, opt_einsum, cpu, mkldnn).

Programs set these at start-up (`torch.backends.cudnn.benchmark = True`) and
query them; ember keeps PyTorch's defaults and records what is set. None of
them changes ember's results: there is no cuDNN, and matmuls are float32.
"""

from . import cpu, cuda, cudnn, mkldnn, mps, opt_einsum  # noqa: F401
