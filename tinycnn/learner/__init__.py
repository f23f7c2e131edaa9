"""The learner's tools: their step folders (workspace), where each step
stands (progress: status), the structure checks on every save, hints a
tier at a time, reset and solution (commands), the layer table as the
grader reads it (summary), the skeletons derived from the references
(skeleton), grading from a notebook (notebook.grade) and two folders
trained on the same seeds and judged by the lessons' rule (compare).

May import everything below: tinycnn.course, tinycnn.paths, tinycnn.posix,
tinycnn.evidence,
tinycnn.train, tinycnn.sandbox, tinycnn.grader.
"""
