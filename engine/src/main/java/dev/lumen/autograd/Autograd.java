package dev.lumen.autograd;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** Records ops on the tape and runs backward over it. */
public final class Autograd {
    private Autograd() {}

    /** True if an op on these inputs must be recorded. */
    public static boolean needsGrad(Tensor... inputs) {
        if (!GradMode.isEnabled()) return false;
        for (Tensor t : inputs) if (t != null && t.requiresGrad()) return true;
        return false;
    }

    /**
     * Attaches a gradient rule to out if any input requires grad; returns out.
     * Inputs that do not require grad get no gradient (the rule may return null for them).
     */
    public static Tensor record(String op, Tensor out, Node.Rule rule, Tensor... inputs) {
        if (!needsGrad(inputs)) return out;
        out.attachGradFn(new Node(op, inputs.clone(), rule));
        return out;
    }

    /** As {@link #record}, for a view of part of its one input whose rule writes into that input's gradient. */
    public static Tensor recordInto(String op, Tensor out, Node.IntoRule rule, Tensor input) {
        if (!needsGrad(input)) return out;
        out.attachGradFn(new Node(op, input, rule));
        return out;
    }

    /**
     * Backpropagates gradOutput from root into the .grad of every leaf that requires grad.
     * The tape is consumed: each node's saved tensors are freed once its rule has run. Each
     * gradient takes the dtype of its tensor; backward runs with {@link Autocast} off.
     */
    public static void backward(Tensor root, Tensor gradOutput) { backward(root, gradOutput, null); }

    /**
     * As {@link #backward(Tensor, Tensor)}, telling leafGradReady about each leaf as soon as its
     * .grad is final for this pass (every contribution to it was summed before its one
     * accumulateGrad): the point where DistributedDataParallel can start reducing it while the
     * rest of the pass still runs. Null: nobody is told.
     */
    public static void backward(Tensor root, Tensor gradOutput, Consumer<Tensor> leafGradReady) {
        backward(root, gradOutput, leafGradReady, false);
    }

    /**
     * As {@link #backward(Tensor, Tensor, Consumer)}; with retainGraph (PyTorch's retain_graph=True)
     * every node keeps its rule and saved tensors, so a second backward through the same graph works,
     * at the cost of holding the forward's saved activations until the graph is dropped.
     */
    public static void backward(Tensor root, Tensor gradOutput, Consumer<Tensor> leafGradReady, boolean retainGraph) {
        if (!root.requiresGrad()) {
            throw new IllegalStateException("backward: the tensor does not require grad and has no grad_fn");
        }
        if (!java.util.Arrays.equals(root.shape(), gradOutput.shape())) {
            throw new IllegalArgumentException("backward: gradient shape " + java.util.Arrays.toString(gradOutput.shape())
                    + " does not match the tensor's " + java.util.Arrays.toString(root.shape()));
        }
        dev.lumen.ops.Devices.common("backward", root, gradOutput);
        List<Tensor> order = topologicalOrder(root);
        Map<Tensor, Tensor> pending = new IdentityHashMap<>();
        pending.put(root, gradOutput);
        // Pending gradients made here and seen by nothing else (sums, buffers of IntoRules): a
        // view's IntoRule may write into them in place.
        Map<Tensor, Boolean> owned = new IdentityHashMap<>();
        try (GradMode ng = GradMode.noGrad(); Autocast off = Autocast.disable()) {
            for (Tensor t : order) {
                Tensor g = pending.remove(t);
                if (g == null) continue;
                owned.remove(g);
                Node node = t.gradFn();
                if (node == null || t.retainsGrad()) t.accumulateGrad(g);
                if (node == null) {
                    closeUnlessUsed(g, gradOutput, pending, null);
                    if (leafGradReady != null) leafGradReady.accept(t);
                    continue;
                }
                if (node.writesInto()) {
                    writeInto(node, g, gradOutput, retainGraph, pending, owned);
                    closeUnlessUsed(g, gradOutput, pending, null);
                    continue;
                }
                Tensor[] inputs = node.inputArray();
                Tensor[] grads;
                // The rule's scratch (contiguous copies, partial products) is freed as soon as it returns.
                try (Scope scratch = Scope.open()) {
                    grads = node.run(g, retainGraph);
                    for (Tensor gi : grads) scratch.keepIfOwned(gi);
                }
                for (int i = 0; i < inputs.length; i++) {
                    Tensor in = inputs[i];
                    if (in == null || grads[i] == null || !in.requiresGrad()) grads[i] = null;
                }
                closeUnlessUsed(g, gradOutput, pending, grads);
                for (int i = 0; i < inputs.length; i++) {
                    Tensor gi = grads[i];
                    if (gi == null) continue;
                    Tensor in = inputs[i];
                    if (!java.util.Arrays.equals(gi.shape(), in.shape())) {
                        throw new IllegalStateException("gradient rule of '" + node.op() + "' gave shape "
                                + java.util.Arrays.toString(gi.shape()) + " for input " + i + " of shape "
                                + java.util.Arrays.toString(in.shape()));
                    }
                    if (gi.dtype() != in.dtype()) {
                        // A tensor's gradient has its dtype, as in PyTorch: a 16-bit tensor that met an F32 one
                        // in a promoting op gets its gradient rounded back to 16 bits.
                        Tensor cast = gi.to(in.dtype());
                        grads[i] = cast;
                        closeUnlessUsed(gi, gradOutput, pending, grads);
                        gi = cast;
                    }
                    Tensor prev = pending.get(in);
                    if (prev == null) {
                        pending.put(in, gi);
                    } else {
                        Tensor sum = prev.add(gi);
                        pending.put(in, sum);
                        owned.remove(prev);
                        owned.put(sum, Boolean.TRUE);
                        grads[i] = null;
                        closeUnlessUsed(prev, gradOutput, pending, grads);
                        closeUnlessUsed(gi, gradOutput, pending, grads);
                    }
                }
            }
        }
    }

