"""The graders' pytest plugin (options, the `graded` fixture, the grade
table, results.json) is tinycnn/grader/plugin.py: pytest finds its hooks and
fixtures here."""

from tinycnn.grader.plugin import *  # noqa: F403
