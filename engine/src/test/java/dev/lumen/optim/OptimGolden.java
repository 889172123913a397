package dev.lumen.optim;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.memory.Scope;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.Golden;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/** Replays the single-update goldens of tools/golden/gen_optim.py against an optimizer. */
final class OptimGolden {
    static final Golden G = Golden.load("optim");
    /** Parameter shapes of every update case: [5, 7] and [13]. */
    static final int PARAMS = 2;
    static final int STEPS = 4;

    private OptimGolden() {}

    /** Fresh leaf copies of a case's initial parameters on device, outside every scope. */
    static List<Tensor> initialParams(Device device, String name) {
        List<Tensor> ps = new ArrayList<>();
        for (int i = 0; i < PARAMS; i++) ps.add(Scope.detachFromScopes(G.get(name + ".param" + i + ".init").to(device).copy()).requiresGrad(true));
        return ps;
    }

    /**
     * Steps the optimizer (over parameters on device) over the case's gradients, comparing every parameter after every step
     * and the final state tensors with torch's. Returns the optimizer for further checks.
     */
    static Optimizer replay(Device device, String name, Function<List<Tensor>, Optimizer> make, double tol) {
        List<Tensor> ps = initialParams(device, name);
        Optimizer opt = make.apply(ps);
        for (int k = 0; k < STEPS; k++) {
            try (Scope s = Scope.open()) {
                for (int i = 0; i < PARAMS; i++) ps.get(i).setGrad(G.get(name + ".param" + i + ".grad" + k).to(device).copy());
                opt.step();
                for (int i = 0; i < PARAMS; i++) {
                    Golden.assertClose("optim", name + ".param" + i + ".step" + k, ps.get(i), G.get(name + ".param" + i + ".step" + k), tol);
                }
            }
            opt.zeroGrad();
        }
        StateDict sd = opt.stateDict();
        for (int i = 0; i < PARAMS; i++) {
            for (String key : new String[] {"momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}) {
                String gk = name + ".param" + i + ".state." + key;
                if (!G.has(gk)) continue;
                Tensor mine = sd.tensors().get("state." + i + "." + key);
                assertTrue(mine != null, name + ": no state " + key + " for parameter " + i);
                Golden.assertClose("optim", gk, mine, G.get(gk), tol);
            }
        }
        return opt;
    }
}
