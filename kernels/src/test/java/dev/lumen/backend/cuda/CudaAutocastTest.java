package dev.lumen.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.autograd.Autocast;
import dev.lumen.ops.Convolution;
import dev.lumen.ops.LinearAlgebra;
import dev.lumen.ops.Normalization;
import dev.lumen.ops.Softmax;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Autocast on CUDA against autocast on the CPU: the same F32 parameters and inputs, the same
 * graph, so both devices run their GEMMs (cuBLAS GemmEx with 16-bit operands, F32 compute) and
 * convolutions (cuDNN on 16-bit tensors) on the same rounded operands. Outputs and the F32
 * parameter gradients must agree to the 16-bit type's rounding.
 */
class CudaAutocastTest {
    static final Device CUDA = DeviceCheck.CUDA;

    @BeforeAll
    static void cuda() { DeviceCheck.requireCuda(); }

    /**
     * Both devices sum exact products of 16-bit values in F32, in orders they do not share, and
     * round the sum once to the type: a result may differ by one unit in the last place (2^-8 in
     * BF16, 2^-11 in F16). LayerNorm and softmax keep that relative error; gradients take two such products.
     */
    private static double tolerance(DType t) { return t == DType.BF16 ? 8e-3 : 1e-3; }

    /** F32 leaves on the device: host values moved over, then cut from the tape. */
    private static Tensor leaf(Tensor host, Device d, boolean grad) {
        return host.to(d).detach().requiresGrad(grad);
    }

    /** One device's run of softmax(layerNorm(linear(x))): the linear's output, the output and every gradient, on the host. */
    private static List<Tensor> linearLayerNormSoftmax(Device d, DType half) {
        Tensor x = leaf(DeviceCheck.random(1, DType.F32, 5, 33), d, true);
        Tensor w = leaf(DeviceCheck.random(2, DType.F32, 17, 33).mul(0.2), d, true);
        Tensor b = leaf(DeviceCheck.random(3, DType.F32, 17), d, true);
        Tensor gamma = leaf(DeviceCheck.random(4, DType.F32, 17).add(1), d, true);
        Tensor beta = leaf(DeviceCheck.random(5, DType.F32, 17), d, true);
        Tensor h, out;
        try (Autocast ac = Autocast.enable(half)) {
            h = LinearAlgebra.linear(x, w, b);
            out = Softmax.softmax(Normalization.layerNorm(h, gamma, beta, 1e-5), -1);
        }
        assertEquals(half, h.dtype(), "linear computes in the autocast type");
        assertEquals(DType.F32, out.dtype(), "layer norm and softmax are on the F32 list");
        out.backward(DeviceCheck.random(6, DType.F32, out.shape()).to(d));
        for (Tensor p : List.of(x, w, b, gamma, beta)) assertEquals(DType.F32, p.grad().dtype());
        return List.of(h, out, x.grad(), w.grad(), b.grad(), gamma.grad(), beta.grad()).stream().map(t -> t.to(Device.CPU)).toList();
    }

    private static List<Tensor> conv(Device d, DType half) {
        Tensor x = leaf(DeviceCheck.random(11, DType.F32, 2, 3, 9, 7), d, true);
        Tensor w = leaf(DeviceCheck.random(12, DType.F32, 5, 3, 3, 3).mul(0.3), d, true);
        Tensor b = leaf(DeviceCheck.random(13, DType.F32, 5), d, true);
        Tensor out;
        try (Autocast ac = Autocast.enable(half)) {
            out = Convolution.conv2d(x, w, b, new int[] {2, 1}, new int[] {1}, new int[] {1}, 1);
        }
        assertEquals(half, out.dtype(), "conv2d computes in the autocast type");
        out.backward(DeviceCheck.random(14, DType.F32, out.shape()).to(half).to(d));
        for (Tensor p : List.of(x, w, b)) assertEquals(DType.F32, p.grad().dtype());
        return List.of(out, x.grad(), w.grad(), b.grad()).stream().map(t -> t.to(Device.CPU)).toList();
    }

    private static void assertAgree(String what, List<Tensor> device, List<Tensor> cpu, DType half) {
        for (int i = 0; i < cpu.size(); i++) {
            double err = DeviceCheck.relativeError(device.get(i), cpu.get(i));
            assertTrue(err <= 2 * tolerance(half), what + " tensor " + i + ": relative error " + err);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void linearLayerNormSoftmaxUnderAutocastMatchTheCpu(DType half) {
        assertAgree("linear+layernorm+softmax", linearLayerNormSoftmax(CUDA, half), linearLayerNormSoftmax(Device.CPU, half), half);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"BF16", "F16"})
    void conv2dUnderAutocastMatchesTheCpu(DType half) {
        assertAgree("conv2d", conv(CUDA, half), conv(Device.CPU, half), half);
    }
}
