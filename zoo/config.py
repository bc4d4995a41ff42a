"""Config composition on OmegaConf (the app layer: the config is typed here, once, and handed down).

A run config is composed in this order, each layer checked against the typed schema:

1. the structured schema: the run config dataclass the chosen strategy registered (zoo.train.plugin),
2. ``configs/defaults.yaml`` then ``configs/strategy/<name>.yaml``,
3. ``config=PATH`` (e.g. the best config written by ``zoo search``),
4. group selections such as ``model.attention=infini`` (loads ``configs/attention/infini.yaml``),
5. every other ``key=value`` override, in order.

An unknown key, a bad value, a value out of its declared range (zoo.schema.checks) or an unknown
choice raises ``ZooError`` with one line naming the key and the valid choices, before anything is
written.  Files are data: an interpolation (``${...}``, e.g. ``${oc.env:SECRET}``) in a config file
or an override is refused, so no config can read the environment or run a resolver.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from components.attention import attention_config, check_heads
from zoo.core.errors import ZooError, did_you_mean, unknown
from zoo.core.paths import CONFIG_DIR
from zoo.core.registry import load_packages
from zoo.schema.checks import check_values
from zoo.train.plugin import get_strategy, resolve_strategy_name, strategy_names
from zoo.web.suites import suite_names

# key -> folder of configs/ whose YAML files are the choices for that key
GROUPS = {"model.attention": "attention", "model.tokenizer": "tokenizer"}
DEFAULT_STRATEGY = "compressive_rl"
# Packages whose import fills the registries (components, tasks, strategies); ZOO_PLUGINS adds more,
# comma-separated (a strategy or component family of your own, importable on PYTHONPATH).
PLUGIN_PACKAGES = ("components", "zoo.web", "strategies")


def load_plugins() -> dict[str, Any]:
    """Import every registering package (ours, then ``ZOO_PLUGINS``) and return the registry families."""
    extra = [p.strip() for p in os.environ.get("ZOO_PLUGINS", "").split(",") if p.strip()]
    return load_packages([*PLUGIN_PACKAGES, *extra])


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
        if isinstance(node, DictConfig) and node._metadata.object_type is dict:
            return  # an open mapping (model.attention): its owner checks the keys, in validate()


def _bad_value(err: OmegaConfBaseException, what: str) -> ZooError:
    key = getattr(err, "full_key", None) or "?"
    return ZooError(f"bad value for '{key}' in {what}: {str(err).splitlines()[0]}")


def _merge(base: DictConfig, layer: Any, what: str) -> DictConfig:
    try:
        return OmegaConf.merge(base, layer)  # type: ignore[return-value]
    except OmegaConfBaseException as err:
        raise _bad_value(err, what) from None


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
    refuse_interpolation(data, "")
    return data


def _replace_named_groups(cfg: DictConfig, layer: Any) -> DictConfig:
    """A group section that names its choice (``name: ...``) replaces an open-mapping section whole:
    each attention variant declares its own fields, so another variant's must not stay behind."""
    for key in GROUPS:
        new, old = OmegaConf.select(layer, key, default=None), OmegaConf.select(cfg, key, default=None)
        if isinstance(new, DictConfig) and "name" in new and isinstance(old, DictConfig) \
                and old._metadata.object_type is dict:
            OmegaConf.update(cfg, key, {}, merge=False)
    return cfg


def _expand_groups(layer: DictConfig) -> DictConfig:
    """In a YAML layer, ``model: {attention: infini}`` means the group file, like the CLI form."""
    for key in GROUPS:
        value = OmegaConf.select(layer, key, default=None)
        if isinstance(value, str):
            OmegaConf.update(layer, key, load_group(key, value), merge=False)
    return layer


