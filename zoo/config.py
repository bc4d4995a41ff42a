"""Config composition on OmegaConf.

A run config is composed in this order, each layer checked against the typed schema:

1. the structured schema (``Strategy1Config`` / ``Strategy2Config``),
2. ``configs/defaults.yaml`` then ``configs/strategy<N>.yaml``,
3. ``config=PATH`` (e.g. the best config written by ``zoo search``),
4. group selections such as ``model.attention=infini`` (loads ``configs/attention/infini.yaml``),
5. every other ``key=value`` override, in order.

An unknown key, a bad value or an unknown choice raises ``ZooError`` with one line
naming the key and the valid choices.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from zoo.core.errors import ZooError, did_you_mean, unknown
from zoo.schema.env import EnvConfig
from zoo.schema.foundation import FoundationConfig
from zoo.schema.model import ModelConfig
from zoo.schema.ppo import PPOConfig
from zoo.schema.trainer import EvalConfig, TrainerConfig

CONFIG_DIR = Path(os.environ.get("ZOO_CONFIG_DIR", Path(__file__).resolve().parents[1] / "configs"))

# key -> folder of configs/ whose YAML files are the choices for that key
GROUPS = {"model.attention": "attention", "model.tokenizer": "tokenizer"}
STAGES = ("pretrain", "sft", "rl", "all")
ACCELERATORS = ("cpu", "gpu", "cuda", "auto", "mps")
TRAINER_STRATEGIES = ("auto", "ddp", "fsdp", "fsdp_cpu")


@dataclass
class RunConfig:
    """Fields every training run has.  name: run folder name (default: a timestamp).
    run_root: where runs/<strategy>/<name>/ is created.  resume: a run dir or checkpoint to continue.
    """

    strategy: int = 2
    name: str | None = None
    seed: int = 0
    run_root: str = "runs"
    resume: str | None = None
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


@dataclass
class Strategy1Config(RunConfig):
    """stage: pretrain | sft | rl | all (each stage resumes from the previous stage's checkpoint)."""

    strategy: int = 1
    stage: str = "all"
    foundation: FoundationConfig = field(default_factory=FoundationConfig)


@dataclass
class Strategy2Config(RunConfig):
    strategy: int = 2
    ppo: PPOConfig = field(default_factory=PPOConfig)


SCHEMAS: dict[int, type] = {1: Strategy1Config, 2: Strategy2Config}


# ---------------------------------------------------------------- dotlist parsing
def split_overrides(overrides: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in overrides:
        if "=" not in item:
            raise ZooError(f"bad override '{item}': expected key=value (e.g. trainer.max_steps=200)")
        key, value = item.split("=", 1)
        if not key:
            raise ZooError(f"bad override '{item}': empty key")
        pairs.append((key.strip(), value))
    return pairs


def check_key(schema: DictConfig, key: str) -> None:
    """Raise a one-line error unless ``key`` (dotted) names a field of ``schema``."""
    node: Any = schema
    walked: list[str] = []
    for part in key.split("."):
        if not isinstance(node, DictConfig):
            raise ZooError(f"unknown config key '{key}': '{'.'.join(walked)}' is a value, not a section")
        keys = [str(k) for k in node.keys()]
        if part not in keys:
            where = f" under '{'.'.join(walked)}'" if walked else ""
            full = ".".join(walked + [part])
            near = did_you_mean(part, keys).replace(" '", " '" + "".join(w + "." for w in walked), 1)
            raise ZooError(f"unknown config key '{full}'{near}; valid keys{where}: {', '.join(keys)}")
        walked.append(part)
        node = node._get_node(part)


def _merge(base: DictConfig, layer: Any, what: str) -> DictConfig:
    try:
        return OmegaConf.merge(base, layer)  # type: ignore[return-value]
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        msg = str(err).splitlines()[0]
        raise ZooError(f"bad value for '{key}' in {what}: {msg}") from None


def _check_layer(schema: DictConfig, layer: Any, what: str, prefix: str = "") -> None:
    """Reject unknown keys anywhere in a YAML layer (OmegaConf would, less clearly)."""
    if not isinstance(layer, (dict, DictConfig)):
        return
    for k, v in layer.items():
        key = f"{prefix}{k}"
        try:
            check_key(schema, key)
        except ZooError as err:
            raise ZooError(f"{err} (in {what})") from None
        target = OmegaConf.select(schema, key)
        if isinstance(target, DictConfig) and isinstance(v, (dict, DictConfig)):
            _check_layer(schema, v, what, key + ".")


def group_choices(group: str) -> list[str]:
    folder = CONFIG_DIR / group
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def load_group(key: str, choice: str) -> DictConfig:
    group = GROUPS[key]
    path = CONFIG_DIR / group / f"{choice}.yaml"
    if not path.is_file():
        raise unknown(f"value for '{key}'", choice, group_choices(group))
    return OmegaConf.load(path)  # type: ignore[return-value]


def load_yaml(path: str | Path, what: str) -> DictConfig:
    p = Path(path)
    if not p.is_file():
        raise ZooError(f"config file not found: {p}")
    try:
        data = OmegaConf.load(p)
    except Exception as err:  # noqa: BLE001 - any YAML error becomes one line
        raise ZooError(f"cannot parse {what} {p}: {str(err).splitlines()[0]}") from None
    if not isinstance(data, DictConfig):
        raise ZooError(f"{what} {p} must hold a mapping of keys to values")
    return data


def _expand_groups(layer: DictConfig) -> DictConfig:
    """In a YAML layer, ``model: {attention: infini}`` means the group file, like the CLI form."""
    for key in GROUPS:
        value = OmegaConf.select(layer, key, default=None)
        if isinstance(value, str):
            OmegaConf.update(layer, key, load_group(key, value), merge=False)
    return layer


def parse_value(raw: str) -> Any:
    """YAML-typed value of an override (``3`` -> int, ``[1,2]`` -> list, ``null`` -> None)."""
    return raw if raw == "" else OmegaConf.from_dotlist([f"v={raw}"]).v


def apply_overrides(cfg: DictConfig, schema: DictConfig, pairs: list[tuple[str, str]]) -> DictConfig:
    for key, raw in pairs:
        check_key(schema, key)
        if key in GROUPS and "." not in raw:
            cfg = _merge(cfg, OmegaConf.create({key.split(".")[0]: {key.split(".")[1]: load_group(key, raw)}}), key)
            continue
        value = parse_value(raw)
        layer = OmegaConf.create()
        OmegaConf.update(layer, key, value, merge=True)
        cfg = _merge(cfg, layer, f"override {key}={raw}")
    return cfg


# ---------------------------------------------------------------- run configs
def strategy_of(pairs: list[tuple[str, str]], default: int = 2) -> int:
    raw = next((v for k, v in pairs if k == "strategy"), None)
    if raw is None:  # a config=PATH file (e.g. a search's best.yaml) may name its strategy
        for path in [v for k, v in pairs if k == "config"][::-1]:
            saved = load_yaml(path, "config file").get("strategy")
            if saved is not None:
                raw = str(saved)
                break
    if raw is None:
        return default
    try:
        n = int(raw)
    except ValueError:
        n = None  # type: ignore[assignment]
    if n not in SCHEMAS:
        raise unknown("strategy", raw, SCHEMAS)
    return n


def compose(overrides: list[str] | None = None, validate_choices: bool = True) -> DictConfig:
    """The fully composed, validated run config for ``zoo fit`` / ``zoo config``."""
    pairs = split_overrides(list(overrides or []))
    n = strategy_of(pairs)
    schema = OmegaConf.structured(SCHEMAS[n])
    cfg = schema.copy()
    layers = [CONFIG_DIR / "defaults.yaml", CONFIG_DIR / f"strategy{n}.yaml"]
    layers += [Path(v) for k, v in pairs if k == "config"]
    for path in layers:
        layer = _expand_groups(load_yaml(path, "config file"))
        _check_layer(schema, layer, str(path))
        cfg = _merge(cfg, layer, str(path))
    rest = [(k, v) for k, v in pairs if k not in ("strategy", "config")]
    cfg = apply_overrides(cfg, schema, rest)
    if validate_choices:
        validate(cfg)
    return cfg


def parse_tool_config(schema_cls: type, overrides: list[str]) -> DictConfig:
    """Config of a non-training command (bench/search/report): schema + key=value overrides."""
    schema = OmegaConf.structured(schema_cls)
    return apply_overrides(schema.copy(), schema, split_overrides(overrides))


def check_choice(key: str, value: Any, choices: Any) -> None:
    if value not in choices:
        raise unknown(f"value for '{key}'", value, choices)


def validate(cfg: DictConfig) -> None:
    """Check names against registries and fixed choice lists (imports the component packages)."""
    from zoo.core.registry import load_all

    families = load_all()
    check_choice("trainer.accelerator", cfg.trainer.accelerator, ACCELERATORS)
    check_choice("trainer.strategy", cfg.trainer.strategy, TRAINER_STRATEGIES)
    if cfg.strategy == 1:
        check_choice("stage", cfg.stage, STAGES)
    for key, fam in (("model.attention.name", "attention"), ("model.tokenizer.name", "tokenizer")):
        if fam in families:
            check_choice(key, OmegaConf.select(cfg, key), families[fam].names())
    if "task" in families:
        from zoo.suites import suite_names

        if not cfg.env.tasks:
            check_choice("env.suite", cfg.env.suite, suite_names())
        for task in cfg.env.tasks:
            check_choice("env.tasks", task, families["task"].names())
    for name in ("dim", "n_layers", "n_heads"):
        if cfg.model[name] <= 0:
            raise ZooError(f"bad value for 'model.{name}': {cfg.model[name]} (must be > 0)")
    if cfg.model.dim % cfg.model.n_heads:
        raise ZooError(f"bad value for 'model.n_heads': {cfg.model.n_heads} does not divide model.dim={cfg.model.dim}")


def to_yaml(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg, resolve=True)
