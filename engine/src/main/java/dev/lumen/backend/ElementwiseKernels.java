package dev.lumen.backend;

import dev.lumen.tensor.Tensor;

/** Element-wise unary, binary and ternary maps with broadcasting, activations and their derivatives. */
public interface ElementwiseKernels {
    enum Binary { ADD, SUB, MUL, DIV }

    /** out = a (op) b; a and b broadcast to out's shape; all of out's dtype. */
    void binary(Binary op, Tensor a, Tensor b, Tensor out);

    /** out = alpha * x + beta. */
    void affine(Tensor x, double alpha, double beta, Tensor out);

    /** dst += alpha * src (src broadcast to dst), in place. */
    void addInPlace(Tensor dst, Tensor src, double alpha);
}
