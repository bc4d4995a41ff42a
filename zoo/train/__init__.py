"""Training layer: the Lightning Trainer factory (trainer.py), FSDP / ModelParallel sharding (fsdp.py),
run directories (runs.py), process ranks (distributed.py), the strategy plug-in protocol (plugin.py) and
the one scoring path every strategy uses (scoring.py).

May import the base (zoo.core, zoo.schema), components and the benchmark (zoo.web); never strategies or
the app (CLI, config composition, search, report)."""
