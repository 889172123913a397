package dev.lumen.app.train;

import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.ops.Elementwise;
import dev.lumen.ops.Reductions;
import dev.lumen.ops.Shaping;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Finds weights that hold NaN or infinity, so a diverged model is never written as a checkpoint. */
final class NonFinite {
    private NonFinite() {}

    /**
     * The name of the first floating tensor of state holding a NaN or an infinity, or null when
     * all are finite. One reduction per tensor on its device (x - x is 0 exactly when x is
     * finite) and one host read for all of them.
     */
    static String firstIn(Map<String, Tensor> state) {
        List<String> names = new ArrayList<>();
        List<Tensor> sums = new ArrayList<>();
        try (Scope s = Scope.open(); GradMode off = GradMode.noGrad()) {
            for (Map.Entry<String, Tensor> e : state.entrySet()) {
                Tensor t = e.getValue();
                if (!t.dtype().isFloating() || t.numel() == 0) continue;
                names.add(e.getKey());
                sums.add(Reductions.sum(Elementwise.sub(t, t).to(DType.F32)).reshape(1));
            }
            if (sums.isEmpty()) return null;
            double[] v = Shaping.cat(sums, 0).toDoubles();
            for (int i = 0; i < v.length; i++) if (v[i] != 0) return names.get(i);
            return null;
        }
    }
}
