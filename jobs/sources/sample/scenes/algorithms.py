"""Sorting and graph-search scenes of the sample world (stand-in): answers need watching the steps unfold."""
from __future__ import annotations

import math

import cv2
import numpy as np

from .. import draw as D
from ..facts import BASIC, KEP, KIR, fact, int_distractors, pick
from ..spec import INTRO_S

SORTS = ["Bubble sort", "Insertion sort", "Selection sort", "Merge sort", "Quicksort", "Heapsort", "Shell sort",
         "Counting sort", "Radix sort", "Cocktail shaker sort", "Gnome sort", "Bucket sort"]
SEARCHES = ["Breadth-first search", "Depth-first search", "Dijkstra's algorithm", "A* search", "Bellman-Ford algorithm",
            "Prim's algorithm", "Kruskal's algorithm", "Topological sort", "Iterative deepening search",
            "Bidirectional search", "Best-first search", "Floyd-Warshall algorithm"]
CMP_S, SWAP_S = 0.6, 1.0


# ------------------------------------------------------------------------------------------------ sorting

def _sort_ops(alg: str, a: list[int]) -> list[tuple[str, int, int]]:
    a, ops, n = list(a), [], len(a)
    if alg == "Bubble sort":
        for end in range(n - 1, 0, -1):
            for i in range(end):
                ops.append(("cmp", i, i + 1))
                if a[i] > a[i + 1]:
                    a[i], a[i + 1] = a[i + 1], a[i]
                    ops.append(("swap", i, i + 1))
    elif alg == "Insertion sort":                  # the swap-based form: one adjacent swap per inversion
        for k in range(1, n):
            j = k
            while j > 0:
                ops.append(("cmp", j - 1, j))
                if a[j - 1] <= a[j]:
                    break
                a[j - 1], a[j] = a[j], a[j - 1]
                ops.append(("swap", j - 1, j))
                j -= 1
    else:                                          # selection sort
        for i in range(n - 1):
            m = i
            for j in range(i + 1, n):
                ops.append(("cmp", m, j))
                if a[j] < a[m]:
                    m = j
            if m != i:
                a[i], a[m] = a[m], a[i]
                ops.append(("swap", i, m))
    return ops


def plan_sorting(spec, rng: np.random.Generator) -> dict:
    v = spec.options.get("variant", 0)
    alg = {0: "Bubble sort", 1: "Insertion sort", 2: "Selection sort"}.get(v) or str(rng.choice(SORTS[:2]))
    n = int(rng.integers(6, 9))
    while True:
        if v == 4:
            arr = [int(x) for x in rng.integers(1, 7, size=n)]      # duplicates: stability is visible
        else:
            arr = [int(x) for x in rng.permutation(np.arange(1, 10))[:n]]
        ops = _sort_ops(alg, arr)
        if sum(op[0] == "swap" for op in ops) >= 4:
            break
    t, timeline, events, state = INTRO_S + 2.0, [], [], list(arr)
    swaps = []
    for kind, i, j in ops:
        dur = SWAP_S if kind == "swap" else CMP_S
        timeline.append([kind, i, j, round(t, 3), round(t + dur, 3)])
        if kind == "swap":
            swaps.append((state[i], state[j], t))
            events.append({"t": round(t, 2), "what": f"values {state[i]} and {state[j]} swap places "
                                                    f"(positions {i + 1} and {j + 1})"})
            state[i], state[j] = state[j], state[i]
        t += dur
    events.append({"t": round(t, 2), "what": f"array is sorted: {state}"})
    duration = float(min(120, max(30, math.ceil(t + 3))))
    inv = sum(1 for x in range(n) for y in range(x + 1, n) if arr[x] > arr[y])
    facts = [
        fact("swaps", BASIC, "How many swaps does the animation perform before the array is sorted?",
             str(len(swaps)), int_distractors(len(swaps), rng), [
                 ("Each swap is shown by two bars turning red and exchanging places.", "video"),
                 (f"Counting them from start to end gives {len(swaps)}.", "video")],
             [(INTRO_S, t)]),
        fact("first_swap", BASIC, "Which two values are exchanged in the first swap shown?",
             _pair(swaps[0][0], swaps[0][1]),
             list(rng.permutation([_pair(x, y) for x in range(1, 10) for y in range(x + 1, 10)]))[:14], [
                 (f"The first red pair to exchange places holds {_pair(swaps[0][0], swaps[0][1])}.", "video")],
             [(swaps[0][2], swaps[0][2] + SWAP_S)]),
    ]
    if v in (3, 4):
        facts.append(fact("algorithm", KEP, "Which sorting algorithm does the animation demonstrate?", alg,
                          pick(SORTS, alg, rng), [
                              ("The animation compares and swaps only neighbouring bars." if alg != "Selection sort"
                               else "Each pass scans for the minimum and swaps it once.", "video"),
                              (_alg_hint(alg), "knowledge")], [(INTRO_S, t)]))
    else:
        facts.append(fact("inversions", KEP, "How many inversions does the initial array contain?", str(inv),
                          int_distractors(inv, rng), [
                              (f"The initial array shown is {arr}.", "video"),
                              ("An inversion is a pair of positions i < j with a[i] > a[j].", "knowledge"),
                              (f"Counting such pairs gives {inv}.", "knowledge")], [(INTRO_S, INTRO_S + 2)]))
    worst = n // 2 if alg == "Selection sort" else n * (n - 1) // 2
    facts.append(fact("reversed_swaps", KIR, "If the same algorithm sorted a reversed array with as many elements "
                      "as shown, how many swaps would it perform?", str(worst), int_distractors(worst, rng, lo=1), [
                          (f"The animation sorts {n} bars.", "video"),
                          (f"The swap pattern identifies the algorithm as {alg.lower()}.", "video"),
                          (_worst_hint(alg, n), "knowledge"),
                          (f"So it performs {worst} swaps.", "knowledge")], [(INTRO_S, t)]))
    return {"duration_s": duration, "facts": facts, "events": events,
            "params": {"algorithm": alg, "array": arr, "timeline": timeline, "n": n},
            "notes": ["Watch the red pairs.", "Bars are labelled with their values."]}


