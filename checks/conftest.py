"""The graders' pytest plugin (options, the `graded` fixture, the grade
table, results.json) is tinycnn/grade/plugin.py: pytest finds its hooks and
fixtures here."""

from tinycnn.grade.plugin import *  # noqa: F403
