"""Goldens for optimizers, LR schedules, gradient clipping and EMA (dev.lumen.optim).

Single updates of torch.optim.SGD / Adam / AdamW (a few steps each, so momentum buffers and
bias corrections are exercised), clip_grad_norm_ / clip_grad_value_, torch's LambdaLR and
StepLR, timm ModelEmaV2's update formula, and 20-step trajectories of a 6-8-3 MLP trained
with SGD-nesterov and AdamW under timm's warmup-cosine schedule (written out here from timm's
formula, since timm is not installed).
"""
import math

import torch
from golden import save, engine_golden

torch.manual_seed(0)
s = {}


# ---------------------------------------------------------------- single updates

def run_updates(name, make_opt, shapes, scales):
    """Steps an optimizer over fixed gradients; saves params before/after each step and the final state."""
    params = [torch.randn(*sh).requires_grad_(True) for sh in shapes]
    for i, p in enumerate(params):
        s[f"{name}.param{i}.init"] = p.detach().clone()
    opt = make_opt(params)
    for k, sc in enumerate(scales):
        for i, p in enumerate(params):
            g = torch.randn(p.shape) * sc
            s[f"{name}.param{i}.grad{k}"] = g.clone()
            p.grad = g
        opt.step()
        for i, p in enumerate(params):
            s[f"{name}.param{i}.step{k}"] = p.detach().clone()
    for i, p in enumerate(params):
        for key, v in opt.state[p].items():
            if torch.is_tensor(v) and v.dim() > 0:
                s[f"{name}.param{i}.state.{key}"] = v.detach().clone()


SHAPES = [(5, 7), (13,)]
SCALES = [2.0, 0.1, 0.1, 1.0]  # shrinking gradients make amsgrad's running max matter
run_updates("sgd_plain", lambda ps: torch.optim.SGD(ps, lr=0.1), SHAPES, SCALES)
run_updates("sgd_momentum", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01), SHAPES, SCALES)
run_updates("sgd_dampening", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.25, weight_decay=0.01),
            SHAPES, SCALES)
run_updates("sgd_nesterov", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
            SHAPES, SCALES)
run_updates("adam", lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.99), weight_decay=0.05), SHAPES, SCALES)
run_updates("adam_amsgrad", lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.99), weight_decay=0.05, amsgrad=True),
            SHAPES, SCALES)
run_updates("adamw", lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.9, 0.99), weight_decay=0.05), SHAPES, SCALES)
run_updates("adamw_amsgrad", lambda ps: torch.optim.AdamW(ps, lr=0.01, betas=(0.9, 0.99), weight_decay=0.05, amsgrad=True),
            SHAPES, SCALES)
run_updates("adamw_groups", lambda ps: torch.optim.AdamW(
    [{"params": [ps[0]], "lr": 0.01, "weight_decay": 0.1}, {"params": [ps[1]], "lr": 0.003, "weight_decay": 0.0}]),
    SHAPES, SCALES)
run_updates("sgd_groups", lambda ps: torch.optim.SGD(
    [{"params": [ps[0]], "lr": 0.05, "weight_decay": 0.02}, {"params": [ps[1]], "lr": 0.2}],
    lr=0.1, momentum=0.9, nesterov=True), SHAPES, SCALES)

# ---------------------------------------------------------------- clipping

CLIP_SHAPES = [(4, 5), (7,), (3, 3, 2)]
for name, max_norm, norm_type in [("clip_norm2", 1.0, 2.0), ("clip_norm2_noop", 100.0, 2.0),
                                  ("clip_norm_inf", 0.5, math.inf), ("clip_norm1", 2.0, 1.0), ("clip_norm3", 1.5, 3.0)]:
    ps = [torch.zeros(*sh, requires_grad=True) for sh in CLIP_SHAPES]
    for i, p in enumerate(ps):
        p.grad = torch.randn(p.shape)
        s[f"{name}.grad{i}.in"] = p.grad.clone()
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
    s[f"{name}.total"] = total.detach().reshape(1).to(torch.float64)
    for i, p in enumerate(ps):
        s[f"{name}.grad{i}.out"] = p.grad.clone()
ps = [torch.zeros(*sh, requires_grad=True) for sh in CLIP_SHAPES]
for i, p in enumerate(ps):
    p.grad = torch.randn(p.shape)
    s[f"clip_value.grad{i}.in"] = p.grad.clone()
torch.nn.utils.clip_grad_value_(ps, 0.3)
for i, p in enumerate(ps):
    s[f"clip_value.grad{i}.out"] = p.grad.clone()

# ---------------------------------------------------------------- schedulers (torch's own)

