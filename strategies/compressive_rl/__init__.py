"""Strategy 2: PPO action model with recurrent attention memory (Transformer-XL / Infini-attention).

    fit(cfg, run_dir, callbacks) -> results dict    ``zoo fit strategy=compressive_rl`` (alias 2)
    load_agent(checkpoint_path) -> Agent           the trained agent for ``zoo bench agent=checkpoint``

Layout: config.py (run config + checks), plugin.py (registration), features.py (observation ->
arrays), model.py (encoder + memory core), policy.py (pointer / kind / argument heads, value),
rollout.py (collection with carried memory), ppo_math.py (loss pieces), module.py (LightningModule,
one training_step = one PPO update), bc.py (behaviour cloning from oracle demonstrations), warm_start.py
(the BC warm start before PPO, ppo.bc_demos_per_task), finetune.py (few-shot adaptation hook), fit.py, agent.py, seeds.py (which training seeds each process,
resume, vocabulary walk and validation use).  Importing the package only registers it (no torch).
"""
from strategies.compressive_rl import plugin  # noqa: F401  (registers the strategy)
