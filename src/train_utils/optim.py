"""SGD with the reference parameter groups (TSM `get_optim_policies`), and partial BN."""
import mindspore as ms
from mindspore import nn

CLASSIFIER_PREFIX = 'new_fc.'
BN_LEAVES = ('gamma', 'beta')

# group -> (lr multiplier, weight decay on?)
GROUPS = {
    'weight': (1, True),            # conv and dense weights
    'bias': (2, False),             # biases
    'bn': (1, False),               # BatchNorm gamma / beta
    'classifier_weight': (5, True),  # new_fc.weight when training from ImageNet
    'classifier_bias': (10, False),  # new_fc.bias when training from ImageNet
}


def group_of(name, from_imagenet):
    """The GROUPS key of a trainable parameter, from its name."""
    leaf = name.rsplit('.', 1)[-1]
    if leaf in BN_LEAVES:
        return 'bn'
    if from_imagenet and name.startswith(CLASSIFIER_PREFIX):
        return 'classifier_' + leaf
    if leaf == 'bias':
        return 'bias'
    if leaf == 'weight':
        return 'weight'
    raise ValueError(f"no optimizer group for parameter {name!r}")


def create_param_groups(params, lr, weight_decay, from_imagenet):
    """MindSpore group dicts: per-step `lr` (array) times the group's multiplier, decay only where the recipe has it.

    from_imagenet: the new classifier learns faster (weight x5, bias x10) than the pretrained backbone.
    """
    members = {}
    for p in params:
        members.setdefault(group_of(p.name, from_imagenet), []).append(p)
    groups = []
    for key, (mult, decay) in GROUPS.items():
        if key in members:
            groups.append({'params': members[key], 'lr': ms.Tensor(lr * mult),
                           'weight_decay': weight_decay if decay else 0.0})
    return groups


def create_optimizer(net, lr, *, momentum=0.9, weight_decay=5e-4, from_imagenet=False):
    """SGD momentum over the trainable parameters of `net`; `lr` is the per-step schedule (a float32 array)."""
    groups = create_param_groups(net.trainable_params(), lr, weight_decay, from_imagenet)
    return nn.Momentum(groups, learning_rate=ms.Tensor(lr), momentum=momentum)


def freeze_bn_except_first(net):
    """Partial BN (TSN): every BatchNorm but the first uses and keeps its ImageNet statistics and affine values.

    Returns the names of the frozen cells. Call before creating the optimizer (frozen gamma/beta are not trainable).
    """
    frozen = []
    bns = [(name, cell) for name, cell in net.cells_and_names() if isinstance(cell, nn.BatchNorm2d)]
    for name, cell in bns[1:]:
        cell.use_batch_statistics = False
        cell.gamma.requires_grad = False
        cell.beta.requires_grad = False
        frozen.append(name)
    return frozen
