package dev.lumen.autograd;

import dev.lumen.tensor.Tensor;
import java.util.List;

/**
 * One recorded op on the tape: its differentiable inputs and the rule that turns the
 * gradient of its output into gradients of its inputs. The rule is a closure over the
 * tensors it saved; it is dropped as soon as backward has run it, freeing what it saved.
 */
public final class Node {
    /** Gradient rule: from dL/d(output) to dL/d(input_i), one entry per input (null where not needed). */
    @FunctionalInterface
    public interface Rule {
        Tensor[] apply(Tensor gradOutput);
    }

    /**
     * Gradient rule of a view of part of its one input (slice, narrow, select): writes dL/d(output)
     * into its part of inputGrad, a buffer of the input's shape that backward owns and that holds
     * the other contributions summed so far (all zeros when zeros is true, so the rule may copy
     * instead of add). The parts of a split then share one buffer: before, each made a full-size
     * zero gradient and backward added them up, k allocations and k - 1 full additions for k parts.
     */
    @FunctionalInterface
    public interface IntoRule {
        void addInto(Tensor gradOutput, Tensor inputGrad, boolean zeros);
    }

    private final String op;
    private final Tensor[] inputs;
    private Rule rule;
    private IntoRule into;
    private final boolean writesInto;
    private Tensor[] saved;

    Node(String op, Tensor[] inputs, Rule rule) {
        this.op = op;
        this.inputs = inputs;
        this.rule = rule;
        this.writesInto = false;
        this.saved = SavedTensors.hold(rule);
    }

    Node(String op, Tensor input, IntoRule into) {
        this.op = op;
        this.inputs = new Tensor[] {input};
        this.into = into;
        this.writesInto = true;
        this.saved = SavedTensors.hold(into);
    }

    /** The tensors this node keeps for its backward (what its rule captured); empty once it ran. */
    public List<Tensor> saved() { return java.util.Collections.unmodifiableList(java.util.Arrays.asList(saved)); }

    public String op() { return op; }

    /** The recorded inputs; null where an optional input (a bias) was absent. */
    public List<Tensor> inputs() { return java.util.Collections.unmodifiableList(java.util.Arrays.asList(inputs)); }

    Tensor[] inputArray() { return inputs; }

    boolean released() { return rule == null && into == null; }

    /** Whether the rule writes into the input's gradient ({@link IntoRule}) instead of returning it. */
    boolean writesInto() { return writesInto; }

    /** Runs an {@link IntoRule}; unless retain, then drops it and lets go of what it saved. */
    void runInto(Tensor gradOutput, Tensor inputGrad, boolean zeros, boolean retain) {
        if (into == null) {
            throw new IllegalStateException("backward through '" + op + "' a second time: its saved tensors were freed"
                    + " after the first backward (call backward once per forward)");
        }
        into.addInto(gradOutput, inputGrad, zeros);
        if (!retain) {
            into = null;
            Tensor[] done = saved;
            saved = new Tensor[0];
            SavedTensors.unhold(done, new Tensor[] {inputGrad});
        }
    }

    Tensor[] run(Tensor gradOutput) { return run(gradOutput, false); }

    /** Runs the rule; unless retain, then drops it and lets go of what it saved (the tape is consumed). */
    Tensor[] run(Tensor gradOutput, boolean retain) {
        if (rule == null) {
            throw new IllegalStateException("backward through '" + op + "' a second time: its saved tensors were freed"
                    + " after the first backward (call backward once per forward)");
        }
        Tensor[] grads = rule.apply(gradOutput);
        if (!retain) {
            rule = null;
            Tensor[] done = saved;
            saved = new Tensor[0];
            SavedTensors.unhold(done, grads);
        }
        if (grads.length != inputs.length) {
            throw new IllegalStateException("gradient rule of '" + op + "' returned " + grads.length
                    + " gradients for " + inputs.length + " inputs");
        }
        return grads;
    }
}
