"""Shared pytest set-up: the zoo package runs its torchvision import guard when imported, so importing it
here, before any test module imports timm or Lightning directly, covers the whole suite once."""
import zoo  # noqa: F401
