"""torch.nn.functional for ember.

Everything is composed from differentiable tensor ops (autograd comes for
free), except convolution and pooling, which call the Rust kernels in
`ember._C` with arguments normalised here (tuples of ints, explicit padding);
builds without those kernels use composed stand-ins (ember.nn._functional._kernels).
The implementation lives in ember.nn._functional, one file per topic.
"""

from .._tensor_api import pdist  # noqa: F401,E402
from ._functional import activation as _activation
from ._functional import attention as _attention
from ._functional import conv as _conv
from ._functional import conv3d as _conv3d
from ._functional import embedding_bag as _embedding_bag
from ._functional import linear as _linear
from ._functional import loss as _loss
from ._functional import normalization as _normalization
from ._functional import pooling as _pooling
from ._functional import resize as _resize
from ._functional import sampling as _sampling
from ._functional._utils import _legacy_reduction, _pair, _reduce  # noqa: F401
from ._functional.activation import *  # noqa: F401,F403
from ._functional.attention import *  # noqa: F401,F403
from ._functional.conv import *  # noqa: F401,F403
from ._functional.conv3d import *  # noqa: F401,F403
from ._functional.embedding_bag import *  # noqa: F401,F403
from ._functional.linear import *  # noqa: F401,F403
from ._functional.loss import *  # noqa: F401,F403
from ._functional.normalization import *  # noqa: F401,F403
from ._functional.pooling import *  # noqa: F401,F403
from ._functional.resize import *  # noqa: F401,F403
from ._functional.sampling import *  # noqa: F401,F403

__all__ = (
    _activation.__all__
    + _linear.__all__
    + _conv.__all__
    + _pooling.__all__
    + _resize.__all__
    + _normalization.__all__
    + _attention.__all__
    + _loss.__all__
    + _conv3d.__all__
    + _embedding_bag.__all__
    + _sampling.__all__
    + ["pdist"]
)
