"""Per-variable learning-rate and weight-decay multipliers of the reference solvers.

tsn-pytorch's `get_optim_policies` (after Caffe's lr_mult / decay_mult):

| variables                          | lr mult               | decay mult |
|------------------------------------|-----------------------|------------|
| first conv kernel                  | 5 for flow, else 1    | 1          |
| first conv bias                    | 10 for flow, else 2   | 0          |
| other conv / dense kernels         | 1                     | 1          |
| other biases                       | 2                     | 0          |
| BN scale/offset, consensus weights | 1                     | 0          |

`apply_policy` turns raw gradients into the ones to hand to SGD with the
base learning rate: ``(g + weight_decay * decay_mult * w) * lr_mult`` — for
(momentum) SGD scaling the gradient by m is scaling the learning rate by m,
and Caffe adds weight decay to the gradient before the rate is applied.
"""
import dataclasses

from tsn_tf.cross_modality import first_conv
from tsn_tf.partial_bn import iter_layers

FLOW_MODALITIES = ("flow", "warped_flow")


@dataclasses.dataclass(frozen=True)
class VariableRule:
    lr_mult: float
    decay_mult: float


def optim_policy(model, modality):
    """Maps every trainable variable path of `model` to its `VariableRule`."""
    flow = modality in FLOW_MODALITIES
    first = first_conv(model)
    rules = {}
    for layer in iter_layers(model):
        for variable in layer.trainable_weights:
            name = variable.path.rsplit("/", 1)[-1]
            is_kernel = name == "kernel" and len(variable.shape) >= 2
            if layer is first:
                rule = VariableRule(5.0 if flow else 1.0, 1.0) if is_kernel else \
                    VariableRule(10.0 if flow else 2.0, 0.0)
            elif is_kernel:
                rule = VariableRule(1.0, 1.0)
            elif name == "bias":
                rule = VariableRule(2.0, 0.0)
            else:
                rule = VariableRule(1.0, 0.0)
            rules[variable.path] = rule
    return rules


def apply_policy(grads, variables, rules, weight_decay):
    """Adds weight decay and scales each gradient by its variable's lr multiplier."""
    adjusted = []
    for grad, variable in zip(grads, variables):
        rule = rules[variable.path]
        if grad is not None:
            if rule.decay_mult:
                grad = grad + weight_decay * rule.decay_mult * variable.value
            grad = grad * rule.lr_mult
        adjusted.append(grad)
    return adjusted
