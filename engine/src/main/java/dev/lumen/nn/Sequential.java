package dev.lumen.nn;

import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/** Layers applied in order, named "0", "1", ... in the state dict, as torch's nn.Sequential. */
public class Sequential extends Module implements Layer {
    private final List<Layer> layers = new ArrayList<>();
    /** What forward runs: the layers, with each BatchNorm2d followed by a plain ReLU as one fused step. */
    private final List<Layer> steps = new ArrayList<>();

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
        int last = steps.size() - 1;
        // ReLU's in-place flag changes no value, and the fused op saves no more than the pair.
        if (m.getClass() == ReLU.class && last >= 0 && steps.get(last) instanceof BatchNorm2d bn) steps.set(last, bn::forwardRelu);
        else steps.add(l);
        layers.add(l);
        return this;
    }

    public Module get(int i) { return (Module) layers.get(i); }

    public int size() { return layers.size(); }

    /**
     * Runs the layers in order, releasing what each made once the next has run ({@link Chain});
     * BatchNorm2d then ReLU runs as {@link BatchNorm2d#forwardRelu} (the same values).
     */
    @Override
    public Tensor forward(Tensor x) { return Chain.forward(x, steps); }
}
