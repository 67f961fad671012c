"""The VideoKR reward: format, accuracy (exact match / stemmed ROUGE), and the 0.1/0.9 mix."""
import pytest

from train.rewards import (accuracy_reward, extract_answer, format_reward, rouge_f1, trl_videokr_reward,
                           videokr_reward)

GOOD = "<think>The array is split in halves and merged.</think>\n<answer>B</answer>"


@pytest.mark.parametrize("text,expected", [
    (GOOD, 1.0),
    ("<think>a</think><answer>B</answer>", 1.0),                      # no whitespace between is fine
    ("<think>\nmulti\nline\n</think>  \n <answer>\nB\n</answer>", 1.0),
    ("<answer>B</answer>", 0.0),                                       # no think
    ("<think>a</think>", 0.0),                                         # no answer
    ("Sure! <think>a</think><answer>B</answer>", 0.0),                 # text before
    ("<think>a</think><answer>B</answer> extra", 0.0),                 # text after
    ("<think>a</think> x <answer>B</answer>", 0.0),                    # text between
    ("<answer>B</answer><think>a</think>", 0.0),                       # wrong order
    ("", 0.0),
])
def test_format_reward(text, expected):
    assert format_reward(text) == expected
    assert format_reward(text, strict=True) == expected


@pytest.mark.parametrize("text", ["<think>a</think><answer>B</answer><answer>C</answer>",   # two answers
                                  "<think>a <think>b</think></think><answer>B</answer>"])     # nested think
def test_release_format_accepts_what_strict_rejects(text):
    assert format_reward(text) == 1.0 and format_reward(text, strict=True) == 0.0


def test_extract_answer():
    assert extract_answer(GOOD) == "B"
    assert extract_answer("<answer>  the top \n</answer>") == "the top"
    assert extract_answer("no tags") is None


def test_multiple_choice_exact_match():
    assert accuracy_reward(GOOD, "<answer>B</answer>", "multiple choice") == 1.0
    assert accuracy_reward(GOOD, "<answer>C</answer>", "multiple choice") == 0.0
    assert accuracy_reward("<answer>B. merge sort</answer>", "<answer>B</answer>", "multiple choice") == 0.0
    assert accuracy_reward("B", "<answer>B</answer>", "multiple choice") == 0.0   # untagged answer scores 0
    assert accuracy_reward(GOOD, "<answer>b</answer>", "multiple choice") == 0.0  # case-sensitive
    assert accuracy_reward(GOOD, "B", "multiple choice") == 1.0                  # bare solution text accepted


def test_open_ended_rouge_stemmed_and_clipped():
    same = accuracy_reward("<answer>the pendulum swings faster</answer>",
                           "<answer>the pendulum swings faster</answer>", "open-ended")
    assert same == pytest.approx(1.0)
    # stemming: "swinging" and "swings" share the stem "swing"
    stemmed = rouge_f1("pendulum swinging", "pendulum swings")
    assert stemmed == pytest.approx(1.0)
    partial = accuracy_reward("<answer>the ball is fastest at the bottom</answer>",
                              "<answer>fastest at the bottom of the arc</answer>", "open-ended")
    assert 0.0 < partial < 1.0
    assert accuracy_reward("<answer>completely unrelated words</answer>",
                           "<answer>fastest at the bottom</answer>", "open-ended") == 0.0


def test_unknown_type_scores_zero_accuracy():
    assert accuracy_reward(GOOD, "<answer>B</answer>", "true/false") == 0.0
    assert videokr_reward(GOOD, "<answer>B</answer>", "true/false") == pytest.approx(0.1)


def test_videokr_reward_mix():
    assert videokr_reward(GOOD, "<answer>B</answer>", "multiple choice") == pytest.approx(1.0)
    assert videokr_reward(GOOD, "<answer>A</answer>", "multiple choice") == pytest.approx(0.1)
    assert videokr_reward("answer: <answer>B</answer>", "<answer>B</answer>", "multiple choice") == \
        pytest.approx(0.9)
    assert videokr_reward("nothing", "<answer>B</answer>", "multiple choice") == 0.0


def test_trl_adapter_accepts_strings_and_messages():
    out = trl_videokr_reward([GOOD, [{"role": "assistant", "content": GOOD}]],
                             solution=["<answer>B</answer>", "<answer>C</answer>"],
                             problem_type=["multiple choice", "multiple choice"], prompts=None)
    assert out == pytest.approx([1.0, 0.1])
