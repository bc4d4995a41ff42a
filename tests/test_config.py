"""Config composition, group selection and the one-line errors of zoo.config."""
from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from zoo.config import CONFIG_DIR, GROUPS, compose, group_choices, parse_tool_config
from zoo.core.errors import ZooError
from zoo.train.runs import find_resume_dir, new_run_dir, save_config
from zoo.schema.tools import BenchConfig


def test_defaults_compose_for_both_strategies():
    s1, s2 = compose(["strategy=1"]), compose([])
    assert s1.strategy == "foundation" and s1.stage == "all" and "foundation" in s1 and "ppo" not in s1
    assert s2.strategy == "compressive_rl" and "ppo" in s2 and "foundation" not in s2
    assert s2.model.attention.name == "xl"  # configs/strategy2.yaml selects the xl group file


@pytest.mark.parametrize("key,group", sorted(GROUPS.items()))
def test_every_group_file_composes(key, group):
    choices = group_choices(group)
    assert choices, f"configs/{group}/ is empty"
    for choice in choices:
        cfg = compose([f"{key}={choice}"])
        assert OmegaConf.select(cfg, key).name == choice


def test_group_then_field_override_order():
    cfg = compose(["model.attention=infini", "model.attention.segment_len=16", "trainer.max_steps=7"])
    assert cfg.model.attention.name == "infini"
    assert cfg.model.attention.segment_len == 16
    assert cfg.model.attention.delta_rule is True  # from configs/attention/infini.yaml
    assert cfg.trainer.max_steps == 7


def test_config_file_layer(tmp_path):
    best = tmp_path / "best.yaml"
    best.write_text("model:\n  dim: 32\n  attention: sliding\nppo:\n  lr: 0.01\n")
    cfg = compose([f"config={best}", "model.attention.window=5"])
    assert cfg.model.dim == 32 and cfg.ppo.lr == 0.01
    assert cfg.model.attention.name == "sliding" and cfg.model.attention.window == 5


@pytest.mark.parametrize(
    "overrides,needle",
    [
        (["strategy=3"], "unknown strategy '3'; valid choices: 1, 2"),
        (["strategy=1", "model.atention=x"], "unknown config key 'model.atention' (did you mean 'model.attention'?)"),
        (["trainer.max_step=1"], "did you mean 'trainer.max_steps'?"),
        (["trainer.max_steps=abc"], "bad value for 'trainer.max_steps'"),
        (["model.attention=flsh"], "unknown value for 'model.attention' 'flsh'; valid choices: dense"),
        (["model.attention.name=flsh"], "unknown value for 'model.attention.name' 'flsh'"),
        (["strategy=1", "stage=fly"], "valid choices: all, pretrain, rl, sft"),
        (["trainer.strategy=deepspeed"], "valid choices: auto, ddp, fsdp, fsdp_cpu"),
        (["model.n_heads=3"], "does not divide model.dim"),
        (["ppo.lr"], "expected key=value"),
        (["foundation.data.fps=2"], "unknown config key 'foundation'"),  # strategy-1 section on strategy 2
        (["config=/nonexistent.yaml"], "config file not found"),
        (["eval.tasks=click-test"], "bad value for 'eval.tasks': 'click-test' is not a list of tasks (write "
                                    "eval.tasks=[click-test]"),  # not read letter by letter
        (["trainer.max_steps=null"], "bad value for 'trainer.max_steps'"),
        (["ppo.bc_schedule=cosin"], "valid choices: constant, cosine"),
        (["strategy=2", "ppo.bc_weight_decay=-0.1"], "bad value for 'ppo.bc_weight_decay': -0.1"),
        (["strategy=2", "ppo.bc_val_demos_per_task=5"], "bad value for 'ppo.bc_val_demos_per_task': 5 (scores the "
                                                         "cloning: needs ppo.bc_demos_per_task > 0"),
    ],
)
def test_bad_input_is_one_clear_line(overrides, needle):
    with pytest.raises(ZooError) as info:
        compose(overrides)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


def test_config_file_names_its_strategy(tmp_path):
    best = tmp_path / "best.yaml"
    best.write_text("strategy: 1\nstage: sft\n")
    cfg = compose([f"config={best}"])
    assert cfg.strategy == "foundation" and cfg.stage == "sft" and "foundation" in cfg


def test_yaml_layer_with_unknown_key_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer:\n  max_stepz: 3\n")
    with pytest.raises(ZooError, match=r"unknown config key 'trainer.max_stepz'.*bad.yaml"):
        compose([f"config={bad}"])


def test_tool_configs_use_the_same_override_rules():
    cfg = parse_tool_config(BenchConfig, ["agent=oracle", "episodes=3", "contexts=[1,2]"])
    assert cfg.agent == "oracle" and cfg.episodes == 3 and list(cfg.contexts) == [1, 2]
    with pytest.raises(ZooError, match="unknown config key 'episodez'"):
        parse_tool_config(BenchConfig, ["episodez=3"])


def test_run_dirs_never_overwrite_and_resume_finds_them(tmp_path):
    cfg = compose([f"run_root={tmp_path}", "name=exp"])
    first, second = new_run_dir(cfg), new_run_dir(cfg)
    assert first != second and first.name == "exp" and second.name == "exp-2"
    assert first.parent == tmp_path / "compressive_rl"
    save_config(cfg, first)
    assert OmegaConf.load(first / "config.yaml").name == "exp"
    ckpt = first / "checkpoints" / "last.ckpt"
    ckpt.write_bytes(b"x")
    assert find_resume_dir(str(ckpt)) == first and find_resume_dir(str(first)) == first
    with pytest.raises(ZooError, match="cannot resume"):
        find_resume_dir(str(second))


