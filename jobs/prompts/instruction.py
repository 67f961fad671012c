"""The instruction text of the paper's training format, shared by every export writer (and usable by train/).

The model thinks inside <think></think>, then answers inside <answer></answer>; for multiple choice the answer is
only the option letter. `response` is the SFT target, `solution` the RL ground truth as released (`<answer>X</answer>`).
"""
from __future__ import annotations

PROMPT_VERSION = "videokr-instruction.v1"

INSTRUCTION = ("Watch the video and answer the question. First think through the problem step by step inside "
               "<think></think> tags, then give your final answer inside <answer></answer> tags.")
TYPE_NOTE = {
    "multiple choice": "Answer with only the letter of the correct option (for example: <answer>B</answer>).",
    "open-ended": "Answer with a short phrase, number or expression.",
}


def prompt_text(question: str, problem_type: str, options: list[str] | None) -> str:
    """User text (no video placeholder): question, options one per line, instruction, answer-format note."""
    parts = [question.strip()]
    if options:
        parts.append("Options:\n" + "\n".join(o.strip() for o in options))
    parts.append(f"{INSTRUCTION} {TYPE_NOTE.get(problem_type, TYPE_NOTE['open-ended'])}")
    return "\n\n".join(parts)


def solution(answer: str) -> str:
    return f"<answer>{answer.strip()}</answer>"


def response(think: str, answer: str) -> str:
    """SFT target: the whole response is <think>...</think> then <answer>...</answer> (format reward = 1)."""
    return f"<think>{(think or '').strip()}</think>{solution(answer)}"
