package dev.lumen.backend;

import dev.lumen.tensor.Tensor;

/**
 * Element-wise maps with broadcasting: arithmetic, math functions, activations and their
 * derivatives, comparisons and selection. Every operand is read through its own strides;
 * operands of a binary map broadcast to out's shape.
 */
public interface ElementwiseKernels {
    enum Binary { ADD, SUB, MUL, DIV, POW, MAXIMUM, MINIMUM }

    /**
     * Element-wise functions of one tensor, as PyTorch defines them. Two parameters p0, p1
     * serve the ops that take them and are ignored by the others: POW (p0 = exponent),
     * CLAMP (p0 = min, p1 = max; NaN means no bound), SOFTPLUS (p0 = beta, p1 = threshold),
     * LEAKY_RELU (p0 = negative slope).
     */
    enum Unary {
        NEG, EXP, LOG, SQRT, RSQRT, ABS, SQUARE, RECIPROCAL, POW, CLAMP,
        RELU, GELU, GELU_TANH, SILU, SIGMOID, TANH, SOFTPLUS, LEAKY_RELU, HARD_SIGMOID, HARD_SWISH
    }

    enum Compare { EQ, NE, LT, LE, GT, GE }

    /** out = a (op) b; a and b broadcast to out's shape; all of out's dtype. */
    void binary(Binary op, Tensor a, Tensor b, Tensor out);

    /**
     * The partial derivatives of out = a (op) b times gradOut: gradA = gradOut * d(out)/da and
     * gradB = gradOut * d(out)/db, both of out's shape (not yet summed over broadcast dims).
     * Either may be null to skip it. For POW, MAXIMUM and MINIMUM (ties split the gradient in half).
     */
    void binaryBackward(Binary op, Tensor a, Tensor b, Tensor gradOut, Tensor gradA, Tensor gradB);

    /**
     * out = relu(a + b), RELU's relu (NaN stays NaN), bit for bit ADD into out then RELU over it:
     * the residual join of ResNet's blocks. a, b and out of one shape and dtype; out may be a or b.
     * This default runs those two kernels; a backend overrides it with one pass.
     */
    default void addRelu(Tensor a, Tensor b, Tensor out) {
        binary(Binary.ADD, a, b, out);
        unary(Unary.RELU, out, 0, 0, out);
    }

    /** out = f(x) for the unary op f with parameters p0, p1; x and out of one shape and dtype. */
    void unary(Unary op, Tensor x, double p0, double p1, Tensor out);

    /** gradIn = gradOut * f'(x), all of one shape and dtype. */
    void unaryBackward(Unary op, Tensor x, double p0, double p1, Tensor gradOut, Tensor gradIn);

    /** out (BOOL) = a (op) b; a and b of one dtype, broadcast to out's shape. */
    void compare(Compare op, Tensor a, Tensor b, Tensor out);

    /** out (BOOL) = a (op) s. */
    void compareScalar(Compare op, Tensor a, double s, Tensor out);

    /** out = cond ? a : b; cond BOOL, a and b of out's dtype, all broadcast to out's shape. */
    void where(Tensor cond, Tensor a, Tensor b, Tensor out);

    /** out = alpha * x + beta. */
    void affine(Tensor x, double alpha, double beta, Tensor out);

    /** dst += alpha * src (src broadcast to dst), in place. */
    void addInPlace(Tensor dst, Tensor src, double alpha);

    /** dst *= s, in place. */
    void mulInPlace(Tensor dst, double s);
}
