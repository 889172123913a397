"""Goldens for the losses (dev.lumen.ops.Losses): forward and gradients, mean reduction."""
import torch
import torch.nn.functional as F
from golden import run_case, save, engine_golden

torch.manual_seed(0)
s = {}

logits = torch.randn(6, 5) * 2
targets = torch.tensor([0, 4, 2, 2, 1, 3])
run_case(s, "cross_entropy", lambda x, t: F.cross_entropy(x, t), [logits, targets])
run_case(s, "cross_entropy_smooth", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1), [logits, targets])
# Large logits: the loss must stay finite (log-sum-exp with the max subtracted).
run_case(s, "cross_entropy_large", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.2),
         [torch.randn(3, 7) * 40, torch.tensor([6, 0, 3])])


def soft_target_ce(x, t):
    """timm's SoftTargetCrossEntropy."""
    return torch.sum(-t * F.log_softmax(x, dim=-1), dim=-1).mean()


soft = torch.softmax(torch.randn(4, 7) * 2, dim=-1)
run_case(s, "soft_target_cross_entropy", soft_target_ce, [torch.randn(4, 7) * 2, soft])

run_case(s, "bce_with_logits", F.binary_cross_entropy_with_logits,
         [torch.randn(3, 5) * 4, torch.rand(3, 5)])
run_case(s, "bce_with_logits_large", F.binary_cross_entropy_with_logits,
         [torch.tensor([[60.0, -80.0, 0.5, -0.25]]), torch.tensor([[1.0, 0.0, 0.3, 1.0]])])

save(engine_golden("losses"), s, {"torch": torch.__version__})
