"""Grader for step i2: one test per check that tinycnn/course.py
lists for i2; the rules are in course.CHECKS and in the lesson."""

from tinycnn.grade.plugin import make_tests

globals().update(make_tests("i2"))
