"""Step i0: the baseline. Four 3x3 convs, two max-pools, one linear head."""

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        raise NotImplementedError('TODO(i0): build the layers of the shape table (lesson: "The network")')

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError('TODO(i0): the layers in order, ReLU after each conv (lesson: "The network")')


def layer_shapes() -> dict[str, tuple[int, ...]]:
    """Output shape of each layer above, without the batch dimension."""
    raise NotImplementedError('TODO(i0): fill in the shape table (lesson: "Shapes by hand")')
