"""Grader for step i4: <= 8,000 parameters, >= 99.4% in <= 15 epochs."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinycnn import grading as g

SPEC = g.SPECS["i4"]


def test_builds(step):
    """Net() builds and runs a forward pass"""
    g.check_builds(step)


def test_params(step):
    """at most 8,000 parameters"""
    g.check_params(step, SPEC)


def test_batchnorm(step):
    """BatchNorm present and used in forward"""
    g.check_batchnorm(step)


def test_dropout(step):
    """Dropout random in train mode, off in eval mode"""
    g.check_dropout(step)


def test_transitions(step):
    """1x1 transition conv after a max-pool"""
    g.check_transitions(step)


def test_gap_head(step):
    """classifier sees a global average, not a flattened map"""
    g.check_gap(step)


@settings(max_examples=8, deadline=None)
@given(batch=st.integers(1, 64))
def test_output_shape(step, batch):
    """output is (B, 10) for any batch size"""
    g.check_output(step, batch)


def test_shape_table(step):
    """declared layer_shapes() match the forward pass"""
    g.check_shapes(step)


def test_epochs(step):
    """recipe stays within 15 epochs"""
    g.check_epochs(step, SPEC)


@pytest.mark.slow
def test_accuracy(step, device, retrain):
    """final test accuracy >= 99.4%"""
    g.check_accuracy(step, SPEC, device, retrain)
