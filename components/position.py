"""Fourier features of an element's box, shared by both strategies' element encoders.

A coordinate through a Linear gives nearby but distinct elements almost the same embedding, and two elements on
one row no more alike than any two; sin/cos of the centre at several frequencies separate the first and let a dot
product find the second (a field and the header on its row, a number and the buttons beside it).
"""
from __future__ import annotations

import torch
from torch import Tensor

FREQUENCIES = (1.0, 2.0, 4.0, 8.0, 16.0)  # cycles per page width (or height): boxes are given in those units
FEATURES = 4 * len(FREQUENCIES)  # sin and cos of x and y at each frequency


def fourier_position(box: Tensor) -> Tensor:
    """(..., >= 4) boxes whose first four columns are x, y, width, height (page units) -> (..., FEATURES)
    sin/cos of the box centre at each of ``FREQUENCIES``."""
    cx = box[..., 0] + box[..., 2] / 2
    cy = box[..., 1] + box[..., 3] / 2
    angles = torch.stack([cx, cy], -1).unsqueeze(-1) * torch.tensor(FREQUENCIES, device=box.device) * torch.pi
    return torch.cat([angles.sin(), angles.cos()], -1).flatten(-2)
