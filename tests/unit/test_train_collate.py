"""Assistant-only SFT batches: prompt and every video placeholder token masked, the response exactly labelled."""
import pytest
from transformers import AutoProcessor

from train.collate import IGNORE, VideoSFTCollator
from train.data import load_jsonl, target_text
from train.synthetic import write_dataset
from train.tiny import build_tiny


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data"), n=3, sft=True)


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
def test_labels_cover_only_the_response(tmp_path, data, family):
    processor = AutoProcessor.from_pretrained(build_tiny(family, tmp_path / family))
    rows = [dict(vars(e), **e.extra) for e in load_jsonl(data)]
    collator = VideoSFTCollator(processor, n_frames=4)
    batch = collator(rows)
    video_id = processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    ids, labels, attn = batch["input_ids"], batch["labels"], batch["attention_mask"]
    assert batch["pixel_values_videos"].shape[0] > 0 and batch["video_grid_thw"].shape == (3, 3)
    assert ((ids == video_id).sum(1) > 0).all()
    assert (labels[ids == video_id] == IGNORE).all()                 # video tokens never trained on
    assert (labels[attn == 0] == IGNORE).all()                        # padding never trained on
    assert batch["mm_token_type_ids"].shape == ids.shape
    assert (batch["mm_token_type_ids"][ids == video_id] == 2).all()
    for row, r_ids, r_labels, ex in zip(rows, ids, labels, load_jsonl(data)):
        trained = r_labels[r_labels != IGNORE]
        text = processor.tokenizer.decode(trained)
        assert text == target_text(ex) + "<|im_end|>\n"              # exactly the response + end of turn
        first = int((r_labels != IGNORE).nonzero()[0])
        prompt = processor.tokenizer.decode(r_ids[:first])
        assert prompt.endswith("<|im_start|>assistant\n") and ex.think not in prompt


def test_bad_video_is_skipped_not_fatal(tmp_path, data):
    processor = AutoProcessor.from_pretrained(build_tiny("qwen2_5_vl", tmp_path / "m"))
    rows = [dict(vars(e), **e.extra) for e in load_jsonl(data)]
    rows[1]["video_path"] = str(tmp_path / "gone.mp4")
    collator = VideoSFTCollator(processor, n_frames=4)
    batch = collator(rows)
    assert batch["input_ids"].shape[0] == 2
    assert collator.skipped[0][0] == rows[1]["problem_id"] and "missing_file" in collator.skipped[0][1]
