"""Grader for step i0: the baseline, < 20K parameters, >= 98.0% in 1 epoch."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinycnn import grading as g

SPEC = g.SPECS["i0"]


def test_builds(step):
    """Net() builds and runs a forward pass"""
    g.check_builds(step)


def test_params(step):
    """fewer than 20,000 parameters"""
    g.check_params(step, SPEC)


@settings(max_examples=8, deadline=None)
@given(batch=st.integers(1, 64))
def test_output_shape(step, batch):
    """output is (B, 10) for any batch size"""
    g.check_output(step, batch)


def test_shape_table(step):
    """declared layer_shapes() match the forward pass"""
    g.check_shapes(step)


def test_epochs(step):
    """recipe stays within 1 epoch"""
    g.check_epochs(step, SPEC)


@pytest.mark.slow
def test_accuracy(step, device, retrain):
    """final test accuracy >= 98.0%"""
    g.check_accuracy(step, SPEC, device, retrain)
