"""Base layer: errors, registries, the torchvision import guard, atomic file IO, checkpoint IO and
statistics.  Nothing here imports from components, the benchmark, training, strategies or the app."""
