"""Supply/demand and ECG scenes of the sample world (stand-in): the chart changes over time, and the earlier
state is not left on screen, so one frame cannot tell what happened."""
from __future__ import annotations

import math

import cv2
import numpy as np

from .. import draw as D
from ..facts import BASIC, KEP, KIR, fact, int_distractors, num_distractors, pick, vague
from ..spec import INTRO_S

SHIFTS = ["The demand curve shifts right", "The demand curve shifts left", "The supply curve shifts right",
          "The supply curve shifts left", "Both curves shift right", "Both curves shift left", "Neither curve moves",
          "The demand curve becomes steeper", "The supply curve becomes flatter",
          "Demand shifts right and supply shifts left"]
MOVES = [f"Price {a} and quantity {b}" for a in ("rises", "falls", "stays the same")
         for b in ("rises", "falls", "stays the same")] + ["Price rises and quantity cannot be determined",
                                                           "Price cannot be determined and quantity rises"]
RHYTHMS = ["Normal sinus rhythm", "Sinus tachycardia", "Sinus bradycardia", "Atrial fibrillation", "Atrial flutter",
           "Ventricular tachycardia", "Ventricular fibrillation", "First-degree AV block", "Complete heart block",
           "Asystole", "Supraventricular tachycardia", "Premature ventricular contractions"]
QMAX, PMAX = 100.0, 10.0


def _money(delta: float) -> str:
    return f"an increase of {delta:.0f}" if delta >= 0 else f"a decrease of {-delta:.0f}"


