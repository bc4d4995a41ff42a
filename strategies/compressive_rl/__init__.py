"""Strategy 2: PPO action model with recurrent attention memory (Transformer-XL / Infini-attention).

    fit(cfg, run_dir) -> results dict       ``zoo fit strategy=2``: train, checkpoint, score
    load_agent(checkpoint_path) -> Agent    the trained agent for ``zoo bench agent=checkpoint``

Layout: features.py (observation -> arrays), model.py (encoder + memory core), policy.py (pointer /
kind / argument heads, value), rollout.py (collection with carried memory), ppo_math.py (loss
pieces), module.py (LightningModule, one training_step = one PPO update), fit.py, agent.py,
seeds.py (which training seeds each process, resume, vocabulary walk and validation use).
"""

from strategies.compressive_rl.agent import MemoryAgent, load_agent
from strategies.compressive_rl.fit import fit

__all__ = ["MemoryAgent", "fit", "load_agent"]
