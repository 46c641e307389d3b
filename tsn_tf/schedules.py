"""Learning-rate schedules of the reference solvers, plus warmup and cosine.

`step` / `multistep`: lr * decay^(number of boundaries passed), as Caffe's
"multistep" policy (UCF101 RGB: 0.001, x0.1 at 1.5k of 3.5k iterations).
`cosine`: half-cosine from lr to 0 over `total_steps`. Any schedule can
start with a linear warmup from 0 over `warmup_steps`.
"""
import math

import keras
from keras import ops

SCHEDULES = ("constant", "multistep", "cosine")


@keras.saving.register_keras_serializable(package="tsn_tf")
class TSNSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) for the `kind` in SCHEDULES (step = optimizer iterations)."""

    def __init__(self, learning_rate, kind="multistep", boundaries=(), decay=0.1,
                 total_steps=None, warmup_steps=0):
        if kind not in SCHEDULES:
            raise ValueError(f"Unknown schedule. Expected one of {SCHEDULES}. Received: kind={kind!r}")
        if kind == "cosine" and not total_steps:
            raise ValueError(f"The cosine schedule needs total_steps > 0. Received: {total_steps}")
        if list(boundaries) != sorted(boundaries):
            raise ValueError(f"Schedule boundaries must increase. Received: boundaries={boundaries}")
        self.learning_rate, self.kind, self.decay = float(learning_rate), kind, float(decay)
        self.boundaries, self.total_steps = tuple(int(b) for b in boundaries), total_steps
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        if self.kind == "multistep":
            passed = sum(ops.cast(step >= boundary, "float32") for boundary in self.boundaries)
            lr = self.learning_rate * ops.power(self.decay, passed)
        elif self.kind == "cosine":
            progress = ops.minimum(step / float(self.total_steps), 1.0)
            lr = 0.5 * self.learning_rate * (1.0 + ops.cos(math.pi * progress))
        else:
            lr = ops.convert_to_tensor(self.learning_rate, "float32")
        if self.warmup_steps:
            lr = lr * ops.minimum(1.0, (step + 1.0) / float(self.warmup_steps))
        return lr

    def get_config(self):
        return {"learning_rate": self.learning_rate, "kind": self.kind,
                "boundaries": list(self.boundaries), "decay": self.decay,
                "total_steps": self.total_steps, "warmup_steps": self.warmup_steps}
