"""Process ranks read from each launcher's environment (zoo/train/distributed.py), before any Trainer exists."""
import pytest

from zoo.train.distributed import global_rank, local_rank, processes_per_node

LAUNCH_VARS = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NTASKS")


@pytest.fixture
def clean_env(monkeypatch):
    for var in LAUNCH_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_one_process_run_is_rank_zero(clean_env):
    assert global_rank(2) == 0 and local_rank() == 0


def test_lightning_launcher_counts_nodes(clean_env):
    clean_env.setenv("LOCAL_RANK", "1")  # the second process Lightning starts on a node
    assert (global_rank(2), local_rank()) == (1, 1)
    clean_env.setenv("NODE_RANK", "1")  # ... on the second node: 1 * 2 + 1
    assert (global_rank(2), local_rank()) == (3, 1)
    clean_env.setenv("LOCAL_RANK", "0")  # the first process of node 1 writes node-local files, never scores
    assert (global_rank(2), local_rank()) == (2, 0)


def test_torchrun_gives_the_global_rank(clean_env):
    clean_env.setenv("RANK", "5")
    clean_env.setenv("LOCAL_RANK", "1")
    clean_env.setenv("NODE_RANK", "9")  # ignored: RANK is authoritative
    assert (global_rank(2), local_rank()) == (5, 1)


def test_srun_one_task_per_process(clean_env):
    clean_env.setenv("SLURM_NTASKS", "4")
    clean_env.setenv("SLURM_PROCID", "3")
    clean_env.setenv("SLURM_LOCALID", "1")
    assert (global_rank(2), local_rank()) == (3, 1)
    clean_env.setenv("SLURM_NTASKS", "1")  # an interactive allocation with one task: not a launch
    assert (global_rank(2), local_rank()) == (0, 0)


@pytest.mark.parametrize(("devices", "count"), [(2, 2), ("4", 4), ([0, 3], 2), ("auto", 1)])
def test_processes_per_node_reads_every_devices_form(devices, count):
    assert processes_per_node(devices) == count
