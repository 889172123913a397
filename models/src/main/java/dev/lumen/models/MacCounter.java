package dev.lumen.models;

import dev.lumen.autograd.GradMode;
import dev.lumen.autograd.Node;
import dev.lumen.memory.Scope;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.tensor.Tensor;
import java.util.ArrayDeque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Counts the multiply-accumulates of a forward pass, as timm's GMACs (fvcore style): those
 * of convolutions, linear layers and matrix products, plus the hot ops (outlook attention,
 * the selective scan) by their own formulas; element-wise ops, norms and pooling count 0.
 *
 * <p>It reads the autograd tape rather than instrumenting the ops: the forward runs with the
 * input requiring grad, so every op on the way records a node with its name, inputs and
 * output, and each node is counted once by the rule registered for its op name. A family
 * whose model records a custom op registers a rule for it with {@link #register}.
 */
public final class MacCounter {
    private MacCounter() {}

    /** MACs of one recorded op, from its output and inputs (as passed to Autograd.record). */
    @FunctionalInterface
    public interface Rule {
        long macs(Tensor out, List<Tensor> inputs);
    }

    private static final Map<String, Rule> RULES = new ConcurrentHashMap<>();

    static {
        // out [N, O, oh, ow]; weight [O, C/groups, kh, kw]: each output sums C/groups*kh*kw products
        register("conv2d", (out, in) -> out.numel() * in.get(1).shape(1) * in.get(1).shape(2) * in.get(1).shape(3));
        // out [..., outF]; weight [outF, inF]
        register("linear", (out, in) -> out.numel() * in.get(1).shape(1));
        // a [..., M, K] @ b [..., K, N] (bmm records as matmul too)
        register("matmul", (out, in) -> out.numel() * in.get(0).shape(-1));
        // qkv [B, N, 3C] -> out [B, N, C]: per head q k^T and p v, N*N*D products each, 2 B N N C over the heads
        register("self_attention", (out, in) -> 2 * out.numel() * in.get(0).shape(1));
        // v [B, H, W, C], logits [B, h, w, heads, k*k, k*k]: per anchor and head a (k*k x k*k) @ (k*k x C/heads) product
        register("outlook_attention", (out, in) -> in.get(1).numel() * (in.get(0).shape(3) / in.get(1).shape(3)));
        // x [B, D, H, W], a [4D, N]: VMamba's own count for selective_scan (9 B L D N per route, + B D L for the D skip)
        register("selective_scan_2d", (out, in) -> {
            long b = in.get(0).shape(0), l = (long) in.get(0).shape(2) * in.get(0).shape(3);
            long kd = in.get(2).shape(0), n = in.get(2).shape(1);
            return 9 * b * l * kd * n + b * kd * l;
        });
    }

    /** Sets the rule for op (replacing any before). */
    public static void register(String op, Rule rule) { RULES.put(op, rule); }

    /** MACs of one forward of model on zeros of inputShape (e.g. 1, 3, 224, 224), in eval mode. */
    public static long count(Layer model, int... inputShape) {
        return total(breakdown(model, inputShape));
    }

    /** As {@link #count}, per op name (ops without a rule are left out). */
    public static Map<String, Long> breakdown(Layer model, int... inputShape) {
        Module m = model instanceof Module mod ? mod : null;
        boolean wasTraining = m != null && m.isTraining();
        if (m != null) m.eval();
        try (Scope s = Scope.open(); GradMode g = GradMode.enableGrad()) {
            Tensor x = Tensor.zeros(inputShape).requiresGrad(true);
            return breakdown(model.forward(x));
        } finally {
            if (m != null) m.train(wasTraining);
        }
    }

    /** MACs of the ops recorded on the tape that produced output. */
    public static long countGraph(Tensor output) { return total(breakdown(output)); }

    /** MACs per op name of the ops recorded on the tape that produced output. */
    public static Map<String, Long> breakdown(Tensor output) {
        Map<String, Long> out = new TreeMap<>();
        IdentityHashMap<Tensor, Boolean> seen = new IdentityHashMap<>();
        ArrayDeque<Tensor> todo = new ArrayDeque<>();
        todo.push(output);
        seen.put(output, Boolean.TRUE);
        while (!todo.isEmpty()) {
            Tensor t = todo.pop();
            Node n = t.gradFn();
            if (n == null) continue;
            List<Tensor> inputs = n.inputs();
            Rule r = RULES.get(n.op());
            if (r != null) out.merge(n.op(), r.macs(t, inputs), Long::sum);
            for (Tensor in : inputs) if (in != null && seen.put(in, Boolean.TRUE) == null) todo.push(in);
        }
        return out;
    }

    private static long total(Map<String, Long> byOp) {
        long s = 0;
        for (long v : byOp.values()) s += v;
        return s;
    }
}
