"""`videokr_reward` equals the VideoKR release's reward on every input of a generated set, and the strict option
still rejects what it was kept for."""
import random
import re

import pytest
from rouge_score import rouge_scorer

from train.rewards import format_reward, trl_reward_func, videokr_reward

_SCORER = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def release_reward(content: str, sol: str, problem_type: str) -> float:
    """Written from the release's description (REFERENCE.md), independent of train/rewards.py."""
    def answer(text):
        m = re.search(r"<answer>\s*(.*?)\s*</answer>", text, re.DOTALL)
        return m.group(1).strip() if m else ""
    fmt = 1.0 if re.fullmatch(r"<think>.*?</think>\s*<answer>.*?</answer>", content, re.DOTALL) else 0.0
    out, gt = answer(content), answer(sol)
    if problem_type == "multiple choice":
        acc = 1.0 if out.strip() == gt.strip() else 0.0
    elif problem_type == "open-ended":
        s = _SCORER.score(gt, out)
        acc = max(0.0, min(1.0, (s["rouge1"].fmeasure + s["rouge2"].fmeasure + s["rougeL"].fmeasure) / 3))
    else:
        acc = 0.0
    return 0.9 * acc + 0.1 * fmt


WORDS = ["the", "ball", "swings", "swinging", "pendulum", "faster", "at", "bottom", "Energy", "is", "conserved",
         "heap", "sort", "merges", "halves", "B", "b", "A.", "(C)", "42", "mitochondria"]
SPACE = ["", " ", "\n", "  \n\t", "\r\n"]


def _text(rng, n=None):
    return " ".join(rng.choice(WORDS) for _ in range(n if n is not None else rng.randint(0, 6)))


def _answer_block(rng):
    inner = rng.choice([_text(rng), rng.choice("ABCDabcd"), "", _text(rng, 1)])
    left, right = rng.choice(SPACE), rng.choice(SPACE)
    tag = rng.choice(["answer"] * 8 + ["Answer", "ANSWER"])        # case of the tag itself
    return f"<{tag}>{left}{inner}{right}</{tag}>"


def _completion(rng) -> str:
    think = f"<think>{rng.choice(SPACE)}{_text(rng)}{rng.choice(SPACE)}</think>"
    kind = rng.randrange(10)
    if kind == 0:                                            # several answer blocks
        body = think + rng.choice(SPACE) + rng.choice(SPACE).join(_answer_block(rng)
                                                                  for _ in range(rng.randint(2, 3)))
    elif kind == 1:                                          # nested tags
        body = rng.choice([f"<think>a <think>b</think> c</think><answer>{rng.choice('AB')}</answer>",
                           f"<think>x</think><answer><answer>{rng.choice('AB')}</answer></answer>",
                           f"<think>x <answer>A</answer></think>{rng.choice(SPACE)}<answer>B</answer>",
                           f"<think><answer>{_text(rng, 2)}</answer></think><answer>{_text(rng, 3)}</answer>"])
    elif kind == 2:                                          # missing tags
        body = rng.choice([think, _answer_block(rng), _text(rng), think + _text(rng),
                           f"<think>{_text(rng)}<answer>B</answer>", f"{_text(rng)} </answer>"])
    elif kind == 3:                                          # text before / after / between
        body = rng.choice([_text(rng, 2) + " " + think + _answer_block(rng),
                           think + _answer_block(rng) + " " + _text(rng, 1),
                           think + " so " + _answer_block(rng)])
    else:                                                    # the expected shape, whitespace varied
        body = think + rng.choice(SPACE) + _answer_block(rng)
    if rng.random() < 0.2:                                   # surrounding whitespace fails the full match
        body = rng.choice([" ", "\n"]) + body if rng.random() < 0.5 else body + rng.choice([" ", "\n"])
    return body


def _solution(rng, ptype):
    if ptype == "multiple choice":
        return f"<answer>{rng.choice(SPACE)}{rng.choice('ABCD')}{rng.choice(SPACE)}</answer>"
    return f"<answer>{_text(rng, rng.randint(1, 6))}</answer>"