def _pair(x, y) -> str:
    return f"{min(x, y)} and {max(x, y)}"


def _alg_hint(alg: str) -> str:
    return {"Bubble sort": "Repeated passes of adjacent swaps that push the largest value to the end are bubble sort.",
            "Insertion sort": "Moving each new element left by adjacent swaps until it fits is insertion sort."}.get(
        alg, "One swap per pass placing the minimum is selection sort.")


def _worst_hint(alg: str, n: int) -> str:
    if alg == "Selection sort":
        return "Selection sort on a reversed array needs one swap per mirrored pair, i.e. floor(n/2)."
    return "Adjacent-swap sorts remove one inversion per swap; a reversed array has n(n-1)/2 inversions."


def draw_sorting(img, t: float, p: dict, lay: D.Layout) -> None:
    x0, y0, x1, y1 = lay.box
    state, hi, frac = list(p["array"]), None, 0.0
    for kind, i, j, a, b in p["timeline"]:
        if t >= b:
            if kind == "swap":
                state[i], state[j] = state[j], state[i]
        elif t >= a:
            hi, frac = (kind, i, j), (t - a) / (b - a)
            break
        else:
            break
    n = len(state)
    w = (x1 - x0 - 40) / n
    pos = [x0 + 20 + k * w for k in range(n)]
    draw_pos = list(pos)
    if hi and hi[0] == "swap":
        _, i, j = hi
        draw_pos[i] = pos[i] + (pos[j] - pos[i]) * frac
        draw_pos[j] = pos[j] + (pos[i] - pos[j]) * frac
    for k, val in enumerate(state):
        color = (90, 120, 170)
        if hi and k in (hi[1], hi[2]):
            color = D.ACCENT if hi[0] == "swap" else D.BLUE
        h = 20 + val * (y1 - y0 - 80) / 9
        cv2.rectangle(img, (int(draw_pos[k]) + 4, int(y1 - 30 - h)), (int(draw_pos[k] + w) - 4, y1 - 30), color, -1)
        D.text(img, str(val), (draw_pos[k] + w / 2 - 5, y1 - 12), 0.5)


# ------------------------------------------------------------------------------------------------ graph search

STEP_S = 3.0


def _traverse(adj: dict, alg: str) -> tuple[list[str], dict, list[str]]:
    """Visit order, parent of each node, and the start node of each component (neighbours alphabetical)."""
    order, parent, starts = [], {}, []
    for s in sorted(adj):
        if s in parent:
            continue
        starts.append(s)
        parent[s] = None
        if alg.startswith("Breadth"):
            queue = [s]
            while queue:
                u = queue.pop(0)
                order.append(u)
                for w in sorted(adj[u]):
                    if w not in parent:
                        parent[w] = u
                        queue.append(w)
        else:
            def dfs(u):
                order.append(u)
                for w in sorted(adj[u]):
                    if w not in parent:
                        parent[w] = u
                        dfs(w)
            dfs(s)
    return order, parent, starts


def _depth(parent: dict, u: str) -> int:
    d = 0
    while parent[u] is not None:
        u, d = parent[u], d + 1
    return d


