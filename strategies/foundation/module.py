"""The LightningModule of all three stages (the stage picks the loss terms and their weights)."""
from __future__ import annotations

from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from components.optim import param_groups, warmup_cosine
from strategies.foundation.batch import Batch
from strategies.foundation.config import MODEL_KEYS
from strategies.foundation.losses import STAGE_TERMS, compute_losses, weighted_total
from strategies.foundation.model import FoundationModel
from strategies.foundation.pretrained_text import make_text_side
from zoo.train.fsdp import shard_for_model_parallel


def as_config(cfg: Any) -> DictConfig:
    return cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)


class FoundationModule(L.LightningModule):
    """cfg: the run config (as a plain dict in the checkpoint's hyper-parameters).  stage: pretrain | sft | rl.
    vocab_size / pad_id: of the run's BPE tokenizer plus the sequence specials.
    The tokenizer itself (``tokenizer_json``) is stored inside every checkpoint, so one file is a whole agent.
    With a pretrained text side (``foundation.text_init``) the encoder is loaded from there, or, given
    ``text_config`` (a checkpoint's), built from that config alone (the state dict brings its weights);
    its tokenizer (``text_tokenizer_json``) is stored in the checkpoint too.
    """

    def __init__(self, cfg: Any, stage: str, vocab_size: int, pad_id: int, tokenizer_json: str | None = None,
                 text_config: dict | None = None, text_tokenizer_json: str | None = None):
        super().__init__()
        cfg = as_config(cfg)
        text = None
        if text_config is not None or str(cfg.foundation.text_init) != "scratch":
            text = make_text_side(int(cfg.model.dim), bool(cfg.foundation.text_frozen),
                                  spec=cfg.foundation.text_init, config=text_config)
        self.save_hyperparameters({"cfg": OmegaConf.to_container(cfg, resolve=True), "stage": stage,
                                   "vocab_size": int(vocab_size), "pad_id": int(pad_id),
                                   "text_config": None if text is None else text.config})
        self.cfg, self.stage = cfg, stage
        self.tokenizer_json = tokenizer_json
        self.text_tokenizer_json = text_tokenizer_json
        self.model = FoundationModel(cfg.model, vocab_size, pad_id, text=text,
                                     **{key: cfg.foundation[key] for key in MODEL_KEYS})
        self.terms = STAGE_TERMS[stage]
        stage_cfg = cfg.foundation[stage]
        self.weights = {"frame": float(stage_cfg.frame_coef)}
        for name in ("pointer", "kind", "key", "span"):
            self.weights[name] = float(stage_cfg.action_coef)
        if stage == "rl":
            self.weights.update(value=float(stage_cfg.value_coef), distill=float(stage_cfg.distill_coef))
        self._sharded = False

    def configure_model(self) -> None:
        if not self._sharded:
            shard_for_model_parallel(self)
            self._sharded = True

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(batch)

    def step_losses(self, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        losses = compute_losses(self.model, batch, self.terms)
        return weighted_total(losses, self.weights), losses

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        total, losses = self.step_losses(batch)
        self.log(f"{self.stage}/loss", total.detach(), prog_bar=True, batch_size=batch.size)
        for k, v in losses.items():
            self.log(f"{self.stage}/{k}", v.detach(), batch_size=batch.size)
        rounds = getattr(self, "search_rounds", None)
        if rounds:  # RL: success of the latest search-collection round
            self.log("rl/search_success", float(rounds[-1]["success_rate"]), batch_size=batch.size)
            self.log("rl/search_expansions", float(rounds[-1]["mean_expansions"]), batch_size=batch.size)
            if "env_steps" in rounds[-1]:  # cumulative simulator steps: the report's env-step axis
                self.log("rl/env_steps", float(rounds[-1]["env_steps"]), batch_size=batch.size)
        return total

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        total, losses = self.step_losses(batch)
        self.log(f"val/{self.stage}_loss", total.detach(), batch_size=batch.size)
        for k in ("lm_line_acc", "pointer_acc", "span_acc"):
            if k in losses:
                self.log(f"val/{k}", losses[k], batch_size=batch.size)

    def configure_optimizers(self) -> Any:
        stage_cfg = self.cfg.foundation[self.stage]
        # components.optim: decay / no-decay groups, and Infini-attention gates at their own higher lr
        groups = param_groups(self.model, float(stage_cfg.lr), float(stage_cfg.weight_decay))
        optimizer = torch.optim.AdamW(groups)
        total = max(1, int(stage_cfg.max_steps))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, total))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["foundation_tokenizer"] = self.tokenizer_json
        if self.text_tokenizer_json is not None:
            checkpoint["foundation_text_tokenizer"] = self.text_tokenizer_json
        replay = getattr(self, "replay", None)  # RL: the search side (rl.SearchReplay) resumes with the weights
        if replay is not None:
            checkpoint["foundation_rl"] = replay.state_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.tokenizer_json = checkpoint.get("foundation_tokenizer", self.tokenizer_json)
        self.text_tokenizer_json = checkpoint.get("foundation_text_tokenizer", self.text_tokenizer_json)
        replay = getattr(self, "replay", None)
        if replay is not None and checkpoint.get("foundation_rl") is not None:
            replay.load_state_dict(checkpoint["foundation_rl"], int(checkpoint.get("global_step", 0)))
