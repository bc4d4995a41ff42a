"""actionzoo: build, train and compare web action models under Lightning."""
from zoo.core.compat import ensure_torchvision_importable

ensure_torchvision_importable()

__version__ = "0.1.0"
