"""Ring attention on several gloo CPU processes equals dense attention over the whole sequence."""
from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

from gloo_workers import spawn_gloo

DIM, HEADS, B, CHUNK = 32, 4, 2, 12


def _check(rank: int, world: int, causal: bool, group=None) -> None:
    from components.attention import create_attention, sequence_parallel

    torch.manual_seed(0)  # every rank draws the same full sequence and weights
    n = CHUNK * world
    x = torch.randn(B, n, DIM)
    weight = torch.randn(B, n, DIM)  # a loss that touches every output differently
    ring = create_attention("ring", DIM, HEADS, causal=causal)
    dense = create_attention("dense", DIM, HEADS, causal=causal)
    dense.load_state_dict(ring.state_dict())

    x_full = x.clone().requires_grad_()
    y_full, _ = dense(x_full)
    (y_full * weight).sum().backward()

    part = slice(rank * CHUNK, (rank + 1) * CHUNK)
    x_local = x[:, part].clone().requires_grad_()
    with sequence_parallel(group):
        y_local, _ = ring(x_local)
    (y_local * weight[:, part]).sum().backward()

    torch.testing.assert_close(y_local, y_full[:, part], atol=2e-6, rtol=1e-5)
    torch.testing.assert_close(x_local.grad, x_full.grad[:, part], atol=1e-4, rtol=1e-3)
    for (name, p_ring), p_dense in zip(ring.named_parameters(), dense.parameters()):
        grad = p_ring.grad.clone()
        dist.all_reduce(grad, group=group)  # each rank holds the gradient of its own chunk's loss
        torch.testing.assert_close(grad, p_dense.grad, atol=1e-4, rtol=1e-3, msg=f"{name} gradient")


def _check_unequal_chunks_fail_clearly(rank: int, world: int) -> None:
    """A rank with one token more would make the exchange hang or fail obscurely: every rank must
    get the same one-line error (the shapes are all-gathered before any block moves)."""
    from components.attention import create_attention, sequence_parallel
    from zoo.core.errors import ZooError

    ring = create_attention("ring", DIM, HEADS)
    lens = [CHUNK] * (world - 1) + [CHUNK + 1]
    with sequence_parallel(), pytest.raises(ZooError, match=r"equal chunks.*lengths per rank \[12, 12, 13\]"):
        ring(torch.randn(B, lens[rank], DIM))


def _worker(rank: int, world: int) -> None:
    from components.attention import create_attention

    torch.set_num_threads(1)
    pair = dist.new_group([0, 1])  # a 2-process ring inside the world (every rank must create it)
    for causal in (True, False):
        if rank < 2:
            _check(rank, 2, causal, group=pair)
        _check(rank, world, causal)  # and the 3-process ring: blocks travel more than one hop
    _check_unequal_chunks_fail_clearly(rank, world)
    y, _ = create_attention("ring", DIM, HEADS)(torch.randn(B, CHUNK, DIM))
    assert y.shape == (B, CHUNK, DIM)  # outside sequence_parallel() the layer is plain dense attention


@pytest.mark.distributed
@pytest.mark.timeout(180)
def test_ring_attention_equals_dense_on_gloo_processes():
    """Outputs to ~1e-6 and input/parameter gradients to ~1e-3, causal and not, on 2 and 3 ranks;
    unequal chunks are a clear error on every rank."""
    spawn_gloo(_worker, 3)


def test_ring_without_process_group_is_dense():
    from components.attention import create_attention, sequence_parallel

    torch.manual_seed(0)
    ring = create_attention("ring", DIM, HEADS)
    dense = create_attention("dense", DIM, HEADS)
    dense.load_state_dict(ring.state_dict())
    x = torch.randn(B, CHUNK, DIM)
    with sequence_parallel():  # no process group initialised: still dense
        torch.testing.assert_close(ring(x)[0], dense(x)[0])


def _rank_one_fails(rank: int, world: int) -> None:
    assert rank != 1, "rank 1 failed its check"


@pytest.mark.distributed
@pytest.mark.timeout(60)
def test_a_failing_rank_is_still_reported():
    """The clean exit that skips gloo's teardown abort applies only to workers whose checks passed."""
    import torch.multiprocessing as mp

    with pytest.raises(mp.ProcessRaisedException, match="rank 1 failed its check"):
        spawn_gloo(_rank_one_fails, 2)