    /**
     * Runs a view's IntoRule: into the pending gradient of its input when backward owns that
     * one, else into a new zero buffer (added to a pending gradient that others may see, as
     * another rule's gradient would be).
     */
    private static void writeInto(Node node, Tensor g, Tensor gradOutput, boolean retainGraph, Map<Tensor, Tensor> pending,
                                  Map<Tensor, Boolean> owned) {
        Tensor in = node.inputArray()[0];
        if (!in.requiresGrad()) return;
        Tensor prev = pending.get(in);
        try (Scope scratch = Scope.open()) {
            if (prev != null && owned.containsKey(prev)) {
                node.runInto(g, prev, false, retainGraph);
                return;
            }
            Tensor buf = Tensor.zeros(in.dtype(), in.device(), in.shape());
            scratch.keepIfOwned(buf);
            node.runInto(g, buf, true, retainGraph);
            if (prev != null) {
                Tensor sum = prev.add(buf);
                scratch.keepIfOwned(sum);
                buf.close();
                pending.put(in, sum);
                owned.put(sum, Boolean.TRUE);
                closeUnlessUsed(prev, gradOutput, pending, null);
                return;
            }
            pending.put(in, buf);
            owned.put(buf, Boolean.TRUE);
        }
    }

    /**
     * Frees a gradient as soon as backward is done with it, unless it is the caller's
     * tensor or still referenced (rules may hand the same tensor to several inputs).
     */
    private static void closeUnlessUsed(Tensor g, Tensor callers, Map<Tensor, Tensor> pending, Tensor[] live) {
        if (g == callers) return;
        for (Tensor p : pending.values()) if (p == g) return;
        if (live != null) for (Tensor l : live) if (l == g) return;
        g.close();
    }

    /** Nodes reachable from root, each after every tensor that consumes it (iterative DFS). */
    private static List<Tensor> topologicalOrder(Tensor root) {
        List<Tensor> post = new ArrayList<>();
        Map<Tensor, Boolean> seen = new IdentityHashMap<>();
        ArrayList<Object[]> stack = new ArrayList<>();
        stack.add(new Object[] {root, 0});
        seen.put(root, Boolean.TRUE);
        while (!stack.isEmpty()) {
            Object[] top = stack.get(stack.size() - 1);
            Tensor t = (Tensor) top[0];
            int next = (Integer) top[1];
            Node n = t.gradFn();
            Tensor[] ins = n == null ? new Tensor[0] : n.inputArray();
            if (n != null && n.released()) {
                throw new IllegalStateException("backward through '" + n.op() + "' a second time: its saved tensors"
                        + " were freed after the first backward (call backward once per forward)");
            }
            if (next < ins.length) {
                top[1] = next + 1;
                Tensor c = ins[next];
                if (c != null && c.requiresGrad() && seen.put(c, Boolean.TRUE) == null) {
                    stack.add(new Object[] {c, 0});
                }
            } else {
                stack.remove(stack.size() - 1);
                post.add(t);
            }
        }
        java.util.Collections.reverse(post);
        return post;
    }
}
