package dev.lumen.backend.cuda;

import dev.lumen.tensor.Tensor;

/**
 * Batch norm on the device, which cuDNN provides: {@link CudaNorms} delegates
 * NormKernels.batchNormForward and batchNormBackward here, with the same arguments.
 */
interface BatchNormKernels {
    void forward(Tensor x, Tensor weight, Tensor bias, double eps, boolean useInputStats, Tensor mean, Tensor var, Tensor out);

    void backward(Tensor gradOut, Tensor x, Tensor weight, Tensor mean, Tensor var, double eps, boolean usedInputStats,
                  Tensor gradX, Tensor gradWeight, Tensor gradBias);
}