def test_equals_the_release_on_every_generated_input():
    rng = random.Random(19)
    cases = []
    for _ in range(600):
        ptype = rng.choice(["multiple choice"] * 5 + ["open-ended"] * 4 + ["numerical"])
        cases.append((_completion(rng), _solution(rng, ptype), ptype))
    differ = [(c, s, t, videokr_reward(c, s, t), release_reward(c, s, t)) for c, s, t in cases
              if videokr_reward(c, s, t) != pytest.approx(release_reward(c, s, t), abs=1e-12)]
    assert differ == []
    # the set covers what the release and the strict check disagree on, and every reward level
    strict_differs = sum(format_reward(c) != format_reward(c, strict=True) for c, _, _ in cases)
    assert strict_differs >= 40
    levels = {round(release_reward(c, s, t), 6) for c, s, t in cases}
    assert {0.0, 0.1, 0.9, 1.0} <= levels and any(0.1 < x < 0.9 for x in levels)   # ROUGE gives partial credit


@pytest.mark.parametrize("completion,solution,ptype,expected", [
    ("<think>t</think><answer>B</answer>", "<answer>B</answer>", "multiple choice", 1.0),
    ("<think>t</think>\n<answer> B \n</answer>", "<answer>B</answer>", "multiple choice", 1.0),
    ("<think>t</think><answer>b</answer>", "<answer>B</answer>", "multiple choice", 0.1),          # case-sensitive
    ("<think>t</think><answer>A</answer><answer>B</answer>", "<answer>A</answer>", "multiple choice", 1.0),
    ("<think>t</think><answer>B</answer><answer>A</answer>", "<answer>A</answer>", "multiple choice", 0.1),
    ("<think>a<think>b</think></think><answer>A</answer>", "<answer>A</answer>", "multiple choice", 1.0),
    ("I think <answer>A</answer>", "<answer>A</answer>", "multiple choice", 0.9),                  # no format
    ("<think>t</think>", "<answer>A</answer>", "multiple choice", 0.0),                             # no answer
    ("<think>t</think><answer>A</answer>", "<answer>A</answer>", "numerical", 0.1),                 # other type
    (" <think>t</think><answer>A</answer>", "<answer>A</answer>", "multiple choice", 0.9),         # leading space
    ("<think>t</think><answer>the pendulum swinging</answer>", "<answer>pendulum swings</answer>", "open-ended",
     0.1 + 0.9 * (0.8 + 2 / 3 + 0.8) / 3),       # "the pendulum swing" vs "pendulum swing": R1, R2, RL F1
])
def test_hand_checked(completion, solution, ptype, expected):
    assert videokr_reward(completion, solution, ptype) == pytest.approx(expected)
    assert release_reward(completion, solution, ptype) == pytest.approx(expected)


def test_strict_option_rejects_nested_and_multiple_blocks():
    two = "<think>t</think><answer>A</answer><answer>B</answer>"
    nested = "<think>x <answer>A</answer></think><answer>A</answer>"
    for text in (two, nested):
        assert format_reward(text) == 1.0 and format_reward(text, strict=True) == 0.0
        assert videokr_reward(text, "<answer>A</answer>", "multiple choice", strict_format=True) == \
            pytest.approx(0.9)
    good = "<think>t</think> <answer>A</answer>"
    assert videokr_reward(good, "<answer>A</answer>", "multiple choice", strict_format=True) == pytest.approx(1.0)
    strict, release = trl_reward_func(True), trl_reward_func(False)
    assert strict.__name__ != release.__name__                 # TRL logs each under its own name
    assert strict([two], solution=["<answer>A</answer>"], problem_type=["multiple choice"]) == pytest.approx([0.9])
    assert release([two], solution=["<answer>A</answer>"], problem_type=["multiple choice"]) == pytest.approx([1.0])
