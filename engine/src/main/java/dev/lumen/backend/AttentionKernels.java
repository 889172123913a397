package dev.lumen.backend;

import dev.lumen.tensor.Tensor;

/**
 * Multi-head self-attention's core on packed projections, as timm's Attention computes it
 * between its qkv and proj layers. qkv is [B, N, 3C] with C = heads * D: row n of image b holds
 * head h's query at columns h*D, its key at C + h*D and its value at 2C + h*D (the layout of
 * {@code qkv(x).reshape(B, N, 3, heads, D)}). Per image and head, P = softmax(scale * q k^T)
 * ([N, N]) and o = P v, written to out [B, N, C] at columns h*D (the layout proj reads).
 *
 * <p>The defaults compose the backend's own batched matmul, scaling, softmax and its backward
 * over strided views of qkv, so every backend has the op; a backend overrides them to keep each
 * head's [N, N] scores in cache between the products (the CPU backend does). qkv, out, probs,
 * gradOut and gradQkv are contiguous tensors of one floating dtype.
 */
public interface AttentionKernels {
    /** The composed kernels, for backends that do not fuse them. */
    AttentionKernels COMPOSED = new AttentionKernels() {};

    /**
     * The width of the probabilities' rows: probs is [B, heads, N, width] with P in its first N
     * columns, so that a backend may pad rows to its vector alignment. N by default.
     */
    default int probsWidth(int n) { return n; }

    /**
     * out = attention(qkv). probs [B, heads, N, {@link #probsWidth}] receives P for the backward
     * when not null; otherwise P lives only inside the call.
     */
    default void selfAttention(Tensor qkv, int heads, double scale, Tensor probs, Tensor out) {
        Heads g = Heads.checkForward(this, qkv, heads, probs, out);
        Backend be = qkv.backend();
        Tensor kept = probs != null ? probs : Tensor.empty(qkv.dtype(), qkv.device(), g.b, heads, g.n, g.n);
        try (Tensor logits = Tensor.empty(qkv.dtype(), qkv.device(), g.b, heads, g.n, g.n); Tensor p = Heads.firstColumns(kept, g.n);
             Tensor q = g.part(qkv, 0); Tensor kt = g.transposedPart(qkv, 1); Tensor v = g.part(qkv, 2); Tensor o = g.heads(out)) {
            be.linalg().matmul(q, kt, logits, false);
            be.elementwise().mulInPlace(logits, scale);
            be.reductions().softmax(logits, 3, false, p);
            be.linalg().matmul(p, v, o, false);
        } finally {
            if (kept != probs) kept.close();
        }
    }

    /**
     * gradQkv = d(out)/d(qkv) applied to gradOut [B, N, C], from the P that
     * {@link #selfAttention} left in probs. Every element of gradQkv is written.
     */
    default void selfAttentionBackward(Tensor qkv, Tensor probs, Tensor gradOut, int heads, double scale, Tensor gradQkv) {
        Heads g = Heads.checkBackward(this, qkv, heads, probs, gradOut, gradQkv);
        Backend be = qkv.backend();
        try (Tensor q = g.part(qkv, 0); Tensor k = g.part(qkv, 1); Tensor vt = g.transposedPart(qkv, 2); Tensor go = g.heads(gradOut);
             Tensor gq = g.part(gradQkv, 0); Tensor gk = g.part(gradQkv, 1); Tensor gv = g.part(gradQkv, 2);
             Tensor gp = Tensor.empty(qkv.dtype(), qkv.device(), g.b, heads, g.n, g.n);
             Tensor gs = Tensor.empty(qkv.dtype(), qkv.device(), g.b, heads, g.n, g.n);
             Tensor p = Heads.firstColumns(probs, g.n); Tensor gst = Heads.transposed(gs); Tensor pt = Heads.transposed(p)) {
            be.linalg().matmul(go, vt, gp, false);
            be.reductions().softmaxBackward(p, gp, 3, false, gs);
            be.elementwise().mulInPlace(gs, scale);
            be.linalg().matmul(gs, k, gq, false);
            be.linalg().matmul(gst, q, gk, false);
            be.linalg().matmul(pt, go, gv, false);
        }
    }