def plan_supply_demand(spec, rng: np.random.Generator) -> dict:
    v = spec.options.get("variant", 0)
    q1 = float(rng.choice([50, 60] if v == 4 else [30, 40, 50, 60]))
    p1 = float(rng.choice([4.0, 5.0, 6.0]))
    b, d = 0.08, 0.05                                   # |slopes| of demand and supply (price per unit)
    dem = [p1 + b * q1, b]                              # P = a - b Q
    sup = [p1 - d * q1, d]                              # P = c + d Q
    t_ev = INTRO_S + 8.0 + 0.5 * int(rng.integers(0, 10))
    duration = float(30 + int(rng.integers(0, 10)))
    ev = [(t_ev - 2, t_ev + 3)]
    base = {"demand": dem, "supply": sup, "q1": q1, "p1": p1, "t_event": t_ev}
    if v == 4:                                          # price ceiling below equilibrium
        pc = round(p1 - float(rng.choice([0.8, 1.6, 2.0])), 2)     # keeps both quantities whole numbers
        qd, qs = (dem[0] - pc) / b, (pc - sup[0]) / d
        events = [{"t": t_ev, "what": f"price ceiling imposed at {pc:.1f}; quantity supplied {qs:.0f}, "
                                      f"quantity demanded {qd:.0f}"}]
        facts = [
            fact("initial_price", BASIC, "What was the equilibrium price before the ceiling line appeared?",
                 f"{p1:.1f}", num_distractors(p1, "{:.1f}", rng), [
                     (f"Before the ceiling, the dashed line from the intersection meets the price axis at {p1:.1f}.",
                      "video")], [(INTRO_S, t_ev)]),
            fact("traded", KEP, "How many units are actually bought and sold once the ceiling applies?",
                 f"{qs:.0f}", int_distractors(int(round(qs)), rng, 1), [
                     (f"At the ceiling price the supply curve gives {qs:.0f} units and demand {qd:.0f}.", "video"),
                     ("Trade is limited by the short side of the market, here the sellers.", "knowledge")],
                 [(t_ev, duration)]),
            fact("shortage", KIR, "How many units short is the market at the ceiling price?", f"{qd - qs:.0f}",
                 int_distractors(int(round(qd - qs)), rng, 1), [
                     (f"At the ceiling the curves give quantity supplied {qs:.0f} and demanded {qd:.0f}.", "video"),
                     ("Shortage = quantity demanded - quantity supplied.", "knowledge"),
                     (f"{qd:.0f} - {qs:.0f} = {qd - qs:.0f} units.", "knowledge")], [(t_ev, duration)])]
        return {"duration_s": duration, "facts": facts, "events": events,
                "params": {**base, "ceiling": pc, "q2": q1, "p2": p1, "shifted": None, "new_line": None},
                "notes": ["Price on the vertical axis.", "Quantity on the horizontal axis."]}
    which = "supply" if v in (1, 3) else "demand" if v == 0 else str(rng.choice(["demand", "supply"]))
    for dq in [float(x) for x in rng.permutation([-20, -10, 10, 20])]:
        q2 = q1 + dq
        if which == "demand":                           # new point on the supply curve
            p2 = sup[0] + d * q2
            new = [p2 + b * q2, b]
        else:
            p2 = dem[0] - b * q2
            new = [p2 - d * q2, d]
        if abs(p2 * q2 - p1 * q1) >= 5:                 # a visible revenue change (distractors stay distinct)
            break
    direction = "right" if dq > 0 else "left"
    shift = f"The {which} curve shifts {direction}"
    move = f"Price {_dir(p2 - p1)} and quantity {_dir(q2 - q1)}"
    rev = p2 * q2 - p1 * q1
    events = [{"t": t_ev, "what": f"{shift.lower()}; equilibrium moves from ({q1:.0f}, {p1:.1f}) to "
                                  f"({q2:.0f}, {p2:.1f})"}]
    facts = [fact("shift", BASIC, "Which curve moves during the video, and in which direction?", shift,
                  pick(SHIFTS, shift, rng), [("One curve slides sideways while the other stays put.", "video"),
                                             (f"{shift}.", "video")], ev)]
    facts.append(fact("eq_change", KEP, "How do the equilibrium price and quantity change?", move,
                      pick(MOVES, move, rng), [(f"{shift}.", "video"), (_eq_rule(which, dq), "knowledge")], ev))
    cands = [_money(rev * f) for f in (0.5, 1.5, 2, -1, 3, 0.25)] + [_money(p2 * q2), _money(-p1 * q1),
                                                                      _money((p2 - p1) * (q2 - q1)),
                                                                      _money(p2 * (q2 - q1)), _money(q2 * (p2 - p1))]
    facts.append(fact("revenue_change", KIR, "By how much does total spending at equilibrium (price times "
                      "quantity) change?", _money(rev), cands, [
                          (f"Equilibrium moves from price {p1:.1f}, quantity {q1:.0f} to price {p2:.1f}, "
                           f"quantity {q2:.0f}.", "video"),
                          ("Total spending = price * quantity.", "knowledge"),
                          (f"{p2:.1f}*{q2:.0f} - {p1:.1f}*{q1:.0f} = {rev:.0f}.", "knowledge")],
                      [(INTRO_S, duration)]))
    return {"duration_s": duration, "facts": facts, "events": events,
            "params": {**base, "shifted": which, "new_line": new, "q2": q2, "p2": round(p2, 4), "ceiling": None},
            "notes": ["Price on the vertical axis.", "Quantity on the horizontal axis."]}


def _dir(x: float) -> str:
    return "rises" if x > 1e-9 else "falls" if x < -1e-9 else "stays the same"


def _eq_rule(which: str, dq: float) -> str:
    if which == "demand":
        return "Along an upward-sloping supply curve, more demand raises both price and quantity (less lowers both)."
    return "Along a downward-sloping demand curve, more supply lowers price and raises quantity (and vice versa)."


