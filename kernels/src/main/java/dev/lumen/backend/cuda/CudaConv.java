package dev.lumen.backend.cuda;

import dev.lumen.backend.ConvKernels;
import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.Cudnn;
import dev.lumen.cuda.DepthwiseConvCuda;
import dev.lumen.cuda.DepthwiseConvTensorCoreCuda;
import dev.lumen.cuda.KernelArgs;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@link ConvKernels} on the device. Dense and grouped convolutions go to cuDNN with, per
 * shape and dtype, descriptors and one deterministic algorithm per pass chosen once and cached
 * (a training step must give the same bits run to run); workspaces come from the caching
 * allocator. Depth-wise convolutions with an odd square kernel, stride 1 or 2 and "same"
 * padding go to Lumen's own dwconv.cu in F32 and F16 (RepLKNet's 31x31 is where cuDNN is weakest).
 * The bias gradient and im2col/col2im are Lumen's kernels (im2col.cu), all deterministic.
 */
public final class CudaConv implements ConvKernels {
    /** Descriptors and algorithms of one convolution shape; lives as long as the process. */
    private static final class Plan {
        final int dtype;
        final MemorySegment x, w, conv, y, bias;
        final Cudnn.Algo[] algos = new Cudnn.Algo[Cudnn.Pass.values().length];

        Plan(Cudnn dnn, Key k) {
            dtype = cudnnType(k.dtype);
            x = dnn.tensor(dtype, k.n, k.c, k.h, k.w);
            w = dnn.filter(dtype, k.o, k.c / k.groups, k.win.kh(), k.win.kw());
            // F32 and F64 keep full-precision FMA math (no TF32), matching the CPU backend; the
            // 16-bit types accumulate in F32 on tensor cores.
            boolean half = k.dtype == DType.F16 || k.dtype == DType.BF16;
            int compute = k.dtype == DType.F64 ? Cudnn.DATA_DOUBLE : Cudnn.DATA_FLOAT;
            conv = dnn.convolution(k.win.ph(), k.win.pw(), k.win.sh(), k.win.sw(), k.win.dh(), k.win.dw(), compute, k.groups,
                    half ? Cudnn.TENSOR_OP_MATH : Cudnn.FMA_MATH);
            int[] od = dnn.forwardOutputDim(conv, x, w);
            if (od[0] != k.n || od[1] != k.o || od[2] != k.oh || od[3] != k.ow) {
                throw new IllegalArgumentException("conv2d: output [" + k.n + ", " + k.o + ", " + k.oh + ", " + k.ow + "] but cuDNN computes ["
                        + od[0] + ", " + od[1] + ", " + od[2] + ", " + od[3] + "] for " + k.win);
            }
            y = dnn.tensor(dtype, k.n, k.o, k.oh, k.ow);
            bias = dnn.tensor(dtype, 1, k.o, 1, 1);
        }

        synchronized Cudnn.Algo algo(Cudnn dnn, Cudnn.Pass pass) {
            Cudnn.Algo a = algos[pass.ordinal()];
            if (a == null) algos[pass.ordinal()] = a = dnn.deterministicAlgorithm(pass, x, w, conv, y);
            return a;
        }
    }

    /** A convolution's shape: input [n, c, h, w], output [n, o, oh, ow]. */
    private record Key(DType dtype, int n, int c, int h, int w, int o, int oh, int ow, int groups, Window win) {}

    private final CudaContext ctx;
    private final ConcurrentHashMap<Key, Plan> plans = new ConcurrentHashMap<>();

    CudaConv(CudaContext ctx) { this.ctx = ctx; }

    static int cudnnType(DType t) {
        return switch (t) {
            case F32 -> Cudnn.DATA_FLOAT;
            case F64 -> Cudnn.DATA_DOUBLE;
            case F16 -> Cudnn.DATA_HALF;
            case BF16 -> Cudnn.DATA_BFLOAT16;
            default -> throw new IllegalArgumentException("conv2d: " + t + " is not a floating type cuDNN computes in");
        };
    }

    private Plan plan(Tensor x, int o, int oh, int ow, int groups, Window win) {
        int[] s = x.shape();
        if (s[1] % groups != 0 || o % groups != 0) {
            throw new IllegalArgumentException("conv2d: " + s[1] + " input and " + o + " output channels do not split into " + groups + " groups");
        }
        Key k = new Key(x.dtype(), s[0], s[1], s[2], s[3], o, oh, ow, groups, win);
        Plan p = plans.get(k);
        if (p != null) return p;
        return plans.computeIfAbsent(k, key -> new Plan(Cudnn.of(ctx), key));
    }

    private static long ptr(Tensor t, String what) { return CudaTensors.ptr(CudaTensors.requireContiguous(t, what)); }

