"""The learner's tools: their step folders (workspace), where each step
stands (progress: status), the structure checks on every save, hints a
tier at a time, reset and solution (commands), the layer table as the
grader reads it (summary), the skeletons derived from the references
(skeleton) and grading from a notebook (notebook.grade).

May import everything below: tinycnn.course, tinycnn.paths, tinycnn.posix,
tinycnn.train, tinycnn.sandbox, tinycnn.grader.
"""