def draw_supply_demand(img, t: float, p: dict, lay: D.Layout) -> None:
    x0, y0, x1, y1 = lay.box
    ox, oy, w, h = x0 + 50, y1 - 40, x1 - x0 - 80, y1 - y0 - 70
    X = lambda q: int(ox + w * q / QMAX)
    Y = lambda pr: int(oy - h * pr / PMAX)
    cv2.line(img, (ox, oy), (ox + w, oy), D.INK, 2)
    cv2.line(img, (ox, oy), (ox, oy - h), D.INK, 2)
    for q in range(0, 101, 10):
        D.text(img, str(q), (X(q) - 8, oy + 16), 0.35)
    for pr in range(0, 11, 2):
        D.text(img, str(pr), (ox - 22, Y(pr) + 4), 0.35)
    dem, sup = list(p["demand"]), list(p["supply"])
    frac = min(max((t - p["t_event"]) / 2.0, 0.0), 1.0)
    if p["shifted"]:
        tgt = dem if p["shifted"] == "demand" else sup
        tgt[0] = tgt[0] + (p["new_line"][0] - tgt[0]) * frac
    _curve(img, X, Y, dem, -1, D.BLUE, "D")
    _curve(img, X, Y, sup, 1, D.ACCENT, "S")
    if p["ceiling"] is not None and t >= p["t_event"]:
        pc = p["ceiling"]
        cv2.line(img, (ox, Y(pc)), (ox + w, Y(pc)), D.GREEN, 2)
        D.text(img, "ceiling", (ox + w - 60, Y(pc) - 6), 0.4, D.GREEN)
        for q in ((pc - sup[0]) / sup[1], (dem[0] - pc) / dem[1]):
            _dashed(img, (X(q), Y(pc)), (X(q), oy))
            D.label_box(img, f"{q:.0f}", (X(q) - 8, oy - 8), 0.4)
        return
    if frac in (0.0, 1.0):                              # the current equilibrium with its readings
        q, pr = (p["q1"], p["p1"]) if frac == 0.0 else (p["q2"], p["p2"])
        _dashed(img, (X(q), Y(pr)), (X(q), oy))
        _dashed(img, (X(q), Y(pr)), (ox, Y(pr)))
        D.label_box(img, f"{q:.0f}", (X(q) - 8, oy - 8), 0.4)
        D.label_box(img, f"{pr:.1f}", (ox + 4, Y(pr) - 4), 0.4)


def _curve(img, X, Y, line, sign, color, name) -> None:
    qs = np.linspace(0, QMAX, 60)
    ps = line[0] + sign * line[1] * qs
    pts = [(X(q), Y(pr)) for q, pr in zip(qs, ps) if 0 <= pr <= PMAX]
    if len(pts) > 1:
        cv2.polylines(img, [np.array(pts, np.int32)], False, color, 2, cv2.LINE_AA)
        D.text(img, name, (pts[-1][0] + 4, pts[-1][1]), 0.5, color)


def _dashed(img, a, b, n=12) -> None:
    for k in range(0, n, 2):
        p0 = (int(a[0] + (b[0] - a[0]) * k / n), int(a[1] + (b[1] - a[1]) * k / n))
        p1 = (int(a[0] + (b[0] - a[0]) * (k + 1) / n), int(a[1] + (b[1] - a[1]) * (k + 1) / n))
        cv2.line(img, p0, p1, D.GREY, 1)


# ------------------------------------------------------------------------------------------------ ECG

WINDOW_S = 3.0