def refuse_interpolation(value: Any, what: str) -> None:
    """One line if any string in ``value`` holds an OmegaConf interpolation or resolver call."""
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value, resolve=False)
    if isinstance(value, dict):
        for k, v in value.items():
            refuse_interpolation(v, f"{what}.{k}" if what else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            refuse_interpolation(v, f"{what}[{i}]")
    elif isinstance(value, str) and "${" in value:
        raise ZooError(f"interpolation not allowed in '{what}': {value!r} (configs are data: write the value "
                       "itself; ${...} could read the environment)")


def parse_value(raw: str, key: str = "value") -> Any:
    """YAML-typed value of an override (``3`` -> int, ``[1,2]`` -> list, ``null`` -> None)."""
    if "${" in raw:
        refuse_interpolation(raw, key)
    if raw == "":
        return raw
    try:
        value = OmegaConf.to_container(OmegaConf.from_dotlist([f"v={raw}"]), resolve=False)["v"]
    except Exception as err:  # noqa: BLE001 - any YAML error becomes one line
        raise ZooError(f"bad value for '{key}': {raw!r} is not valid YAML ({str(err).splitlines()[0][:120]})") from None
    return value


def apply_overrides(cfg: DictConfig, schema: DictConfig, pairs: list[tuple[str, str]]) -> DictConfig:
    for key, raw in pairs:
        check_key(schema, key)
        if key in GROUPS and "." not in raw:
            layer = OmegaConf.create({key.split(".")[0]: {key.split(".")[1]: load_group(key, raw)}})
            cfg = _merge(_replace_named_groups(cfg, layer), layer, key)
            continue
        value = parse_value(raw, key)
        if isinstance(value, (dict, list)):  # a section or a list: merged as a layer, like a YAML file's
            layer = OmegaConf.create()
            OmegaConf.update(layer, key, value, merge=True)
            cfg = _merge(cfg, layer, f"override {key}={raw}")
            continue
        # a plain value is set in place (cfg is this composition's own copy): merging a one-key layer
        # deep-copied the whole config per override, most of compose's time in a matrix of many cells
        try:
            OmegaConf.update(cfg, key, value, merge=True)
        except OmegaConfBaseException as err:
            raise _bad_value(err, f"override {key}={raw}") from None
    return cfg


# ---------------------------------------------------------------- run configs
def strategy_of(pairs: list[tuple[str, str]], default: str = DEFAULT_STRATEGY) -> str:
    """The registered name of the strategy asked for (``strategy=``, else a ``config=`` file's, else the default)."""
    raw = next((v for k, v in pairs if k == "strategy"), None)
    if raw is None:  # a config=PATH file (e.g. a search's best.yaml) may name its strategy
        for path in [v for k, v in pairs if k == "config"][::-1]:
            saved = load_yaml(path, "config file").get("strategy")
            if saved is not None:
                raw = str(saved)
                break
    return resolve_strategy_name(default if raw is None else raw)


def schema_of(strategy: str) -> DictConfig:
    return OmegaConf.structured(get_strategy(strategy).config)


def compose(overrides: list[str] | None = None, validate_choices: bool = True) -> DictConfig:
    """The fully composed, validated run config for ``zoo fit`` / ``zoo config``."""
    load_plugins()
    pairs = split_overrides(list(overrides or []))
    name = strategy_of(pairs)
    schema = schema_of(name)
    cfg = schema.copy()
    layers = [CONFIG_DIR / "defaults.yaml"]
    if (CONFIG_DIR / "strategy" / f"{name}.yaml").is_file():  # a plug-in strategy may ship no YAML layer
        layers.append(CONFIG_DIR / "strategy" / f"{name}.yaml")
    layers += [Path(v) for k, v in pairs if k == "config"]
    for path in layers:
        layer = _expand_groups(load_yaml(path, "config file"))
        layer.pop("strategy", None)  # the strategy is chosen above; a file's own entry may be an alias
        _check_layer(schema, layer, str(path))
        cfg = _merge(_replace_named_groups(cfg, layer), layer, str(path))
    cfg.strategy = name
    rest = [(k, v) for k, v in pairs if k not in ("strategy", "config")]
    cfg = apply_overrides(cfg, schema, rest)
    if validate_choices:
        validate(cfg)
    return cfg


def parse_tool_config(schema_cls: type, overrides: list[str]) -> DictConfig:
    """Config of a non-training command (bench/search/report): schema + key=value overrides, ranges checked."""
    schema = OmegaConf.structured(schema_cls)
    cfg = apply_overrides(schema.copy(), schema, split_overrides(overrides))
    check_values(schema_cls, cfg)
    return cfg


def check_choice(key: str, value: Any, choices: Any) -> None:
    if value not in choices:
        raise unknown(f"value for '{key}'", value, choices)


def check_devices(value: Any) -> None:
    ok = (isinstance(value, int) and not isinstance(value, bool) and (value >= 1 or value == -1)) or value == "auto" \
        or (isinstance(value, str) and value.isdigit() and int(value) >= 1) \
        or (isinstance(value, (list, ListConfig)) and len(value) > 0
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value))
    if not ok:
        raise ZooError(f"bad value for 'trainer.devices': {value!r} (a count >= 1, -1 for all, \"auto\", "
                       "or a list of device ids)")


def validate(cfg: DictConfig) -> None:
    """Check every value before anything is written: declared ranges (zoo.schema.checks), names against
    the registries, the strategy's own checks."""
    families = load_plugins()
    spec = get_strategy(cfg.strategy)
    check_values(spec.config, cfg)
    check_devices(cfg.trainer.devices)
    for key, fam in (("model.attention.name", "attention"), ("model.tokenizer.name", "tokenizer")):
        if fam in families:
            check_choice(key, OmegaConf.select(cfg, key), families[fam].names())

    if not cfg.env.tasks:
        check_choice("env.suite", cfg.env.suite, suite_names())
    for task in cfg.env.tasks:
        check_choice("env.tasks", task, families["task"].names())
    if cfg.eval.suite:
        check_choice("eval.suite", cfg.eval.suite, suite_names())
    if cfg.eval.tasks is not None and not isinstance(cfg.eval.tasks, ListConfig):  # typed Any: may be null
        raise ZooError(f"bad value for 'eval.tasks': {cfg.eval.tasks!r} is not a list of tasks "
                       f"(write eval.tasks=[{cfg.eval.tasks}], or null for the training tasks)")
    for task in cfg.eval.tasks or []:
        check_choice("eval.tasks", task, families["task"].names())
    for name in ("dim", "n_layers", "n_heads"):
        if cfg.model[name] <= 0:
            raise ZooError(f"bad value for 'model.{name}': {cfg.model[name]} (must be > 0)")

    check_heads(cfg.model.dim, cfg.model.n_heads)
    # the chosen variant's own fields and values; the section is completed with its defaults, so the
    # composed (and saved) config shows every field the variant runs with
    OmegaConf.update(cfg, "model.attention", attention_config(cfg.model.attention).as_dict(), merge=False)
    if spec.check is not None:
        spec.check(cfg)


def to_yaml(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg, resolve=True)
