"""PPO as a LightningModule with manual optimisation: one ``training_step`` = one PPO update.

training_step: collect a rollout from the VecWebEnv (memory carried across steps and updates),
compute GAE, then run ``update_epochs`` x ``minibatches`` clipped-PPO steps.  Minibatches are sets
of whole envs: each env's rollout is replayed in time order from the stored initial memory
state, so log-probs are recomputed with the same memory the actions were sampled with.

Step counting: the minibatch steps inside an update go to the optimizer through the strategy
(precision plugin, FSDP/DDP aware), and only the update's last step goes through the
LightningOptimizer, so ``trainer.global_step`` counts PPO updates: ``trainer.max_steps``,
``checkpoint_every`` and the logging cadence are all in updates.

The env is not part of the module (not in the state_dict); ``attach_env`` plugs it in.
"""
from __future__ import annotations

import time
from typing import Any

import lightning as L
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import IterableDataset

from strategies.compressive_rl import ppo_math
from strategies.compressive_rl.bc import Demonstration, clone_loss, episode_batch, replay_draw
from strategies.compressive_rl.features import Featurizer, make_featurizer
from components.attention import index_state
from components.optim import param_groups

from strategies.compressive_rl.model import ActionModel, trim_padding
from strategies.compressive_rl.rollout import Rollout, RolloutCollector, env_groups, to_tensors
from strategies.compressive_rl.tokenizer import tokenizer_from_json
from strategies.compressive_rl.validation import greedy_episodes, summarize, validation_jobs
from zoo.train.fsdp import shard_for_model_parallel


def time_split(rollout: Rollout, update_s: float, start: float, last_end: float | None) -> dict[str, float]:
    """Where one PPO update's wall time went, in seconds and as shares of it: the browser (waiting for
    env steps, plus acting passes computed while another env group's step was still in flight: the
    pages were working then, and they did not wait for the model), the model (acting passes the pages
    waited for + the PPO update's passes), featurizing observations, and the rest (logging, checkpoint
    writes and Lightning between the previous update's end and this one's start; the first update
    has none).  The model's seconds are also given split into acting and updating
    (``time_model_act_s``, all acting passes, ``time_model_act_hidden_s`` of them overlapped with the
    browsers, ``time_model_update_s``): they cost differently and are cut differently, so the split
    says which to work on."""
    now = time.perf_counter()
    other = (now - start) - rollout.browser_s - rollout.model_s - rollout.featurize_s - update_s
    other += 0.0 if last_end is None else max(0.0, start - last_end)
    hidden = rollout.model_overlapped_s
    parts = {"browser": rollout.browser_s + hidden, "model": rollout.model_s - hidden + update_s,
             "featurize": rollout.featurize_s, "other": max(0.0, other)}
    total = max(sum(parts.values()), 1e-9)
    out = {f"time_{k}_s": v for k, v in parts.items()}
    out.update({f"time_{k}_share": v / total for k, v in parts.items()})
    out.update(time_model_act_s=rollout.model_s, time_model_act_hidden_s=hidden, time_model_update_s=update_s)
    return out


class UpdateStream(IterableDataset):
    """One dummy item per PPO update; the data comes from the env inside training_step."""

    def __iter__(self):
        while True:
            yield torch.zeros(1)