def _strategies() -> list[str]:
    from zoo.config import load_plugins
    from zoo.train.plugin import strategy_names

    load_plugins()
    return strategy_names()


def _check_run_layer(path) -> None:
    """defaults.yaml and configs/strategy/<name>.yaml: the full run config of every strategy."""
    names = _strategies() if path.name == "defaults.yaml" else [path.stem]
    for name in names:
        assert compose([f"strategy={name}"]).strategy == name


def _check_group(path) -> None:
    """configs/<group>/<choice>.yaml: selected on every strategy whose schema has the key (at least one)."""
    from zoo.config import schema_of

    key = next(k for k, g in GROUPS.items() if g == path.parent.name)
    composed = 0
    for name in _strategies():
        if OmegaConf.select(schema_of(name), key) is None:
            continue
        cfg = compose([f"strategy={name}", f"{key}={path.stem}"])
        assert OmegaConf.select(cfg, key).name == path.stem
        composed += 1
    assert composed, f"no strategy's schema has {key}"


def _check_suite(path) -> None:
    """configs/suite/<name>.yaml: a description and registered tasks, usable as env.suite."""
    from zoo.web.suites import resolve_tasks

    data = OmegaConf.load(path)
    assert set(data) == {"description", "tasks"} and data.description, path
    assert resolve_tasks(path.stem, None)  # every task registered
    assert compose([f"env.suite={path.stem}"]).env.suite == path.stem


def _check_search_space(path) -> None:
    """configs/search/<strategy>.yaml: a valid space whose fixed values and first choices compose."""
    from zoo.search_space import load_space

    strategy = str(OmegaConf.load(path).strategy)
    space = load_space(str(path), strategy)
    first = {p.key: p.choices[0] if p.type == "categorical" else int(p.low) if p.type == "int" else p.low
             for p in space.params if not p.when}
    compose([f"strategy={strategy}", *space.overrides(first)])


def _check_compare_matrix(path):
    """A comparison matrix loads, and every cell's run config (and few-shot config) composes."""
    from pathlib import Path

    from zoo.compare import cell_overrides, fewshot_overrides, has_finetune, jobs_of, load_matrix
    from zoo.config import load_plugins

    load_plugins()
    _name, matrix = load_matrix(path)
    for job in jobs_of(matrix):
        compose(cell_overrides(matrix, job, Path("runs")))
        for k in matrix.fewshot if has_finetune(job) else []:
            compose(fewshot_overrides(matrix, job, Path("runs"), int(k)))


SHIPPED_CHECKS = {"defaults.yaml": _check_run_layer, "strategy": _check_run_layer, "suite": _check_suite,
                  "search": _check_search_space, "compare": _check_compare_matrix,
                  **{g: _check_group for g in GROUPS.values()}}


@pytest.mark.parametrize("rel", sorted(str(p.relative_to(CONFIG_DIR)) for p in CONFIG_DIR.rglob("*.yaml")))
def test_every_shipped_config_file_composes_against_the_schema(rel):
    """Every YAML file under configs/ goes through the loader that uses it (a file with an unknown
    key, a bad value or a missing task fails here); a new kind of file needs a check added."""
    path = CONFIG_DIR / rel
    kind = path.parts[len(CONFIG_DIR.parts)] if path.parent != CONFIG_DIR else path.name
    assert kind in SHIPPED_CHECKS, f"no schema check for configs/{rel}: add one to SHIPPED_CHECKS"
    SHIPPED_CHECKS[kind](path)


def test_a_shipped_group_file_with_an_unknown_key_fails_to_compose(tmp_path, monkeypatch):
    """The check above can fail: the same composition rejects a group file with a misspelt key."""
    import shutil

    import zoo.config

    configs = shutil.copytree(CONFIG_DIR, tmp_path / "configs")
    (configs / "attention" / "xl.yaml").write_text("name: xl\nmem_lenn: 4\n")
    monkeypatch.setattr(zoo.config, "CONFIG_DIR", configs)
    with pytest.raises(ZooError, match="mem_lenn"):
        _check_group(configs / "attention" / "xl.yaml")


def test_a_process_that_inherits_a_run_dir_variable_but_is_no_launched_rank_makes_its_own(tmp_path, monkeypatch):
    """ZOO_RUN_DIR tells the ranks Lightning launches where rank 0's run is; a `zoo fit` started from a process
    that once made a run dir (a test, a script) inherits it too, and must not write into that run."""
    from zoo.config import compose
    from zoo.train.runs import RUN_DIR_ENV, RUN_DIR_PID_ENV, new_run_dir

    other = tmp_path / "someone-elses-run"
    monkeypatch.setenv(RUN_DIR_ENV, str(other))
    monkeypatch.setenv(RUN_DIR_PID_ENV, "1")
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    mine = new_run_dir(compose(["name=mine", f"run_root={tmp_path / 'runs'}"]))
    assert mine == tmp_path / "runs" / "compressive_rl" / "mine"
    monkeypatch.setenv(RUN_DIR_ENV, str(other))  # (making its own dir re-pointed the variable at it)
    monkeypatch.setenv(RUN_DIR_PID_ENV, "1")
    monkeypatch.setenv("LOCAL_RANK", "1")  # a rank Lightning started: joins rank 0's run
    assert new_run_dir(compose(["name=x", f"run_root={tmp_path / 'runs'}"])) == other
