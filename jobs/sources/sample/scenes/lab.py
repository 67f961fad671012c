"""Titration and RC-circuit scenes of the sample world (stand-in): readings change over time on screen."""
from __future__ import annotations

import math

import cv2
import numpy as np

from .. import draw as D
from ..facts import BASIC, KEP, KIR, fact, num_distractors, pick
from ..spec import INTRO_S

INDICATORS = {"Phenolphthalein": ((238, 238, 240), (235, 90, 170)),     # colourless -> pink (RGB)
              "Bromothymol blue": ((225, 210, 60), (50, 90, 210)),       # yellow -> blue
              "Methyl orange": ((215, 50, 40), (240, 200, 50))}          # red -> yellow
INDICATOR_POOL = ["Phenolphthalein", "Bromothymol blue", "Methyl orange", "Methyl red", "Litmus", "Thymol blue",
                  "Universal indicator", "Phenol red", "Cresol red", "Alizarin yellow", "Congo red",
                  "Bromocresol green"]
VA, CB = 25.0, 0.100


def _ph(v_ml: float, ca: float) -> float:
    na, nb = ca * VA, CB * v_ml
    vol = VA + v_ml
    if abs(na - nb) < 1e-9:
        return 7.0
    if na > nb:
        return -math.log10((na - nb) / vol)
    return 14 + math.log10((nb - na) / vol)


def plan_titration(spec, rng: np.random.Generator) -> dict:
    v = spec.options.get("variant", 0)
    ind = "Phenolphthalein" if v == 1 else str(rng.choice(sorted(INDICATORS)))
    veq = round(float(rng.uniform(12, 24)), 1)
    rate = 0.5                                           # mL per second
    t0 = INTRO_S + 2.0 + 0.5 * int(rng.integers(0, 5))
    vmax = veq + float(rng.uniform(3, 6))
    t_eq = t0 + veq / rate
    duration = float(min(120, max(30, math.ceil(t0 + vmax / rate + 3))))
    ca = CB * veq / VA
    ev = [(t_eq - 1, t_eq + 1)]
    events = [{"t": t0, "what": "base starts dripping from the burette"},
              {"t": round(t_eq, 2), "what": f"solution changes colour at {veq:.1f} mL ({ind})"},
              {"t": round(t0 + vmax / rate, 2), "what": f"dripping stops at {vmax:.1f} mL"}]
    facts = [fact("endpoint_volume", BASIC, "At what burette reading does the solution in the flask first change "
                  "colour?", f"{veq:.1f} mL", num_distractors(veq, "{:.1f} mL", rng), [
                      ("The burette readout rises steadily while base drips in.", "video"),
                      (f"The flask colour flips when the readout shows {veq:.1f} mL.", "video")], ev)]
    if v == 1:
        facts.append(fact("steepest", KEP, "At what added volume is the pH curve drawn during the titration "
                          "steepest, marking the equivalence point?", f"{veq:.1f} mL",
                          num_distractors(veq, "{:.1f} mL", rng), [
                              ("The curve jumps sharply around the colour change.", "video"),
                              ("A strong acid-strong base curve is steepest at the equivalence point.", "knowledge")],
                          ev))
    else:
        facts.append(fact("indicator", KEP, "Which indicator is in the flask, judging from the colour change seen?",
                          ind, pick(INDICATOR_POOL, ind, rng), [
                              ("The solution changes from one colour to another at the endpoint.", "video"),
                              (f"That colour pair is characteristic of {ind.lower()}.", "knowledge")], ev))
    facts.append(fact("acid_concentration", KIR, f"The flask holds {VA:.1f} mL of HCl and the burette holds "
                      f"{CB:.3f} M NaOH. What is the HCl concentration?", f"{ca:.3f} M",
                      num_distractors(ca, "{:.3f} M", rng), [
                          (f"The endpoint is reached at {veq:.1f} mL of base.", "video"),
                          ("HCl and NaOH react 1:1, so c_a*V_a = c_b*V_b.", "knowledge"),
                          (f"c_a = {CB:.3f} * {veq:.1f} / {VA:.1f} = {ca:.3f} M.", "knowledge")], ev))
    return {"duration_s": duration, "facts": facts, "events": events,
            "params": {"indicator": ind, "v_eq_ml": veq, "rate_ml_s": rate, "t0": t0, "v_max_ml": round(vmax, 2),
                       "acid_ml": VA, "base_molar": CB, "acid_molar": round(ca, 5)},
            "notes": [f"Flask: {VA:.1f} mL HCl", f"Burette: {CB:.3f} M NaOH", "A few drops of indicator."]}


