package dev.lumen.reference;

/**
 * Multi-head self-attention on packed qkv written as its definition, with plain loops in
 * double: per image and head, s = scale q k^T, p = softmax(s) row by row, o = p v; and the
 * backward dp = do v^T, ds = p (dp - rowsum(dp p)), dq = scale ds k, dk = scale ds^T q,
 * dv = p^T do. Obviously right rather than fast; for tests of the fused CPU kernels and of
 * every backend's composed ones.
 *
 * <p>qkv is [B, N, 3C] flat (q of head h at columns h*D, k at C + h*D, v at 2C + h*D), out
 * and gradOut [B, N, C], probs [B, heads, N, N].
 */
public final class SelfAttentionReference {
    private SelfAttentionReference() {}

    /** Output, probabilities and, for an upstream gradient, qkv's gradient (else null). */
    public record Result(double[] out, double[] probs, double[] gradQkv) {}

    public static Result run(int b, int n, int c, int heads, double[] qkv, double scale, double[] gradOut) {
        int d = c / heads, ld = 3 * c;
        double[] out = new double[b * n * c], probs = new double[b * heads * n * n];
        double[] gq = gradOut == null ? null : new double[b * n * ld];
        for (int bi = 0; bi < b; bi++) {
            for (int h = 0; h < heads; h++) {
                int pBase = (bi * heads + h) * n * n;
                for (int i = 0; i < n; i++) {
                    double max = Double.NEGATIVE_INFINITY;
                    double[] s = new double[n];
                    for (int j = 0; j < n; j++) {
                        double dot = 0;
                        for (int e = 0; e < d; e++) dot += at(qkv, bi, n, ld, i, h * d + e) * at(qkv, bi, n, ld, j, c + h * d + e);
                        s[j] = scale * dot;
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < n; j++) sum += Math.exp(s[j] - max);
                    for (int j = 0; j < n; j++) probs[pBase + i * n + j] = Math.exp(s[j] - max) / sum;
                    for (int e = 0; e < d; e++) {
                        double o = 0;
                        for (int j = 0; j < n; j++) o += probs[pBase + i * n + j] * at(qkv, bi, n, ld, j, 2 * c + h * d + e);
                        out[(bi * n + i) * c + h * d + e] = o;
                    }
                }
                if (gradOut == null) continue;
                for (int i = 0; i < n; i++) {
                    double[] dp = new double[n];
                    double dot = 0;
                    for (int j = 0; j < n; j++) {
                        for (int e = 0; e < d; e++) dp[j] += gradOut[(bi * n + i) * c + h * d + e] * at(qkv, bi, n, ld, j, 2 * c + h * d + e);
                        dot += dp[j] * probs[pBase + i * n + j];
                    }
                    for (int j = 0; j < n; j++) {
                        double p = probs[pBase + i * n + j], ds = p * (dp[j] - dot);
                        for (int e = 0; e < d; e++) {
                            double go = gradOut[(bi * n + i) * c + h * d + e];
                            gq[(bi * n + i) * ld + h * d + e] += scale * ds * at(qkv, bi, n, ld, j, c + h * d + e);
                            gq[(bi * n + j) * ld + c + h * d + e] += scale * ds * at(qkv, bi, n, ld, i, h * d + e);
                            gq[(bi * n + j) * ld + 2 * c + h * d + e] += p * go;
                        }
                    }
                }
            }
        }
        return new Result(out, probs, gq);
    }

    private static double at(double[] qkv, int bi, int n, int ld, int row, int col) { return qkv[(bi * n + row) * ld + col]; }
}