def plan_graph_search(spec, rng: np.random.Generator) -> dict:
    v = spec.options.get("variant", 0)
    alg = SEARCHES[1] if v == 1 else SEARCHES[0] if v in (0, 2, 4) else str(rng.choice(SEARCHES[:2]))
    names = [chr(65 + k) for k in range(int(rng.integers(7, 9)))]
    ang = np.sort(rng.uniform(0, 2 * np.pi, len(names)))
    pts = {nm: [0.5 + 0.38 * math.cos(a), 0.5 + 0.38 * math.sin(a)] for nm, a in zip(names, ang)}
    split = len(names) - 3 if v == 4 else len(names)          # variant 4: two components
    edges = set()
    for part in (names[:split], names[split:]):
        for k in range(1, len(part)):
            edges.add(tuple(sorted((part[k], part[int(rng.integers(0, k))]))))
        for _ in range(len(part) // 3):
            a, b = rng.choice(len(part), 2, replace=False)
            edges.add(tuple(sorted((part[a], part[b]))))
    adj = {nm: set() for nm in names}
    for a, b in edges:
        adj[a].add(b)
        adj[b].add(a)
    order, parent, starts = _traverse(adj, alg)
    t_visit = {u: INTRO_S + 2.0 + k * STEP_S for k, u in enumerate(order)}
    events = [{"t": t_visit[u], "what": f"node {u} visited" + (f" from {parent[u]}" if parent[u] else " (start)")}
              for u in order]
    end = t_visit[order[-1]] + STEP_S
    duration = float(max(30, math.ceil(end + 2)))
    other = _traverse(adj, SEARCHES[1] if alg == SEARCHES[0] else SEARCHES[0])[0]
    perms = dict.fromkeys([", ".join(other), ", ".join(order[:1] + order[1:][::-1])])   # ordered: no set()
    while len(perms) < 14:
        perms[", ".join(order[:1] + [str(x) for x in rng.permutation(order[1:])])] = None
    answer = ", ".join(order)
    tree_depth = max(_depth(parent, u) for u in names)
    facts = [fact("order", BASIC, "In what order are the nodes highlighted as visited?", answer,
                  [p for p in perms if p != answer], [
                      (f"Node {order[0]} lights up first; each later node lights up along a highlighted edge.", "video"),
                      (f"Reading the highlights in time order gives {answer}.", "video")],
                  [(t_visit[order[0]], end)])]
    if v == 4:
        facts.append(fact("components", KEP, "How many connected components does the graph have, judging from "
                          "how often the traversal restarts?", str(len(starts)), int_distractors(len(starts), rng, 1), [
                              ("The traversal restarts once at a node no edge reaches.", "video"),
                              ("Each restart of a full traversal starts a new connected component.", "knowledge")],
                          [(INTRO_S, end)]))
    elif v in (2, 3):
        facts.append(fact("algorithm", KEP, "Which graph traversal algorithm is being run?", alg,
                          pick(SEARCHES, alg, rng), [
                              ("Nodes are visited level by level from the start." if alg == SEARCHES[0] else
                               "The traversal follows one branch as deep as it can before backtracking.", "video"),
                              ("Level-by-level order is breadth-first; deepest-first is depth-first search.",
                               "knowledge")], [(INTRO_S, end)]))
    else:
        far = order[-1]
        d = _depth(parent, far)
        facts.append(fact("depth_last", KEP, f"How many tree edges separate node {far} from the start node in the "
                          "search tree drawn by the highlighted edges?", str(d), int_distractors(d, rng, 1), [
                              (f"Following highlighted edges back from {far} reaches {order[0]}.", "video"),
                              ("Depth in a search tree counts the tree edges on that path.", "knowledge")],
                          [(t_visit[order[0]], end)]))
    facts.append(fact("tree_depth", KIR, "What is the depth of the search tree built by the traversal (the most "
                      "tree edges from a start node to any node)?", str(tree_depth),
                      int_distractors(tree_depth, rng, 1), [
                          ("Each newly visited node is reached along one highlighted edge from a visited node.", "video"),
                          ("Those edges form the search tree; its depth is the longest root-to-node path.", "knowledge"),
                          (f"The longest such path has {tree_depth} edges.", "knowledge")], [(INTRO_S, end)]))
    return {"duration_s": duration, "facts": facts, "events": events,
            "params": {"algorithm": alg, "pts": pts, "edges": sorted(edges), "order": order,
                       "parent": parent, "t_visit": t_visit},
            "notes": ["Neighbours are taken in alphabetical order.", "Green: visited."]}


def draw_graph_search(img, t: float, p: dict, lay: D.Layout) -> None:
    x0, y0, x1, y1 = lay.box
    def xy(nm):
        px, py = p["pts"][nm]
        return int(x0 + 20 + px * (x1 - x0 - 40)), int(y0 + 10 + py * (y1 - y0 - 20))
    visited = {u for u in p["order"] if p["t_visit"][u] <= t}
    tree = {(u, p["parent"][u]) for u in visited if p["parent"][u]}
    for a, b in p["edges"]:
        on = (a, b) in tree or (b, a) in tree
        cv2.line(img, xy(a), xy(b), D.ACCENT if on else D.GREY, 3 if on else 1, cv2.LINE_AA)
    for nm in p["pts"]:
        c = D.GREEN if nm in visited else (235, 235, 235)
        cv2.circle(img, xy(nm), 15, c, -1, cv2.LINE_AA)
        cv2.circle(img, xy(nm), 15, D.INK, 1, cv2.LINE_AA)
        D.text(img, nm, (xy(nm)[0] - 6, xy(nm)[1] + 6), 0.55)
