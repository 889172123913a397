package dev.lumen.nn;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/** Layers applied in order, named "0", "1", ... in the state dict, as torch's nn.Sequential. */
public class Sequential extends Module implements Layer {
    private final List<Layer> layers = new ArrayList<>();

    /** Each module must be a {@link Layer}. */
    public Sequential(Module... modules) {
        for (Module m : modules) add(m);
    }

    /** Appends m under the next index; returns this. */
    public Sequential add(Module m) {
        if (!(m instanceof Layer l)) {
            throw new IllegalArgumentException("Sequential: element " + layers.size() + " (" + m.getClass().getSimpleName()
                    + ") is not a Layer with forward(Tensor)");
        }
        registerModule(Integer.toString(layers.size()), m);
        layers.add(l);
        return this;
    }

    public Module get(int i) { return (Module) layers.get(i); }

    public int size() { return layers.size(); }

    /**
     * Runs the layers in order. Nothing outside can reach what a layer made besides its output, nor
     * an output once the next layer has consumed it, so both are released at once (autograd keeps
     * what it saved until backward has used it): a chain holds about two activations, not all.
     */
    @Override
    public Tensor forward(Tensor x) {
        boolean prevMadeHere = false;
        for (Layer l : layers) {
            Tensor prev = x;
            boolean madeHere;
            try (Scope locals = Scope.openReleasing()) {
                x = l.forward(prev);
                madeHere = x.owner() == locals;
                if (madeHere) locals.keep(x);
            }
            // Only an output made in here is ours to release: the input and whatever a layer hands through are the caller's.
            if (prevMadeHere && prev != x) prev.release();
            prevMadeHere = madeHere || (prevMadeHere && prev == x);
        }
        return x;
    }
}