def plan_ecg(spec, rng: np.random.Generator) -> dict:
    v = spec.options.get("variant", 0)
    hr = int(rng.choice([40, 44, 48, 50, 75, 80, 120, 125, 150]))
    rr = 60.0 / hr
    t0 = INTRO_S + 1.0
    n = int(math.ceil(12 / rr)) + int(rng.integers(0, 4))
    a = t0 + rr * (2 + int(rng.integers(0, 3))) - rr / 2
    b = a + n * rr
    duration = float(min(120, max(30, math.ceil(b + 4))))
    beats = [round(t0 + k * rr, 4) for k in range(int((duration - t0) / rr) + 1)]
    rhythm = RHYTHMS[1] if hr > 100 else RHYTHMS[2] if hr < 60 else RHYTHMS[0]
    ev = [(a, b)]
    events = [{"t": round(x, 2), "what": "QRS complex (R peak)"} for x in beats]
    cnt = fact("beats", BASIC, f"How many heartbeats (QRS complexes) appear at the marker between t = {a:.1f} s "
               f"and t = {b:.1f} s on the clock?", str(n), int_distractors(n, rng, 1), [
                   ("Each beat is a tall narrow spike entering at the marker while the heart icon flashes.", "video"),
                   (f"{n} spikes appear between t = {a:.1f} s and t = {b:.1f} s.", "video")], ev)
    # loosely worded: the marked interval, the whole trace, or the beats per minute a monitor displays
    vague(cnt, "How many heartbeats does the monitor show?", [str(len(beats)), str(hr)])
    if v in (1, 2, 3):                                  # rhythm-named lectures: the title would tell
        kep = fact("rr_interval", KEP, "What is the R-R interval of this rhythm?", f"{rr:.2f} s",
                   num_distractors(rr, "{:.2f} s", rng), [
                       (f"{n} beats arrive in {b - a:.1f} s of clock time.", "video"),
                       ("The R-R interval is the time between successive R peaks.", "knowledge"),
                       (f"{b - a:.1f} / {n} = {rr:.2f} s.", "knowledge")], ev)
    else:
        kep = fact("rhythm", KEP, "Which rhythm does the monitor show?", rhythm, pick(RHYTHMS, rhythm, rng), [
            ("The complexes are regular, each with a P wave before the QRS.", "video"),
            (f"The rate is {hr} per minute; regular sinus beats at that rate are called {rhythm.lower()}.",
             "knowledge")], ev)
    kir = fact("heart_rate", KIR, "What is the heart rate?", f"{hr} bpm", num_distractors(hr, "{:.0f} bpm", rng), [
        (f"{n} beats occur in {b - a:.1f} s on the clock.", "video"),
        ("Heart rate = beats per second * 60.", "knowledge"),
        (f"{n} / {b - a:.1f} * 60 = {hr} bpm.", "knowledge")], ev)
    return {"duration_s": duration, "facts": [cnt, kep, kir], "events": events,
            "params": {"heart_rate_bpm": hr, "rr_s": round(rr, 5), "t0": t0, "beats": beats, "window_s": WINDOW_S},
            "notes": ["Lead II monitor strip.", "The heart icon flashes on each beat."]}


def _ecg_wave(s: np.ndarray) -> np.ndarray:
    """One beat at s=0 (R peak): P, QRS and T waves as Gaussians (mV-like units)."""
    g = lambda mu, sd, amp: amp * np.exp(-((s - mu) / sd) ** 2 / 2)
    return g(-0.18, 0.025, 0.15) + g(-0.03, 0.01, -0.12) + g(0, 0.012, 1.0) + g(0.03, 0.01, -0.2) + g(0.25, 0.05, 0.3)


def draw_ecg(img, t: float, p: dict, lay: D.Layout) -> None:
    x0, y0, x1, y1 = lay.box
    cv2.rectangle(img, (x0 + 10, y0 + 30), (x1 - 10, y1 - 40), (15, 30, 20), -1)
    xs = np.arange(x0 + 12, x1 - 12)
    ts = t - p["window_s"] + (xs - xs[0]) / (xs[-1] - xs[0]) * p["window_s"]
    sig = np.zeros_like(ts)
    for bt in p["beats"]:
        if bt <= t + 0.5 and bt >= ts[0] - 0.5:
            sig += _ecg_wave(ts - bt)
    sig[ts < p["t0"] - 0.3] = 0
    mid = (y0 + y1) // 2 + 20
    pts = np.stack([xs, mid - sig * 90], 1).astype(np.int32)
    cv2.polylines(img, [pts], False, (80, 255, 120), 2, cv2.LINE_AA)
    cv2.line(img, (x1 - 14, y0 + 34), (x1 - 14, y1 - 44), (255, 255, 255), 1)
    flash = any(0 <= t - bt < 0.25 for bt in p["beats"])
    cv2.circle(img, (x1 - 40, y0 + 16), 9, D.ACCENT if flash else D.GREY, -1, cv2.LINE_AA)
    D.clock(img, t, lay)
