"""Oscillator (pendulum / spring) and projectile scenes of the sample world (stand-in).

Periods and flight times are only measurable by watching the motion against the on-screen clock.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from .. import draw as D
from ..facts import BASIC, KEP, KIR, fact, int_distractors, num_distractors, vague
from ..spec import INTRO_S

G = 9.8


# ------------------------------------------------------------------------------------------------ oscillator

def plan_oscillator(spec, rng: np.random.Generator) -> dict:
    v = spec.options.get("variant", 0)
    kind = {0: "pendulum", 1: "spring", 3: "spring"}.get(v) or str(rng.choice(["pendulum", "spring"]))
    T = round(float(rng.uniform(1.2, 2.4)), 1)
    t0 = INTRO_S + 2.0
    n = int(math.ceil(22 / T)) + int(rng.integers(0, 5))
    end = t0 + n * T
    duration = float(min(120, max(30, math.ceil(end + 3 + rng.integers(0, 4)))))
    total = int((duration - t0) // T)                  # complete oscillations in the whole video
    m = round(float(rng.choice([0.2, 0.25, 0.4, 0.5, 0.8, 1.0])), 2)
    L = G * T * T / (4 * math.pi ** 2)
    k = 4 * math.pi ** 2 * m / (T * T)
    bob = "pendulum" if kind == "pendulum" else "mass on the spring"
    events = [{"t": round(t0, 2), "what": f"{bob} released from rest at maximum displacement"}]
    events += [{"t": round(t0 + i * T, 2), "what": f"oscillation {i} complete"} for i in range(1, n + 1)]
    ev = [(t0, end)]
    cnt = fact("count", BASIC, f"How many complete oscillations does the {bob} make between t = {t0:.1f} s and "
               f"t = {end:.1f} s on the on-screen clock?", str(n), int_distractors(n, rng, 1), [
                   (f"At t = {t0:.1f} s the {bob} is released from its extreme position.", "video"),
                   (f"It returns to that extreme {n} times by t = {end:.1f} s.", "video")], ev)
    # loosely worded: the marked interval, the whole video, or every swing (half oscillation) are all defensible
    vague(cnt, f"How many oscillations does the {bob} make?", [str(total), str(2 * n)])
    if v == 2:
        kep = fact("frequency", KEP, "What is the frequency of the oscillation?", f"{1 / T:.2f} Hz",
                   num_distractors(1 / T, "{:.2f} Hz", rng), [
                       (f"{n} complete oscillations take {end - t0:.1f} s on the clock.", "video"),
                       ("Frequency is oscillations per second, f = N / t.", "knowledge"),
                       (f"f = {n} / {end - t0:.1f} = {1 / T:.2f} Hz.", "knowledge")], ev)
    else:
        kep = fact("period", KEP, "What is the period of the oscillation?", f"{T:.1f} s",
                   num_distractors(T, "{:.1f} s", rng), [
                       (f"{n} complete oscillations take {end - t0:.1f} s on the clock.", "video"),
                       ("The period is the time of one complete oscillation, T = t / N.", "knowledge"),
                       (f"T = {end - t0:.1f} / {n} = {T:.1f} s.", "knowledge")], ev)
    if kind == "pendulum":
        kir = fact("length", KIR, "Taking g = 9.8 m/s^2, how long is the pendulum?", f"{L:.2f} m",
                   num_distractors(L, "{:.2f} m", rng), [
                       (f"The measured period is {T:.1f} s.", "video"),
                       ("For a simple pendulum T = 2*pi*sqrt(L/g), so L = g*T^2/(4*pi^2).", "knowledge"),
                       (f"L = 9.8 * {T:.1f}^2 / (4*pi^2) = {L:.2f} m.", "knowledge")], ev)
    else:
        kir = fact("stiffness", KIR, "Using the mass written on the block, what is the spring constant?",
                   f"{k:.1f} N/m", num_distractors(k, "{:.1f} N/m", rng), [
                       (f"The block is labelled m = {m:.2f} kg and the measured period is {T:.1f} s.", "video"),
                       ("For a mass on a spring T = 2*pi*sqrt(m/k), so k = 4*pi^2*m/T^2.", "knowledge"),
                       (f"k = 4*pi^2 * {m:.2f} / {T:.1f}^2 = {k:.1f} N/m.", "knowledge")], ev)
    facts = [cnt, kep, kir]
    if kind == "spring":     # the label stays on the block all video long: one frame shows it
        facts.append(fact("block_mass", BASIC, "What mass is written on the block?", f"{m:.2f} kg",
                          num_distractors(m, "{:.2f} kg", rng), [(f"The block is labelled m = {m:.2f} kg.", "video")],
                          [(INTRO_S, duration)], frames_needed=1))
    return {"duration_s": duration, "facts": facts, "events": events,
            "params": {"kind": kind, "period_s": T, "t0": t0, "mass_kg": m, "length_m": round(L, 4),
                       "k_n_per_m": round(k, 3), "amplitude": 0.35},
            "notes": ["Released from rest.", "Friction is negligible.", "Use the clock to time the motion."]}


def draw_oscillator(img, t: float, p: dict, lay: D.Layout) -> None:
    x0, y0, x1, y1 = lay.box
    cx = (x0 + x1) // 2
    phase = math.cos(2 * math.pi * max(0.0, t - p["t0"]) / p["period_s"])
    cv2.line(img, (cx - 60, y0 + 14), (cx + 60, y0 + 14), D.INK, 3)
    if p["kind"] == "pendulum":
        ang = p["amplitude"] * phase
        rod = int(min(y1 - y0 - 60, 90 + 110 * p["length_m"]))
        bx, by = int(cx + rod * math.sin(ang)), int(y0 + 14 + rod * math.cos(ang))
        cv2.line(img, (cx, y0 + 14), (bx, by), D.INK, 2, cv2.LINE_AA)
        cv2.circle(img, (bx, by), 16, D.ACCENT, -1, cv2.LINE_AA)
    else:
        rest = y0 + 150
        yb = int(rest + 60 * phase)
        coils = 14
        pts = [(cx + (12 if i % 2 else -12) * (0 < i < coils), int(y0 + 14 + (yb - y0 - 14) * i / coils))
               for i in range(coils + 1)]
        cv2.polylines(img, [np.array(pts, np.int32)], False, D.INK, 2, cv2.LINE_AA)
        cv2.rectangle(img, (cx - 34, yb), (cx + 34, yb + 46), D.BLUE, -1)
        D.text(img, f"{p['mass_kg']:.2f} kg", (cx - 30, yb + 28), 0.45, (255, 255, 255))
    D.clock(img, t, lay)


# ------------------------------------------------------------------------------------------------ projectile

def plan_projectile(spec, rng: np.random.Generator) -> dict:
    v = spec.options.get("variant", 0)
    T = float(rng.choice([2.0, 2.5, 3.0, 3.5]))
    th = float(rng.choice([30, 35, 40, 45, 50, 55, 60]) if v != 4 else 45)
    v0 = G * T / (2 * math.sin(math.radians(th)))
    R = v0 * v0 * math.sin(math.radians(2 * th)) / G
    H = G * T * T / 8
    t0 = INTRO_S + 3.0 + 0.5 * int(rng.integers(0, 7))
    duration = float(30 + int(rng.integers(0, 8)))
    events = [{"t": t0, "what": f"ball launched at {th:.0f} degrees"},
              {"t": t0 + T / 2, "what": "ball at maximum height"},
              {"t": t0 + T, "what": f"ball lands {R:.1f} m from the launch point"}]
    ev = [(t0, t0 + T)]
    facts = [
        fact("flight_time", BASIC, "How long is the ball in the air, judging from the clock at launch and at landing?",
             f"{T:.1f} s", num_distractors(T, "{:.1f} s", rng), [
                 (f"The ball leaves the launcher at t = {t0:.1f} s.", "video"),
                 (f"It touches the ground at t = {t0 + T:.1f} s, so it flies {T:.1f} s.", "video")], ev),
        fact("range", KEP, "How far from the launch point does the ball land, read on the ground ruler?",
             f"{R:.0f} m", num_distractors(R, "{:.0f} m", rng), [
                 ("The landing mark lies on the metre ruler along the ground.", "video"),
                 ("Horizontal range is measured from launch point to landing point at the same height.", "knowledge"),
                 (f"The reading is about {R:.0f} m.", "video")], [(t0 + T, duration)]),
    ]
    if v == 3:
        vx = R / T
        facts.append(fact("horizontal_speed", KIR, "What is the ball's horizontal speed during the flight?",
                          f"{vx:.1f} m/s", num_distractors(vx, "{:.1f} m/s", rng), [
                              (f"The ball covers {R:.0f} m horizontally in {T:.1f} s.", "video"),
                              ("Without air resistance the horizontal velocity is constant: v_x = R / T.", "knowledge"),
                              (f"v_x = {R:.1f} / {T:.1f} = {vx:.1f} m/s.", "knowledge")], ev))
    elif v == 1:
        vy = G * T / 2
        facts.append(fact("vertical_speed", KIR, "Taking g = 9.8 m/s^2, what was the vertical component of the "
                          "launch velocity?", f"{vy:.1f} m/s", num_distractors(vy, "{:.1f} m/s", rng), [
                              (f"The flight lasts {T:.1f} s on the clock.", "video"),
                              ("Landing at launch height, T = 2*v_y/g, so v_y = g*T/2.", "knowledge"),
                              (f"v_y = 9.8 * {T:.1f} / 2 = {vy:.1f} m/s.", "knowledge")], ev))
    else:
        facts.append(fact("max_height", KIR, "Taking g = 9.8 m/s^2, what maximum height does the ball reach?",
                          f"{H:.1f} m", num_distractors(H, "{:.1f} m", rng), [
                              (f"The flight lasts {T:.1f} s on the clock.", "video"),
                              ("The rise takes half the flight, and H = g*(T/2)^2/2 = g*T^2/8.", "knowledge"),
                              (f"H = 9.8 * {T:.1f}^2 / 8 = {H:.1f} m.", "knowledge")], ev))
    span = 5 * math.ceil(R * 1.25 / 5)
    return {"duration_s": duration, "facts": facts, "events": events,
            "params": {"angle_deg": th, "v0": round(v0, 4), "flight_s": T, "range_m": round(R, 3),
                       "max_height_m": round(H, 3), "t0": t0, "ruler_m": span},
            "notes": ["Air resistance is negligible.", "The ruler marks metres along the ground."]}


def draw_projectile(img, t: float, p: dict, lay: D.Layout) -> None:
    x0, y0, x1, y1 = lay.box
    gx0, gy = x0 + 30, y1 - 40
    sc = (x1 - x0 - 60) / p["ruler_m"]
    cv2.line(img, (gx0, gy), (x1 - 20, gy), D.INK, 2)
    for m in range(0, p["ruler_m"] + 1, 5):
        X = int(gx0 + m * sc)
        cv2.line(img, (X, gy), (X, gy + 8), D.INK, 1)
        if m % 10 == 0:
            D.text(img, str(m), (X - 6, gy + 22), 0.38)
    th = math.radians(p["angle_deg"])
    cv2.line(img, (gx0, gy), (int(gx0 + 34 * math.cos(th)), int(gy - 34 * math.sin(th))), D.INK, 7)
    ts = min(max(t - p["t0"], 0.0), p["flight_s"])
    vx, vy = p["v0"] * math.cos(th), p["v0"] * math.sin(th)
    sc_y = min(sc, (gy - y0 - 20) / max(p["max_height_m"], 1e-6))
    trail = [(int(gx0 + vx * s * sc), int(gy - (vy * s - G * s * s / 2) * sc_y))
             for s in np.linspace(0, ts, max(2, int(ts * 12)))]
    if ts > 0:
        cv2.polylines(img, [np.array(trail, np.int32)], False, D.GREY, 1, cv2.LINE_AA)
    cv2.circle(img, trail[-1], 8, D.ACCENT, -1, cv2.LINE_AA)
    D.clock(img, t, lay)