class PPOModule(L.LightningModule):
    def __init__(self, cfg: DictConfig, tokenizer_json: str):
        super().__init__()
        # the checkpoint holds everything load_agent needs: strategy name and config in
        # hyper_parameters (plain data: checkpoints load with weights_only), the run's BPE vocabulary
        # beside them (on_save_checkpoint); the module itself keeps the typed config it was given
        self.save_hyperparameters({"strategy": "compressive_rl", "cfg": OmegaConf.to_container(cfg, resolve=True)})
        self.tokenizer_json = tokenizer_json
        self.automatic_optimization = False
        self.cfg = cfg

        self.tokenizer = tokenizer_from_json(tokenizer_json)
        self.featurizer = make_featurizer(self.tokenizer, self.cfg)
        self.model = ActionModel(self.cfg.model, self.cfg.ppo, self.tokenizer.vocab_size, int(self.tokenizer.pad_id))
        self.collector: RolloutCollector | None = None
        self._env: Any = None
        self.val_jobs: list[tuple[str, int]] = []
        self.env_steps_done = 0  # env steps this process has collected, carried through checkpoints
        self.demonstrations: list[Demonstration] = []  # replayed during PPO with ppo.bc_coef (warm_start.py)
        self._last_step_end: float | None = None  # see time_split

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["tokenizer_json"] = self.tokenizer_json
        checkpoint["env_steps_done"] = self.env_steps_done

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.env_steps_done = int(checkpoint.get("env_steps_done", 0))

    # ---------------------------------------------------------------- wiring
    def attach_env(self, env: Any, seeds: list[int], tasks: list[str] | None = None) -> None:
        """Plug in the VecWebEnv; ``tasks`` get the periodic validation episodes (ppo.val_every)."""
        self._env = env
        self.collector = RolloutCollector(env, self.featurizer, len(seeds), seeds,
                                          timeout_reward=float(self.cfg.ppo.timeout_reward),
                                          train_reward=str(self.cfg.ppo.train_reward),
                                          step_penalty=float(self.cfg.ppo.step_penalty),
                                          groups=env_groups(env, int(self.cfg.ppo.act_groups)))
        self.val_jobs = validation_jobs(list(tasks or [s.name for s in getattr(env, "specs", [])]),
                                        int(self.cfg.ppo.val_episodes))

    def configure_model(self) -> None:
        shard_for_model_parallel(self)

    def configure_optimizers(self):
        # param_groups gives infini-attention's memory gate its own higher lr and no decay
        # fused: one kernel over the ~90 parameter tensors instead of torch's CPU default (small ops per
        # tensor); the same Adam.  Measured per PPO minibatch step of the default run: 17.4 ms CPU (default),
        # 16.1 (foreach), 14.2 (fused)
        opt = torch.optim.Adam(param_groups(self.model, float(self.cfg.ppo.lr)), lr=float(self.cfg.ppo.lr), eps=1e-5,
                               fused=True)
        for group in opt.param_groups:
            group["initial_lr"] = group["lr"]  # what set_annealed_lr scales (kept in the optimizer's checkpoint)
        return opt

    def set_annealed_lr(self) -> float:
        """ppo.anneal_lr: each group's lr decays linearly to 0 over trainer.max_steps updates (as in
        cleanrl's PPO): late large steps could flip a task the policy had solved into a deterministic
        wrong first action it never left.  A function of the step alone, so a resumed run (even with a
        new max_steps) picks up the right rate.  Returns the first group's lr."""
        opt = self.optimizers()
        total = self.trainer.max_steps
        frac = max(0.0, 1.0 - self.global_step / total) if self.cfg.ppo.anneal_lr and total and total > 0 else 1.0
        for group in opt.param_groups:
            group["lr"] = group["initial_lr"] * frac
        return float(opt.param_groups[0]["lr"])

    def train_dataloader(self):
        return torch.utils.data.DataLoader(UpdateStream(), batch_size=None)

    def val_dataloader(self):
        # one step plays all validation episodes; none when validation is off (ppo.val_every=0)
        items = [torch.zeros(1)] if int(self.cfg.ppo.val_every) > 0 else []
        return torch.utils.data.DataLoader(items, batch_size=None)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Greedy episodes on held-out seeds (strategies/compressive_rl/validation.py) -> val/success_rate."""
        assert self.collector is not None, "attach_env() before fitting"
        self.model.eval()
        episodes = greedy_episodes(self._env, self.featurizer, self.model, self.val_jobs, self.device)
        self.collector.restart()  # the env's training episodes were cut: start fresh ones
        for k, v in summarize(episodes).items():
            self.log(f"val/{k}", v, on_step=False, on_epoch=True, sync_dist=True, batch_size=1)

    # ---------------------------------------------------------------- PPO
    def replay(self, ro: dict[str, Any], envs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Recompute (logp, entropy, value), each (T, n), and the encoder's auxiliary loss for envs
        ``envs`` of the rollout, in time order."""
        obs = {k: v[:, envs] for k, v in ro["obs"].items()}
        T, n = obs["el_tag"].shape[:2]
        flat = trim_padding({k: v.reshape(T * n, *v.shape[2:]) for k, v in obs.items()}, self.model.encoder.pad_id)
        enc = self.model.encoder(flat)
        state = index_state(ro["init_state"], envs)
        h = self.model.core.unroll(enc.summary.view(T, n, -1), state, ro["starts"][:, envs])
        dist = self.model.heads(h.reshape(T * n, -1), enc, flat, actions=ro["actions"][:, envs].reshape(T * n, 3))
        return dist.logp.view(T, n), dist.entropy.view(T, n), dist.value.view(T, n), enc.aux_loss

    def demonstration_loss(self, update: int, step: int) -> tuple[torch.Tensor, float]:
        """Cloning loss and greedy accuracy on the demonstrations ``replay_draw`` picks for minibatch step ``step``
        of update ``update`` (ppo.bc_coef)."""
        picked = replay_draw(len(self.demonstrations), int(self.cfg.ppo.bc_replay_episodes), int(self.cfg.seed),
                             update, step)
        loss, accuracy, _n = clone_loss(self.model, episode_batch([self.demonstrations[i] for i in picked], self.device))
        return loss, accuracy

    def ppo_update(self, rollout: Rollout) -> dict[str, float]:
        ppo, dev = self.cfg.ppo, self.device
        t = lambda x: torch.as_tensor(x, device=dev)  # noqa: E731
        values, rewards, dones = t(rollout.values), t(rollout.rewards), t(rollout.dones)
        adv, returns = ppo_math.gae(rewards, values, dones, t(rollout.last_value), float(ppo.gamma), float(ppo.gae_lambda))
        ro = {"obs": to_tensors(rollout.obs, dev), "starts": t(rollout.starts), "actions": t(rollout.actions),
              "init_state": rollout.init_state}
        old_logp = t(rollout.logp)
        N = rewards.shape[1]
        n_mb = max(1, min(int(ppo.minibatches), N))
        opt = self.optimizers()
        plan = [(e, mb) for e in range(int(ppo.update_epochs)) for mb in range(n_mb)]
        stats: dict[str, list[float]] = {k: [] for k in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")}
        bc_coef = float(ppo.bc_coef) if self.demonstrations else 0.0
        bc_stats: dict[str, list[float]] = {"bc_loss": [], "bc_accuracy": []}
        order = torch.randperm(N, device=dev)
        for i, (epoch, mb) in enumerate(plan):
            if mb == 0:
                order = torch.randperm(N, device=dev)
            envs = order.chunk(n_mb)[mb]
            logp, entropy, new_values, aux = self.replay(ro, envs)
            mb_adv = adv[:, envs]
            if ppo.norm_adv:
                mb_adv = ppo_math.normalize_advantages(mb_adv)
            pg_loss, kl, clip_frac = ppo_math.clipped_policy_loss(logp, old_logp[:, envs], mb_adv, float(ppo.clip_coef))
            v_loss = ppo_math.value_loss(new_values, returns[:, envs])
            ent = entropy.mean()
            loss = pg_loss + float(ppo.vf_coef) * v_loss - float(ppo.ent_coef) * ent + aux
            if bc_coef > 0:  # the demonstrations stay targets, as Strategy 1's recorded episodes do in its RL
                bc_loss, bc_acc = self.demonstration_loss(self.global_step, i)
                loss = loss + bc_coef * bc_loss
                bc_stats["bc_loss"].append(bc_loss.item())
                bc_stats["bc_accuracy"].append(bc_acc)
            opt.zero_grad()
            self.manual_backward(loss)
            self.clip_gradients(opt, gradient_clip_val=float(self.cfg.trainer.gradient_clip_val), gradient_clip_algorithm="norm")
            stop = ppo.target_kl is not None and kl.item() > float(ppo.target_kl)
            if stop or i == len(plan) - 1:
                opt.step()  # counted by Lightning: global_step == PPO updates
            else:
                self.trainer.strategy.optimizer_step(opt.optimizer, closure=lambda: None)
            for k, v in zip(stats, (pg_loss, v_loss, ent, kl, clip_frac)):
                stats[k].append(v.item())
            if stop:
                break
        out = {k: float(np.mean(v)) for k, v in {**stats, **bc_stats}.items() if v}
        out["explained_variance"] = ppo_math.explained_variance(values.flatten(), returns.flatten())
        out["ppo_steps"] = float(len(stats["approx_kl"]))
        return out

    def training_step(self, batch: Any, batch_idx: int) -> None:
        assert self.collector is not None, "attach_env() before fitting"
        start = time.perf_counter()
        self.model.eval()  # acting; the replay below in train mode is the same network (check_config: no dropout)
        rollout = self.collector.collect(self.model, int(self.cfg.ppo.rollout_steps), self.device)
        self.model.train()
        lr = self.set_annealed_lr()
        t = time.perf_counter()
        stats = self.ppo_update(rollout)
        stats.update(time_split(rollout, time.perf_counter() - t, start, self._last_step_end))
        stats["lr"] = lr
        self.env_steps_done += int(rollout.rewards.size)
        stats["env_steps"] = float(self.env_steps_done * self.trainer.world_size)  # cumulative, all processes
        stats["env_steps_per_s"] = rollout.env_steps_per_s
        stats["mean_step_reward"] = float(rollout.rewards.mean())
        if rollout.episodes:
            stats["episode_return"] = float(np.mean([e["reward"] for e in rollout.episodes]))
            stats["success_rate"] = float(np.mean([float(e["success"]) for e in rollout.episodes]))
            stats["episode_length"] = float(np.mean([e["steps"] for e in rollout.episodes]))
            stats["episodes"] = float(len(rollout.episodes))
            for task in sorted({e["task"] for e in rollout.episodes}):
                wins = [float(e["success"]) for e in rollout.episodes if e["task"] == task]
                stats[f"success/{task}"] = float(np.mean(wins))
        self.log_dict({f"train/{k}": v for k, v in stats.items()}, on_step=True, prog_bar=False, batch_size=1)
        if "success_rate" in stats:
            self.log("success", stats["success_rate"], on_step=True, prog_bar=True, logger=False, batch_size=1)
        self._last_step_end = time.perf_counter()
