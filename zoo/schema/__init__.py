"""Typed config dataclasses, mirrored by the YAML files in ``configs/``.

Kept free of torch imports so ``zoo config`` and ``zoo --help`` start fast.
Each file is owned by the part of the zoo it configures.
"""
