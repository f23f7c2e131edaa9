"""The grader: what the sandbox handed back read as a network (network;
the shapes each op computes: sizes; which axes are positions: positions;
what it carries besides its tensors: carried; the grader's own starting
weights: initial), the checks and their hints (checks, shape_table,
hints, odds), the ordered run of a step's checks (run), training a
submission within its budgets (trainer, bounded, budget), pytest's side
(plugin, with the leaderboard), where a design sits among the recorded
ones (design_map, designs.json) and a class's grades at once (classview).

May import: tinycnn.course, tinycnn.paths, tinycnn.posix, tinycnn.evidence,
tinycnn.train, tinycnn.sandbox. Never learner code: that runs in the sandbox.
"""