def draw_titration(img, t: float, p: dict, lay: D.Layout) -> None:
    x0, y0, x1, y1 = lay.box
    vol = min(max(0.0, (t - p["t0"]) * p["rate_ml_s"]), p["v_max_ml"])
    before, after = INDICATORS[p["indicator"]]
    col = after if vol >= p["v_eq_ml"] else before
    bx = x0 + 70
    cv2.rectangle(img, (bx - 8, y0 + 10), (bx + 8, y0 + 150), D.INK, 1)
    level = int(y0 + 12 + 130 * vol / 40)
    cv2.rectangle(img, (bx - 7, level), (bx + 7, y0 + 149), (210, 225, 245), -1)
    if 0 < vol < p["v_max_ml"] and int(t * 4) % 2 == 0:
        cv2.circle(img, (bx, y0 + 172), 3, (150, 180, 230), -1)
    flask = np.array([[bx - 12, y0 + 185], [bx + 12, y0 + 185], [bx + 55, y1 - 20], [bx - 55, y1 - 20]], np.int32)
    cv2.fillPoly(img, [flask], col, cv2.LINE_AA)
    cv2.polylines(img, [flask], True, D.INK, 2, cv2.LINE_AA)
    D.label_box(img, f"Burette: {vol:4.1f} mL", (bx + 30, y0 + 40), 0.5)
    px0, py0, px1, py1 = x0 + 210, y0 + 70, x1 - 15, y1 - 30
    cv2.rectangle(img, (px0, py0), (px1, py1), D.GREY, 1)
    D.text(img, "pH", (px0 + 4, py0 + 14), 0.4)
    D.text(img, "volume", (px1 - 50, py1 + 14), 0.4)
    vs = np.arange(0.0, vol + 1e-9, 0.1)
    if len(vs) > 1:
        pts = [(int(px0 + (px1 - px0) * x / 40), int(py1 - (py1 - py0) * _ph(x, p["acid_molar"]) / 14)) for x in vs]
        cv2.polylines(img, [np.array(pts, np.int32)], False, D.ACCENT, 2, cv2.LINE_AA)
    D.clock(img, t, lay)


# ------------------------------------------------------------------------------------------------ circuit

def plan_circuit(spec, rng: np.random.Generator) -> dict:
    v = spec.options.get("variant", 0)
    E = float(rng.choice([6.0, 9.0, 12.0]))
    tau = float(rng.choice([2.0, 2.5, 3.0, 4.0, 5.0]))
    r_kohm = [float(rng.choice([5.0, 10.0, 20.0]))]
    if v == 3:
        r_kohm.append(float(rng.choice([5.0, 10.0, 15.0])))
    R = sum(r_kohm) * 1e3
    C = tau / R
    ts = round(float(rng.uniform(6, 12)) * 2) / 2
    duration = float(min(120, max(30, math.ceil(ts + 5 * tau + 4))))
    i0 = E / R * 1e3
    events = [{"t": ts, "what": "switch closes"},
              {"t": round(ts + tau, 2), "what": f"capacitor voltage reaches 63% of {E:.1f} V"},
              {"t": round(ts + 5 * tau, 2), "what": "capacitor essentially fully charged"}]
    ev = [(ts, ts + tau + 1)]
    facts = [fact("switch_time", BASIC, "At what clock time is the switch closed?", f"{ts:.1f} s",
                  num_distractors(ts, "{:.1f} s", rng), [
                      ("The switch lever drops onto its contact and the meters start to move.", "video"),
                      (f"The clock reads {ts:.1f} s at that moment.", "video")], [(ts - 1, ts + 1)]),
             fact("time_constant", KEP, "How long after the switch closes does the capacitor voltage reach about "
                  "63% of the supply voltage?", f"{tau:.1f} s", num_distractors(tau, "{:.1f} s", rng), [
                      (f"The voltmeter reaches {0.632 * E:.1f} V of the {E:.1f} V supply {tau:.1f} s after closing.",
                       "video"),
                      ("That time is one RC time constant (1 - 1/e = 63%).", "knowledge")], ev)]
    if v == 0:
        facts.append(fact("resistance", KIR, "Using the supply voltage and the current shown just after the switch "
                          "closes, what is the resistance in the circuit?", f"{R / 1e3:.1f} kOhm",
                          num_distractors(R / 1e3, "{:.1f} kOhm", rng), [
                              (f"Right after closing the ammeter shows {i0:.2f} mA with {E:.1f} V supply.", "video"),
                              ("An uncharged capacitor drops no voltage, so Ohm's law gives R = V / I.", "knowledge"),
                              (f"R = {E:.1f} / {i0:.2f} mA = {R / 1e3:.1f} kOhm.", "knowledge")], [(ts, ts + 1)]))
    else:
        rs = " + ".join(f"{r:.0f}" for r in r_kohm)
        facts.append(fact("capacitance", KIR, "Using the resistance printed on the diagram, what is the capacitance?",
                          f"{C * 1e6:.0f} uF", num_distractors(C * 1e6, "{:.0f} uF", rng), [
                              (f"The time constant seen is {tau:.1f} s; the resistors read {rs} kOhm.", "video"),
                              ("tau = R*C with series resistances adding, so C = tau / R.", "knowledge"),
                              (f"C = {tau:.1f} / {R:.0f} = {C * 1e6:.0f} uF.", "knowledge")], ev))
    return {"duration_s": duration, "facts": facts, "events": events,
            "params": {"supply_v": E, "tau_s": tau, "r_kohm": r_kohm, "c_uf": round(C * 1e6, 3), "t_switch": ts,
                       "show_r": v != 0},
            "notes": ["Capacitor starts uncharged.", "Meters: V across C, current in mA."]}


