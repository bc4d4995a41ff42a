"""Frame tokenizers, the temporal frame sampler and the locally trained BPE tokenizer."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from components.text import BPETokenizer
from components.tokenizers import FrameSampler, create_tokenizer, list_tokenizer, to_frame_tensor
from zoo.core.errors import ZooError

DIM = 32
SMALL = dict(image_size=32, patch_size=8, depth=1, codebook_size=16)


@pytest.mark.parametrize("name", list_tokenizer())
def test_frame_tokenizer_contract(name):
    torch.manual_seed(0)
    tok = create_tokenizer(name, DIM, **SMALL)
    assert tok.tokens_per_frame == (32 // 8) ** 2
    frames = torch.rand(2, 3, 48, 40, requires_grad=True)  # any size: resized to image_size
    tokens, aux = tok(frames)
    assert tokens.shape == (2, tok.tokens_per_frame, DIM) and torch.isfinite(tokens).all()
    assert aux.dim() == 0 and torch.isfinite(aux)
    (tokens.square().mean() + aux).backward()
    assert frames.grad is not None and frames.grad.abs().sum() > 0


def test_tokenizer_config_fields_and_errors():
    from zoo.schema.model import TokenizerConfig

    tok = create_tokenizer(TokenizerConfig(name="vq", image_size=32, patch_size=8), DIM)
    assert tok.tokens_per_frame == 16
    with pytest.raises(ZooError, match=r"unknown tokenizer 'vqgan'.*valid choices: clip, patch, vq"):
        create_tokenizer("vqgan", DIM)
    with pytest.raises(ZooError, match="unknown tokenizer field 'patchsize'"):
        create_tokenizer("patch", DIM, patchsize=8)
    with pytest.raises(ZooError, match="does not divide"):
        create_tokenizer("patch", DIM, image_size=30, patch_size=8)
    with pytest.raises(ZooError, match="power of two"):
        create_tokenizer("vq", DIM, image_size=36, patch_size=12)


def test_vq_ids_decode_straight_through_and_learning():
    torch.manual_seed(0)
    tok = create_tokenizer("vq", DIM, image_size=16, patch_size=4, codebook_size=16)
    frames = torch.rand(4, 3, 16, 16)
    ids = tok.encode_ids(frames)
    assert ids.shape == (4, 16) and ids.dtype == torch.long and 0 <= ids.min() and ids.max() < 16
    assert tok.decode(ids).shape == (4, 3, 16, 16)
    tokens, _ = tok(frames)
    tokens.sum().backward()  # straight-through: the encoder gets gradients through the quantiser
    assert tok.encoder[0][0].weight.grad.abs().sum() > 0
    # the aux loss (reconstruction + codebook + commitment) goes down when optimised
    opt = torch.optim.Adam(tok.parameters(), lr=3e-3)
    first = None
    for _ in range(15):
        _, aux = tok(frames)
        first = aux.item() if first is None else first
        opt.zero_grad()
        aux.backward()
        opt.step()
    assert aux.item() < 0.7 * first


def test_clip_contrastive_loss_pairs_images_with_texts():
    torch.manual_seed(0)
    tok = create_tokenizer("clip", DIM, vocab_size=50, text_len=8, **SMALL)
    frames = torch.rand(4, 3, 32, 32)
    ids = torch.randint(1, 50, (4, 8))
    mask = torch.ones(4, 8, dtype=torch.bool)
    _, no_text = tok(frames)
    assert no_text.item() == 0.0
    _, loss = tok(frames, ids, mask)
    assert torch.isfinite(loss) and loss.item() > 0
    opt = torch.optim.Adam(tok.parameters(), lr=1e-3)
    for _ in range(30):
        _, loss = tok(frames, ids, mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * np.log(4)
    img, txt = tok.encode_image(frames), tok.encode_text(ids, mask)
    assert (img @ txt.t()).argmax(1).tolist() == [0, 1, 2, 3]  # each image finds its own text


def test_frame_sampler_by_rate_and_timestamps():
    s = FrameSampler(fps=3, frames_per_clip=4)
    idx = s.indices_at_rate(31, source_fps=10)  # 3 s of 10 fps video -> frames at 0, 1/3, 2/3 ... 3 s
    assert idx == [0, 3, 6, 10, 13, 16, 20, 23, 26, 30]
    # irregular capture times: the frame on screen at each sample time
    assert s.indices([0.0, 0.05, 0.9, 1.2]) == [0, 1, 1, 2]  # samples at 0, 1/3, 2/3, 1 s
    assert s.clips(list(range(6))) == [[0, 1, 2, 3], [4, 5, 5, 5]]
    frames = [np.full((8, 10, 3), i, dtype=np.uint8) for i in range(31)]
    clips = s(frames, source_fps=10)
    assert clips.shape == (3, 4, 3, 8, 10) and clips.dtype == torch.float32
    assert clips[0, 1, 0, 0, 0].item() == pytest.approx(3 / 255)
    assert to_frame_tensor(np.zeros((5, 6, 3), np.uint8)).shape == (3, 5, 6)
    with pytest.raises(ZooError, match="fps"):
        FrameSampler(fps=0)


# ---------------------------------------------------------------- BPE
TEXTS = [
    "Click the OK button", "Select Yes from the list", "Type 'hello' into the text field",
    "<button id=ok>OK</button> <input type=text name=q>", "Click on the link Home", "Submit the form",
] * 20


def test_bpe_train_encode_decode_save_load(tmp_path):
    tok = BPETokenizer.train(TEXTS, vocab_size=320)
    assert 261 < tok.vocab_size <= 320
    assert len({tok.pad_id, tok.bos_id, tok.eos_id, tok.unk_id, tok.sep_id}) == 5
    text = "Click the OK button"
    ids = tok.encode(text)
    assert tok.decode(ids) == text and len(ids) < len(text)  # merges learned: fewer tokens than bytes
    unseen = "Naïve café — 日本語 <textarea>"
    assert tok.decode(tok.encode(unseen)) == unseen  # byte-level: nothing is unknown
    assert tok.encode(text, add_special=True)[0] == tok.bos_id and tok.encode(text, add_special=True)[-1] == tok.eos_id
    path = tok.save(tmp_path / "run")
    assert path.name == "bpe.json" and path.is_file()
    again = BPETokenizer.load(tmp_path / "run")
    assert again.encode(unseen) == tok.encode(unseen) and again.vocab_size == tok.vocab_size
    ids, mask = tok.encode_batch(["Click", "", unseen], max_len=6)
    assert ids.shape == (3, 6) and mask[1].sum() == 0 and mask[0].sum() >= 1 and mask[2].all()


def test_bpe_errors():
    with pytest.raises(ZooError, match="vocab_size"):
        BPETokenizer.train(TEXTS, vocab_size=100)
    with pytest.raises(ZooError, match="not found"):
        BPETokenizer.load("/nonexistent/dir")
