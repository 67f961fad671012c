"""Embedded sample world: a small library of rendered lecture-like videos. A documented STAND-IN.

It replaces YouTube search and download when `settings.search_source == "sample"`, so the whole factory runs
offline. The videos are synthetic animations (sorting, graph search, oscillators, projectiles, titrations,
supply/demand shifts, ECG traces, RC circuits, mitosis) with WebVTT captions, YouTube-shaped metadata and a
scene record of what is visibly true. Nothing here measures or imitates model quality; it only gives every
stage real files and known ground truth, plus planted bad items each filter must catch (see planted.py).

Entry points: library.build_library / load_library, search.SampleSearch / SampleDownloader,
render.render_benchmark_lecture.
"""
