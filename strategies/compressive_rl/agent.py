"""The trained Strategy-2 network as a benchmark ``Agent`` (zoo.web.agents protocol), and loading it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from strategies.compressive_rl.config import CompressiveRLRunConfig
from strategies.compressive_rl.features import EpisodeTracker, Featurizer, featurize_in_episode, make_featurizer, stack
from strategies.compressive_rl.policy import NOOP
from strategies.compressive_rl.model import ActionModel
from strategies.compressive_rl.rollout import policy_step, to_action, to_tensors
from strategies.compressive_rl.tokenizer import tokenizer_from_json
from zoo.core.checkpoints import checkpoint_exists, load_checkpoint, load_weights, saved_run_config
from zoo.core.errors import ZooError


class MemoryAgent:
    """``reset(n) -> state``; ``act(observations, state, done_mask) -> (actions, state)``.

    The state is the memory core's attention state and each episode's ``EpisodeTracker`` entry: its instructions
    so far (their spans are typing candidates on later pages) and the no-ops it ended with (``ppo.noop_limit``);
    ``done_mask`` (True where the observation opens a new episode) clears both for those envs before the step, as in
    training.
    """

    def __init__(self, model: ActionModel, featurizer: Featurizer, greedy: bool = True, device: str = "cpu"):
        self.model = model.to(device).eval()
        self.featurizer, self.greedy, self.device = featurizer, greedy, torch.device(device)
        self.name = "compressive_rl"
        # tells zoo.web.bench.evaluate whether observations need screenshots
        self.screenshot = featurizer.screen_size is not None
        self.screenshot_size = int(featurizer.screen_size or 64)

    def reset(self, n_envs: int) -> Any:
        return {"memory": self.model.init_state(n_envs, self.device), "first": True,
                "episodes": EpisodeTracker(n_envs)}

    @torch.no_grad()
    def act(self, observations: list[Any], state: Any, done_mask: Any = None) -> tuple[list[Any], Any]:
        n = len(observations)
        if state is None:
            state = self.reset(n)
        starts = np.ones(n, bool) if state.get("first") else np.asarray(
            done_mask if done_mask is not None else np.zeros(n), dtype=bool)
        seen = state["episodes"]
        fz = [featurize_in_episode(self.featurizer, seen, i, o, bool(starts[i])) for i, o in enumerate(observations)]
        batch = to_tensors(stack([f.arrays for f in fz]), self.device)
        dist, memory = policy_step(self.model, batch, state["memory"], torch.as_tensor(starts, device=self.device),
                                   greedy=self.greedy)
        chosen = dist.slot.cpu().numpy()
        for i, a in enumerate(chosen):
            seen.acted(i, int(a[1]) == NOOP)
        actions = [to_action(f, a) for f, a in zip(fz, chosen)]
        return actions, {"memory": memory, "first": False, "episodes": seen}


def load_agent(checkpoint_path: str | Path, greedy: bool | None = None, device: str = "cpu") -> MemoryAgent:
    """Rebuild the agent from a ``zoo fit strategy=2`` checkpoint (config and tokenizer are inside it)."""
    path = Path(checkpoint_path)
    if not checkpoint_exists(path):
        raise ZooError(f"checkpoint not found: {path}")
    ckpt = load_checkpoint(path)  # a full file or a sharded directory (trainer.sharded_checkpoint)
    model, tok, cfg = model_from_checkpoint(ckpt, path)
    return MemoryAgent(model, make_featurizer(tok, cfg), greedy=cfg.ppo.greedy_eval if greedy is None else greedy,
                       device=device)


def model_from_checkpoint(ckpt: dict[str, Any], path: str | Path) -> tuple[ActionModel, Any, Any]:
    """(model with the checkpoint's weights, its BPE tokenizer, its run config) from a loaded strategy-2 checkpoint;
    one line where the file is another strategy's or its weights do not fit."""
    hp = ckpt.get("hyper_parameters", {})
    if str(hp.get("strategy")) not in ("2", "compressive_rl") or "tokenizer_json" not in ckpt:
        raise ZooError(f"{path} is not a strategy-2 (compressive_rl) checkpoint")
    cfg = saved_run_config(hp["cfg"], CompressiveRLRunConfig, "ppo")  # older files: later keys' defaults
    tok = tokenizer_from_json(ckpt["tokenizer_json"])
    model = ActionModel(cfg.model, cfg.ppo, tok.vocab_size, int(tok.pad_id))
    prefix = "model."
    load_weights(model, {k[len(prefix):]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}, path)
    return model, tok, cfg