    /** The depth-wise shape dwconv.cu or dwconv_tc.cu takes, or null when the convolution is not one they cover. */
    private static DepthwiseConvCuda.Shape depthwise(DType t, int n, int c, int h, int w, int o, int groups, Window win) {
        if (t != DType.F32 && t != DType.F16 && t != DType.BF16) return null;
        if (groups != c || o != c || win.kh() != win.kw() || win.kh() % 2 == 0 || win.kh() > 31) return null;
        if (win.sh() != win.sw() || (win.sh() != 1 && win.sh() != 2) || win.dh() != 1 || win.dw() != 1) return null;
        if (win.ph() != win.kh() / 2 || win.pw() != win.kw() / 2) return null;
        return new DepthwiseConvCuda.Shape(n, c, h, w, win.kh(), win.sh(), win.ph());
    }

    /** 16-bit forward and input gradient go to tensor cores where dwconv_tc.cu covers the shape (stride 1). */
    private static boolean onTensorCores(DType t, DepthwiseConvCuda.Shape dw) {
        return dw != null && (t == DType.F16 || t == DType.BF16) && DepthwiseConvTensorCoreCuda.supports(dw);
    }

    /** dwconv.cu's SIMT kernels store f32 and f16; bf16 outside the tensor-core path goes to cuDNN. */
    private static boolean onSimt(DType t, DepthwiseConvCuda.Shape dw) { return dw != null && t != DType.BF16; }

    private static DepthwiseConvTensorCoreCuda.Storage halfStorage(DType t) {
        return t == DType.F16 ? DepthwiseConvTensorCoreCuda.Storage.F16 : DepthwiseConvTensorCoreCuda.Storage.BF16;
    }

    private static DepthwiseConvCuda.Storage storage(DType t) {
        return t == DType.F32 ? DepthwiseConvCuda.Storage.F32 : DepthwiseConvCuda.Storage.F16;
    }

    /** Scratch of bytes, or none (pointer 0) when bytes is 0. */
    private DeviceScratch workspace(long bytes) { return bytes == 0 ? null : DeviceScratch.allocate(ctx, bytes); }

    @Override
    public void conv2d(Tensor x, Tensor weight, Tensor bias, Window win, int groups, Tensor out) {
        int[] s = x.shape(), os = out.shape();
        if (out.numel() == 0) return;
        long xp = ptr(x, "conv2d x"), wp = ptr(weight, "conv2d weight"), op = ptr(out, "conv2d out");
        long bp = bias == null ? 0 : ptr(bias, "conv2d bias");
        DepthwiseConvCuda.Shape dw = depthwise(x.dtype(), s[0], s[1], s[2], s[3], os[1], groups, win);
        if (onTensorCores(x.dtype(), dw)) {
            DepthwiseConvTensorCoreCuda.forward(ctx, halfStorage(x.dtype()), dw, xp, wp, bp, op);
            return;
        }
        if (onSimt(x.dtype(), dw)) {
            DepthwiseConvCuda.forward(ctx, storage(x.dtype()), dw, xp, wp, bp, op);
            return;
        }
        Cudnn dnn = Cudnn.of(ctx);
        Plan p = plan(x, os[1], os[2], os[3], groups, win);
        Cudnn.Algo algo = p.algo(dnn, Cudnn.Pass.FORWARD);
        Cudnn.Scalars k = Cudnn.scalars(p.dtype);
        ctx.bind();
        try (DeviceScratch ws = workspace(algo.workspace())) {
            dnn.convolutionForward(k.one(), p.x, xp, p.w, wp, p.conv, algo.algo(), ws == null ? 0 : ws.ptr(), algo.workspace(),
                    k.zero(), p.y, op);
        }
        if (bias != null) dnn.addTensor(k.one(), p.bias, bp, k.one(), p.y, op);
    }

    @Override
    public void conv2dBackwardInput(Tensor gradOut, Tensor weight, Window win, int groups, Tensor gradIn) {
        int[] s = gradIn.shape(), gs = gradOut.shape();
        if (gradIn.numel() == 0) return;
        long gp = ptr(gradOut, "conv2d gradOut"), wp = ptr(weight, "conv2d weight"), xp = ptr(gradIn, "conv2d gradIn");
        if (gradOut.numel() == 0) {
            gradIn.backend().fill(gradIn, 0);
            return;
        }
        DepthwiseConvCuda.Shape dw = depthwise(gradIn.dtype(), s[0], s[1], s[2], s[3], gs[1], groups, win);
        if (onTensorCores(gradIn.dtype(), dw)) {
            DepthwiseConvTensorCoreCuda.backwardInput(ctx, halfStorage(gradIn.dtype()), dw, gp, wp, xp);
            return;
        }
        if (onSimt(gradIn.dtype(), dw)) {
            DepthwiseConvCuda.backwardInput(ctx, storage(gradIn.dtype()), dw, gp, wp, xp);
            return;
        }
        Cudnn dnn = Cudnn.of(ctx);
        Plan p = plan(gradIn, gs[1], gs[2], gs[3], groups, win);
        Cudnn.Algo algo = p.algo(dnn, Cudnn.Pass.BACKWARD_DATA);
        Cudnn.Scalars k = Cudnn.scalars(p.dtype);
        ctx.bind();
        try (DeviceScratch ws = workspace(algo.workspace())) {
            dnn.convolutionBackwardData(k.one(), p.w, wp, p.y, gp, p.conv, algo.algo(), ws == null ? 0 : ws.ptr(), algo.workspace(),
                    k.zero(), p.x, xp);
        }
    }

