"""The PyTorch side of tools/memory/probe.sh: peak RSS of timm's MODEL in a training step
(AdamW) or an eval forward without grad, at BATCH 224x224, THREADS threads.
Run under the pyenv python3 (PyTorch 2.13, timm 1.0) with MALLOC_MMAP_THRESHOLD_ and
MALLOC_TRIM_THRESHOLD_ set large, as probe.sh does, so glibc keeps freed memory as Lumen's cache does.
    python3 probe_torch.py MODEL train|eval BATCH STEPS THREADS
"""
import resource
import sys
import time
import types

sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
import torch  # noqa: E402

_register_fake = torch.library.register_fake


def _skip_torchvision(op, *args, **kwargs):
    if isinstance(op, str) and op.startswith("torchvision::"):
        return args[0] if args and callable(args[0]) else (lambda f: f)
    return _register_fake(op, *args, **kwargs)


torch.library.register_fake = _skip_torchvision
import timm  # noqa: E402

model_name, mode, batch, steps, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = timm.create_model(model_name, pretrained=False)
train = mode == "train"
model.train(train)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05) if train else None
labels = torch.arange(batch) % 1000
for s in range(steps):
    t0 = time.perf_counter()
    x = torch.randn(batch, 3, 224, 224)
    if train:
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    else:
        with torch.no_grad():
            model(x)
    print(f"step {s}: {time.perf_counter() - t0:.2f} s")
hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(f"torch {torch.__version__} {model_name} {mode} batch {batch}: VmHWM {hwm} MiB")
