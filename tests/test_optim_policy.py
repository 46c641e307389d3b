"""Per-variable lr / decay multipliers against the reference table and a NumPy SGD step."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tsn_tf.model import build_tsn
from tsn_tf.optim_policy import VariableRule, apply_policy, optim_policy

SIZE = 32



@pytest.mark.parametrize("modality, first_kernel, first_bias", [
    ("rgb", VariableRule(1, 1), VariableRule(2, 0)),
    ("flow", VariableRule(5, 1), VariableRule(10, 0)),
])
def test_reference_table(modality, first_kernel, first_bias):
    model = build_tsn(3, backbone="tiny", modality=modality, num_segments=2, input_size=SIZE)
    rules = optim_policy(model, modality)
    by_suffix = {path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1]: rule
                 for path, rule in rules.items()}
    assert by_suffix["conv1/kernel"] == first_kernel
    assert by_suffix["conv1/bias"] == first_bias
    assert by_suffix["conv2/kernel"] == VariableRule(1, 1)
    assert by_suffix["conv1_bn/gamma"] == VariableRule(1, 0)
    assert by_suffix["conv1_bn/beta"] == VariableRule(1, 0)
    dense_rules = [rule for path, rule in rules.items() if "dense" in path]
    assert sorted(dense_rules, key=lambda r: r.lr_mult) == [VariableRule(1, 1), VariableRule(2, 0)]
    assert set(rules) == {w.path for w in model.trainable_weights}  # frozen BN excluded


def test_sgd_step_matches_numpy_reference():
    model = build_tsn(3, backbone="tiny", modality="flow", num_segments=2, input_size=SIZE)
    rules = optim_policy(model, "flow")
    variables = model.trainable_weights
    before = [v.numpy().copy() for v in variables]
    grads = [tf.random.stateless_normal(v.shape, seed=(i, 0)) for i, v in enumerate(variables)]
    lr, momentum, decay = 0.01, 0.9, 5e-4
    optimizer = keras.optimizers.SGD(lr, momentum=momentum)
    optimizer.apply_gradients(zip(apply_policy(grads, variables, rules, decay), variables))
    for variable, old, grad in zip(variables, before, grads):
        rule = rules[variable.path]
        step = (grad.numpy() + decay * rule.decay_mult * old) * rule.lr_mult
        np.testing.assert_allclose(variable.numpy(), old - lr * step, rtol=1e-5, atol=1e-7)


# --- added after mutation testing (tests/scripts/mutation.py) -------------------

def test_warped_flow_first_conv_is_a_flow_first_conv():
    model = build_tsn(3, backbone="tiny", modality="warped_flow", num_segments=2, input_size=SIZE)
    rules = {path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1]: rule
             for path, rule in optim_policy(model, "warped_flow").items()}
    assert (rules["conv1/kernel"], rules["conv1/bias"]) == (VariableRule(5, 1), VariableRule(10, 0))


class _Table(keras.layers.Layer):
    """A 2-D weight that is not a kernel."""

    def build(self, input_shape):
        self.table = self.add_weight(shape=(input_shape[-1], 2), name="table")

    def call(self, inputs):
        return inputs @ self.table


def test_only_kernels_decay_among_2d_variables():
    """A 2-D variable not named kernel is an 'other' weight: lr 1, no decay."""
    inputs = keras.Input((8, 8, 3))
    features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(3, 3)(inputs))
    model = keras.Model(inputs, _Table(name="lookup")(features))
    assert optim_policy(model, "rgb")["lookup/table"] == VariableRule(1, 0)


def test_rules_are_frozen():
    with pytest.raises(AttributeError):
        VariableRule(1, 1).lr_mult = 2
