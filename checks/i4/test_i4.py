"""Grader for step i4: one test per check that tinycnn/course.py
lists for i4; the rules are in course.CHECKS and in the lesson."""

from tinycnn.grade.plugin import make_tests

globals().update(make_tests("i4"))
