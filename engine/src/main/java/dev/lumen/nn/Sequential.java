package dev.lumen.nn;

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

    /** Runs the layers in order, releasing what each made once the next has run ({@link Chain}). */
    @Override
    public Tensor forward(Tensor x) { return Chain.forward(x, layers); }
}
