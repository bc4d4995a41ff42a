"""Every package imports, and the heavy dependencies load beside CPU torch (the torchvision guard)."""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = ["zoo", "zoo.cli", "zoo.config", "zoo.train.trainer", "components", "strategies", "zoo.web"]


@pytest.mark.parametrize("name", PACKAGES)
def test_package_imports(name):
    assert importlib.import_module(name) is not None


def test_third_party_stack_imports_in_a_fresh_interpreter():
    code = (
        "import zoo, timm, lightning, torchmetrics, transformers, optuna, omegaconf, rich, playwright, miniwob, torch\n"
        "m = timm.create_model('vit_tiny_patch16_224', pretrained=False, img_size=32, patch_size=16, num_classes=0)\n"
        "print(tuple(m(torch.zeros(1, 3, 32, 32)).shape))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "(1, 192)"
