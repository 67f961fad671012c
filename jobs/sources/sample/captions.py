"""WebVTT narration of the sample world (stand-in): it names the topic but never gives a fact's answer away.

The narration holds no digits and no answer words; `check_captions` enforces that at build time. Only a fact
planted answerable_from_text gets a spoiler cue (the video-dependency check must catch its items).
"""
from __future__ import annotations

import re

NARRATION = {
    "sorting": ["We start from an unsorted row of bars, each labelled with its value.",
                "Watch which pairs are compared, and when two bars trade places.",
                "Comparisons are shown in blue and exchanges in red.",
                "Try to predict the next exchange before it happens.",
                "Notice how the sorted part of the row grows as the passes go on.",
                "At the end the bars rise from left to right."],
    "graph_search": ["Here is a small undirected graph with lettered nodes.",
                     "The traversal begins at the first letter and marks nodes as it reaches them.",
                     "A highlighted edge shows how each new node was discovered.",
                     "Neighbours are always considered in alphabetical order.",
                     "Keep track of the order in which nodes turn green.",
                     "Together the highlighted edges form a search tree."],
    "oscillator": ["The object is pulled aside and released from rest.",
                   "Friction is small enough to ignore in this demonstration.",
                   "Use the clock in the corner to time the motion.",
                   "Timing many swings at once reduces the error of a single measurement.",
                   "Restoring forces bring the object back toward the centre each time.",
                   "Think about which quantities the period depends on."],
    "projectile": ["A ball is launched from ground level at an angle.",
                   "Air resistance is negligible for this launch.",
                   "Watch the clock at the moment of launch and at the moment of landing.",
                   "The ruler along the ground is marked in metres.",
                   "Horizontal and vertical motion can be treated separately.",
                   "Gravity acts downward throughout the flight."],
    "titration": ["The flask contains hydrochloric acid with a few drops of indicator.",
                  "Sodium hydroxide is added slowly from the burette.",
                  "Watch the burette readout and the colour of the flask together.",
                  "The curve on the right tracks the pH as base is added.",
                  "Near the endpoint each drop matters.",
                  "We keep adding a little base past the change to see the curve flatten."],
    "circuit": ["The circuit holds a battery, resistance, a capacitor and a switch.",
                "The capacitor starts completely uncharged.",
                "Watch the meters at the moment the switch closes.",
                "The capacitor voltage rises quickly at first and then more slowly.",
                "The current falls as the capacitor charges.",
                "The shape of the curve is set by the product of resistance and capacitance."],
    "supply_demand": ["The diagram shows a demand curve and a supply curve for one market.",
                      "Equilibrium is where the two curves cross.",
                      "Dashed lines read the equilibrium price and quantity off the axes.",
                      "Something in the market is about to change.",
                      "Watch which curve responds, and where the new intersection lands.",
                      "Compare the market before and after the change."],
    "ecg": ["This monitor shows a single lead of the electrocardiogram.",
            "Each heartbeat produces a P wave, a QRS complex and a T wave.",
            "The heart icon flashes on every beat.",
            "Use the clock to time the beats as they enter the screen.",
            "Look at how regular the spacing between beats is.",
            "Rate and regularity together describe the rhythm."],
    "mitosis": ["We follow one animal cell as it divides its replicated chromosomes.",
                "Chromosomes are coloured so each can be followed.",
                "The spindle fibres attach to the chromosomes.",
                "Watch when the chromosomes move and where they end up.",
                "Two nuclei eventually form, one at each end.",
                "Finally the cell membrane pinches the cell in two."],
    "offtopic": ["Hey everyone, welcome back to the channel!", "Today is going to be a fun one.",
                 "Let me know in the comments what you think.", "Don't forget to like and subscribe.",
                 "That's it for today, see you next time!"],
}
SPOILER = "Spoiler for the quiz: the answer is {answer}."


def narration(scene_type: str, kp: dict, flawed_answers: list[str]) -> list[str]:
    opener = (["Welcome back!"] if scene_type == "offtopic" else
              [f"Welcome to this lecture on {kp['name'].lower()}, part of {kp['course'].lower()}."])
    # the planted spoiler comes early, so that even a short video's captions keep it
    return opener + [SPOILER.format(answer=a) for a in flawed_answers] + NARRATION[scene_type]


def vtt_text(lines: list[str], duration_s: float, start_s: float = 0.0) -> str:
    """Cues spread over the video, each 4.5 s long (or shorter at the end)."""
    out = ["WEBVTT", ""]
    step = max(5.0, (duration_s - start_s - 1) / max(1, len(lines)))
    for i, line in enumerate(lines):
        a = start_s + 0.5 + i * step
        if a >= duration_s - 0.5:
            break
        b = min(a + 4.5, duration_s)
        out += [str(i + 1), f"{_ts(a)} --> {_ts(b)}", line, ""]
    return "\n".join(out)


def _ts(s: float) -> str:
    ms = int(round(s * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def cue_texts(vtt: str) -> list[str]:
    """The cue payload lines of a WebVTT document (no header, indices or timings)."""
    out = []
    for block in vtt.strip().split("\n\n")[1:]:
        lines = block.splitlines()
        k = next((i for i, ln in enumerate(lines) if "-->" in ln), None)
        if k is not None:
            out += lines[k + 1:]
    return out


def answer_in_text(answer: str, text: str) -> bool:
    """Whether `answer` occurs in `text` as a whole phrase (case-insensitive)."""
    pat = r"(?<![A-Za-z0-9])" + re.escape(answer.lower()) + r"(?![A-Za-z0-9])"
    return re.search(pat, text.lower()) is not None


def check_captions(vtt: str, facts: list[dict]) -> list[str]:
    """Problems found: a non-flagged answer in the captions, or a flagged one missing."""
    text = " ".join(cue_texts(vtt))
    problems = []
    for f in facts:
        hit = answer_in_text(f["answer"], text)
        flagged = f.get("flaw") == "answerable_from_text"
        if hit != flagged:
            problems.append(f"{f['fact_id']}: answer {f['answer']!r} {'in' if hit else 'missing from'} captions")
    if not any(f.get("flaw") == "answerable_from_text" for f in facts) and re.search(r"\d", text):
        problems.append("captions contain digits")
    return problems