def lrs_of(make_sched, base, epochs):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base)
    sched = make_sched(opt)
    out = [opt.param_groups[0]["lr"]]
    for _ in range(epochs):
        opt.step()
        sched.step()
        out.append(opt.param_groups[0]["lr"])
    return torch.tensor(out, dtype=torch.float64)


EPOCHS, LRF = 10, 0.01
yolo = lambda x: ((1 - math.cos(x * math.pi / EPOCHS)) / 2) * (LRF - 1) + 1
s["lambda_lr.lrs"] = lrs_of(lambda o: torch.optim.lr_scheduler.LambdaLR(o, yolo), 0.1, 12)
s["step_lr.lrs"] = lrs_of(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 0.1, 11)

# ---------------------------------------------------------------- EMA (timm ModelEmaV2's update)

def ema_run(name, decay, warmup):
    model = {"fc.weight": torch.randn(4, 3), "fc.bias": torch.randn(3), "bn.running_mean": torch.randn(3),
             "bn.num_batches_tracked": torch.tensor(0, dtype=torch.int64)}
    for k, v in model.items():
        s[f"{name}.init.{k}"] = v.clone()
    ema = {k: v.clone() for k, v in model.items()}
    for t in range(3):
        for k in model:
            if model[k].is_floating_point():
                model[k] = model[k] + 0.5 * torch.randn(model[k].shape)
            else:
                model[k] = model[k] + 1
            s[f"{name}.model{t}.{k}"] = model[k].clone()
        d = min(decay, (1 + t) / (10 + t)) if warmup else decay
        for k in ema:
            ema[k].copy_(d * ema[k] + (1. - d) * model[k])  # ModelEmaV2.update
            s[f"{name}.ema{t}.{k}"] = ema[k].clone()


ema_run("ema", 0.9, False)
ema_run("ema_warmup", 0.99, True)

# ---------------------------------------------------------------- 20-step MLP trajectories

def timm_cosine(t, base, t_initial, lr_min, warmup_t, warmup_lr_init):
    """timm CosineLRScheduler._get_lr, one cycle, no warmup prefix."""
    if t < warmup_t:
        return warmup_lr_init + t * ((base - warmup_lr_init) / warmup_t)
    if t >= t_initial:
        return lr_min
    return lr_min + 0.5 * (base - lr_min) * (1 + math.cos(math.pi * t / t_initial))


STEPS, B = 20, 5
w1, b1 = torch.randn(8, 6) * 0.4, torch.randn(8) * 0.1
w2, b2 = torch.randn(3, 8) * 0.4, torch.randn(3) * 0.1
xs, ys = torch.randn(STEPS, B, 6), torch.randn(STEPS, B, 3)
s["mlp.w1"], s["mlp.b1"], s["mlp.w2"], s["mlp.b2"] = w1, b1, w2, b2
s["mlp.x"], s["mlp.y"] = xs, ys


def trajectory(name, make_opt, base, wd):
    ps = {k: v.clone().requires_grad_(True) for k, v in [("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2)]}
    # timm-style groups: biases without weight decay first, then the weights.
    opt = make_opt([{"params": [ps["b1"], ps["b2"]], "weight_decay": 0.0},
                    {"params": [ps["w1"], ps["w2"]], "weight_decay": wd}])
    sched = lambda t: timm_cosine(t, base, t_initial=STEPS, lr_min=1e-4, warmup_t=3, warmup_lr_init=1e-3)
    for g in opt.param_groups:
        g["lr"] = sched(0)
    traj, lrs = [], []
    for k in range(STEPS):
        opt.zero_grad(set_to_none=True)
        h = torch.relu(xs[k] @ ps["w1"].t() + ps["b1"])
        out = h @ ps["w2"].t() + ps["b2"]
        loss = ((out - ys[k]) ** 2).mean()
        loss.backward()
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        for g in opt.param_groups:
            g["lr"] = sched(k + 1)
        traj.append(torch.cat([ps[n].detach().reshape(-1) for n in ("w1", "b1", "w2", "b2")]))
        if k == 9:
            for i, p in enumerate([ps["b1"], ps["b2"], ps["w1"], ps["w2"]]):
                for key, v in opt.state[p].items():
                    if torch.is_tensor(v) and v.dim() > 0:
                        s[f"{name}.state10.{i}.{key}"] = v.detach().clone()
    s[f"{name}.traj"] = torch.stack(traj)
    s[f"{name}.lrs"] = torch.tensor(lrs, dtype=torch.float64)


trajectory("traj_sgd", lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9, nesterov=True), 0.1, 0.01)
trajectory("traj_adamw", lambda g: torch.optim.AdamW(g, lr=0.01), 0.01, 0.05)

save(engine_golden("optim"), s, {"torch": torch.__version__})