def draw_circuit(img, t: float, p: dict, lay: D.Layout) -> None:
    x0, y0, x1, y1 = lay.box
    L, T, Rr, B = x0 + 40, y0 + 40, x1 - 40, y1 - 60
    closed = t >= p["t_switch"]
    s = max(0.0, t - p["t_switch"])
    vc = p["supply_v"] * (1 - math.exp(-s / p["tau_s"])) if closed else 0.0
    i_ma = (p["supply_v"] - vc) / (sum(p["r_kohm"])) if closed else 0.0
    cv2.line(img, (L, T), (Rr, T), D.INK, 2)
    cv2.line(img, (L, B), (L + 90, B), D.INK, 2)
    cv2.line(img, (L + 150, B), (Rr, B), D.INK, 2)
    cv2.line(img, (Rr, T), (Rr, B), D.INK, 2)
    cv2.line(img, (L, T), (L, (T + B) // 2 - 10), D.INK, 2)          # battery on the left side
    cv2.line(img, (L - 16, (T + B) // 2 - 10), (L + 16, (T + B) // 2 - 10), D.INK, 3)
    cv2.line(img, (L - 8, (T + B) // 2 + 4), (L + 8, (T + B) // 2 + 4), D.INK, 3)
    cv2.line(img, (L, (T + B) // 2 + 4), (L, B), D.INK, 2)
    D.text(img, f"{p['supply_v']:.1f} V", (L + 14, (T + B) // 2 + 4), 0.45)
    end = (L + 150, B) if closed else (L + 140, B - 40)                 # the switch lever
    cv2.line(img, (L + 90, B), end, D.ACCENT, 3, cv2.LINE_AA)
    D.text(img, "S", (L + 112, B + 22), 0.5)
    for k, r in enumerate(p["r_kohm"]):                                  # resistors on the top wire
        cx = L + 90 + k * 110
        zz = [(cx + 6 * j, T + (8 if j % 2 else -8) * (0 < j < 8)) for j in range(9)]
        cv2.rectangle(img, (cx - 2, T - 10), (cx + 50, T + 10), (250, 250, 246), -1)
        cv2.polylines(img, [np.array(zz, np.int32)], False, D.INK, 2, cv2.LINE_AA)
        D.text(img, f"{r:.0f} kOhm" if p["show_r"] else "R", (cx, T - 16), 0.42)
    cy = (T + B) // 2
    cv2.rectangle(img, (Rr - 14, cy - 12), (Rr + 14, cy + 12), (250, 250, 246), -1)
    cv2.line(img, (Rr - 16, cy - 6), (Rr + 16, cy - 6), D.INK, 3)
    cv2.line(img, (Rr - 16, cy + 6), (Rr + 16, cy + 6), D.INK, 3)
    D.text(img, "C" if p["show_r"] else f"C = {p['c_uf']:.0f} uF", (Rr - 40 if p["show_r"] else Rr - 120, cy - 16),
           0.42)
    D.label_box(img, f"V(C) = {vc:5.2f} V", (L + 60, B + 44), 0.5, D.BLUE)
    D.label_box(img, f"I = {i_ma:5.2f} mA", (L + 230, B + 44), 0.5, D.ACCENT)
    D.clock(img, t, lay)