    /** The geometry of a packed qkv [B, N, 3C], and its per-head views. */
    record Heads(int b, int n, int c, int heads, int d) {
        public static Heads of(Tensor qkv, int heads) {
            if (qkv.dim() != 3 || heads < 1 || qkv.shape(2) % (3 * heads) != 0) {
                throw new IllegalArgumentException("self-attention kernel: qkv must be [B, N, 3 * " + heads + " * headDim], got "
                        + java.util.Arrays.toString(qkv.shape()));
            }
            int c3 = qkv.shape(2);
            return new Heads(qkv.shape(0), qkv.shape(1), c3 / 3, heads, c3 / 3 / heads);
        }

        /**
         * The geometry, after checking the forward's arguments: kernels that hand raw pointers to a
         * GEMM check first, as a wrong size would be written past the end instead of failing.
         */
        public static Heads checkForward(AttentionKernels k, Tensor qkv, int heads, Tensor probs, Tensor out) {
            Heads g = of(qkv, heads);
            expect("qkv", qkv, qkv, g.b, g.n, 3 * g.c);
            expect("out", out, qkv, g.b, g.n, g.c);
            if (probs != null) expect("probs", probs, qkv, g.b, heads, g.n, k.probsWidth(g.n));
            return g;
        }

        /** The geometry, after checking the backward's arguments (see {@link #checkForward}). */
        public static Heads checkBackward(AttentionKernels k, Tensor qkv, int heads, Tensor probs, Tensor gradOut, Tensor gradQkv) {
            Heads g = of(qkv, heads);
            expect("qkv", qkv, qkv, g.b, g.n, 3 * g.c);
            expect("probs", probs, qkv, g.b, heads, g.n, k.probsWidth(g.n));
            expect("gradOut", gradOut, qkv, g.b, g.n, g.c);
            expect("gradQkv", gradQkv, qkv, g.b, g.n, 3 * g.c);
            return g;
        }

        private static void expect(String what, Tensor t, Tensor qkv, int... shape) {
            if (!java.util.Arrays.equals(t.shape(), shape) || !t.isContiguous() || t.dtype() != qkv.dtype()) {
                throw new IllegalArgumentException("self-attention kernel: " + what + " must be a contiguous " + qkv.dtype() + " "
                        + java.util.Arrays.toString(shape) + " for qkv " + java.util.Arrays.toString(qkv.shape()) + ", got "
                        + (t.isContiguous() ? "" : "strided ") + t.dtype() + " " + java.util.Arrays.toString(t.shape()));
            }
        }

        /** Part 0 (q), 1 (k) or 2 (v) of a contiguous [B, N, 3C] as [B, heads, N, D]. */
        public Tensor part(Tensor packed, int which) {
            long row = 3L * c;
            return packed.viewOf(new int[] {b, heads, n, d}, new int[] {Math.toIntExact(n * row), d, Math.toIntExact(row), 1},
                    packed.offset() + (long) which * c);
        }

        /** A contiguous [B, N, C] as [B, heads, N, D]. */
        public Tensor heads(Tensor merged) {
            return merged.viewOf(new int[] {b, heads, n, d}, new int[] {n * c, d, c, 1}, merged.offset());
        }

        /** Part which of a packed qkv as [B, heads, D, N]: k^T or v^T, a view. */
        public Tensor transposedPart(Tensor packed, int which) {
            long row = 3L * c;
            return packed.viewOf(new int[] {b, heads, d, n}, new int[] {Math.toIntExact(n * row), d, 1, Math.toIntExact(row)},
                    packed.offset() + (long) which * c);
        }

        /** The first n columns of [B, heads, N, width] probabilities, a view. */
        public static Tensor firstColumns(Tensor probs, int n) {
            int[] s = probs.shape();
            return probs.viewOf(new int[] {s[0], s[1], s[2], n}, probs.strides(), probs.offset());
        }

        /** [B, heads, R, S] as its per-head transpose [B, heads, S, R], a view. */
        public static Tensor transposed(Tensor x) {
            int[] s = x.shape(), st = x.strides();
            return x.viewOf(new int[] {s[0], s[1], s[3], s[2]}, new int[] {st[0], st[1], st[3], st[2]}, x.offset());
        }
    }
}
