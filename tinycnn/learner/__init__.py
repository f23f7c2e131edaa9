"""The learner's tools: where each step stands (status), the structure
checks on every save (watch), hints a tier at a time, reset and
solution (loop), the layer table as the grader reads it (summary), the
skeletons derived from the references (skeleton) and grading from a
notebook (loop.grade).

May import everything below: tinycnn.course, tinycnn.paths, tinycnn.posix,
tinycnn.train, tinycnn.sandbox, tinycnn.grade.
"""
