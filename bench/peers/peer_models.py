"""The PyTorch models beside Lumen's registry names, for the model peers. resnet50, res2net50_26w_4s,
vit_small_patch16_224 and volo_d1 (timm's volo_d1_224), and any other timm name, come from timm 1.0.
CAS-ViT, VMamba and RepLKNet are not in timm: they come from the PyTorch modules the Lumen models
are checked against (tools/golden/gen_model_*.py, official parameter layouts), VMamba with the
chunk-parallel scan of chunked_scan.py (or mamba_ssm's CUDA kernel, given as scan=)."""
import os
import sys

from chunked_scan import chunked_selective_scan

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "golden")
TIMM_NAMES = {"volo_d1": "volo_d1_224", "volo_d2": "volo_d2_224", "volo_d3": "volo_d3_224", "volo_d4": "volo_d4_224",
              "volo_d5": "volo_d5_224"}
GOLDEN_MODELS = ("rcvit_xs", "rcvit_s", "rcvit_m", "replknet_31b", "replknet_31l", "vmamba_tiny", "vmamba_small")


def golden_module(name):
    if GOLDEN not in sys.path:
        sys.path.insert(0, GOLDEN)
    return __import__(name)


def build(name, img, num_classes=1000, in_chans=3, scan=None):
    """(model, which implementation it is) for a Lumen registry name."""
    if name.startswith("rcvit_"):
        m = golden_module("gen_model_casvit")
        layers, dims = m.VARIANTS[name]
        return m.RCViT(layers, dims, num_classes=num_classes, in_chans=in_chans), "tools/golden CAS-ViT"
    if name.startswith("replknet_"):
        if in_chans != 3:
            raise ValueError(f"{name}: the golden RepLKNet takes 3 input channels, not {in_chans}")
        m = golden_module("gen_model_replknet")
        kernels, layers, channels, small, dw_ratio = m.VARIANTS[name]
        return m.RepLKNet(kernels, layers, channels, small, dw_ratio=dw_ratio, num_classes=num_classes), "tools/golden RepLKNet"
    if name.startswith("vmamba_"):
        m = golden_module("gen_model_vmamba")
        m.selective_scan_ref = scan or chunked_selective_scan
        _, _, dims, depths, d_state, ssm_ratio, mlp_ratio, v0 = next(p for p in m.PUBLISHED if p[0] == name)
        model = m.VSSM(dims, depths, d_state, ssm_ratio, mlp_ratio, v0, num_classes=num_classes, in_chans=in_chans)
        return model, "tools/golden VMamba, " + ("mamba_ssm scan" if scan else "chunked torch scan")
    from timm_import import import_timm
    timm, note = import_timm()
    timm_name = TIMM_NAMES.get(name, name)
    kwargs = {"img_size": img} if timm_name.startswith(("vit_", "volo_", "deit", "eva", "beit")) else {}
    model = timm.create_model(timm_name, pretrained=False, num_classes=num_classes, in_chans=in_chans, **kwargs)
    return model, f"timm {timm.__version__} {timm_name}{note}"