    @Override
    public void conv2dBackwardWeight(Tensor gradOut, Tensor x, Window win, int groups, Tensor gradWeight) {
        int[] s = x.shape(), gs = gradOut.shape();
        if (gradWeight.numel() == 0) return;
        long gp = ptr(gradOut, "conv2d gradOut"), xp = ptr(x, "conv2d x"), wp = ptr(gradWeight, "conv2d gradWeight");
        if (gradOut.numel() == 0) {   // an empty batch contributes nothing
            gradWeight.backend().fill(gradWeight, 0);
            return;
        }
        DepthwiseConvCuda.Shape dw = depthwise(x.dtype(), s[0], s[1], s[2], s[3], gs[1], groups, win);
        if (onSimt(x.dtype(), dw)) {
            DepthwiseConvCuda.backwardWeight(ctx, storage(x.dtype()), dw, xp, gp, wp, 0);
            return;
        }
        Cudnn dnn = Cudnn.of(ctx);
        Plan p = plan(x, gs[1], gs[2], gs[3], groups, win);
        Cudnn.Algo algo = p.algo(dnn, Cudnn.Pass.BACKWARD_FILTER);
        Cudnn.Scalars k = Cudnn.scalars(p.dtype);
        ctx.bind();
        try (DeviceScratch ws = workspace(algo.workspace())) {
            dnn.convolutionBackwardFilter(k.one(), p.x, xp, p.y, gp, p.conv, algo.algo(), ws == null ? 0 : ws.ptr(), algo.workspace(),
                    k.zero(), p.w, wp);
        }
    }

    /** One block per output channel, a fixed-order reduction: the same bits every run. */
    @Override
    public void conv2dBackwardBias(Tensor gradOut, Tensor gradBias) {
        int[] s = gradOut.shape();
        int o = s[1];
        if (o == 0) return;
        long gp = ptr(gradOut, "conv2d gradOut"), bp = ptr(gradBias, "conv2d gradBias");
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(gp).ptr(bp).i32(s[0]).i32(o).i64((long) s[2] * s[3]);
            ctx.kernel("conv2d_bwd_bias_" + CudaBackend.suffix(gradOut.dtype())).launch(
                    new int[] {o}, new int[] {Launch.THREADS}, 0, a);
        }
    }

    @Override
    public void im2col(Tensor x, Window w, Tensor cols) {
        int[] s = x.shape();
        int[] colShape = {s[0], s[1], w.kh(), w.kw(), w.outH(s[2]), w.outW(s[3])};
        // cols is row-major over colShape: the kernel splits its index with these sizes' divisors.
        launchColumns("im2col_", x, cols, s, w, cols.numel(), new CudaTensors.Layout(colShape, new long[1][colShape.length], new long[1]));
    }

    @Override
    public void col2im(Tensor cols, Window w, Tensor x) {
        int[] s = x.shape();
        launchColumns("col2im_", cols, x, s, w, x.numel(), null);
    }

    /**
     * im2col or col2im from src to dst over the image shape s: one grid-stride launch over n
     * outputs; shape, when not null, is passed last as a lumen::View.
     */
    private void launchColumns(String kernel, Tensor src, Tensor dst, int[] s, Window w, long n, CudaTensors.Layout shape) {
        if (n == 0) return;
        if (src.dtype() != dst.dtype()) throw new IllegalArgumentException(kernel + ": dtypes " + src.dtype() + " and " + dst.dtype() + " differ");
        cudnnType(src.dtype());   // f32, f64, f16 and bf16 only
        long sp = ptr(src, kernel + " input"), dp = ptr(dst, kernel + " output");
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(sp).ptr(dp).i32(s[0]).i32(s[1]).i32(s[2]).i32(s[3]).i32(w.kh()).i32(w.kw()).i32(w.sh()).i32(w.sw())
                    .i32(w.ph()).i32(w.pw()).i32(w.dh()).i32(w.dw()).i32(w.outH(s[2])).i32(w.outW(s[3]));
            if (shape != null) a.view(shape, 0);
            Launch.elementwise(ctx, kernel + CudaBackend.suffix(src.dtype()), n, a);
        }
    }
}
