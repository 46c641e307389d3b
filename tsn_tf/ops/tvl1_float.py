"""Float32 helpers that keep OpenCV's rounding: C casts and sums in a fixed order.

Grappler's arithmetic optimizer (on by default in `tf.function`) rewrites trees of
Add ops into one AddN with its own input order, which changes float32 rounding.
It leaves Sub chains alone, so an ordered sum a + b + c is written here as
(a - (-b)) - (-c), with the negated terms computed exactly (negated weights).
"""
import struct


def f32(value):
    """Round a Python float to the nearest float32 (C's `(float)` cast)."""
    return struct.unpack("f", struct.pack("f", value))[0]


def cv_round(value):
    """cvRound / saturate_cast<int>(double): nearest integer, ties to even."""
    return int(round(value))


def ordered_sum(first, negated_rest):
    """first + r1 + r2 + ... evaluated left to right, given -r1, -r2, ... (exact)."""
    total = first
    for term in negated_rest:
        total = total - term
    return total
