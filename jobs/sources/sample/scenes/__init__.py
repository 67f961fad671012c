"""Scene registry of the sample world (stand-in): scene type -> (plan, draw).

plan(spec, rng) -> {"duration_s", "params", "events", "facts", "notes"} (JSON-serialisable, no drawing);
draw(img, t, params, layout) paints the animation box of one frame at video time t.
"""
from __future__ import annotations

from . import algorithms, biology, charts, lab, mechanics

SCENES = {
    "sorting": (algorithms.plan_sorting, algorithms.draw_sorting),
    "graph_search": (algorithms.plan_graph_search, algorithms.draw_graph_search),
    "oscillator": (mechanics.plan_oscillator, mechanics.draw_oscillator),
    "projectile": (mechanics.plan_projectile, mechanics.draw_projectile),
    "titration": (lab.plan_titration, lab.draw_titration),
    "circuit": (lab.plan_circuit, lab.draw_circuit),
    "supply_demand": (charts.plan_supply_demand, charts.draw_supply_demand),
    "ecg": (charts.plan_ecg, charts.draw_ecg),
    "mitosis": (biology.plan_mitosis, biology.draw_mitosis),
    "offtopic": (biology.plan_offtopic, biology.draw_offtopic),
}
