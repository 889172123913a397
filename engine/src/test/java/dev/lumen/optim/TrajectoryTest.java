package dev.lumen.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lumen.io.Safetensors;
import dev.lumen.memory.Scope;
import dev.lumen.ops.Reductions;
import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import dev.lumen.testing.Golden;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * 20 steps of SGD-nesterov and of AdamW, with weight decay (timm-style groups: none on biases)
 * and timm's warmup-cosine schedule stepped per update, on a 6-8-3 ReLU MLP with MSE loss,
 * against PyTorch's parameter trajectory; and a resume through a safetensors file after 10 steps
 * that continues bit-identically.
 */
class TrajectoryTest extends DeviceTest {
    private static final Golden G = OptimGolden.G;
    private static final int STEPS = 20;
    // The bound: 20 steps of f32 training (our summed matmul vs torch's GEMM differ in
    // rounding order) stay within 1e-5 relative of torch's trajectory.
    private static final double TOL = 1e-5;

    /** The MLP's parameters by name, fresh copies of the golden's initial weights. */
    private Map<String, Tensor> initialModel() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (String n : new String[] {"w1", "b1", "w2", "b2"}) m.put(n, Scope.detachFromScopes(G.get("mlp." + n).to(device).copy()).requiresGrad(true));
        return m;
    }

    /** x @ w^T + b, as a broadcast product summed over the input dim. */
    private static Tensor linear(Tensor x, Tensor w, Tensor b) {
        return x.unsqueeze(1).mul(w.unsqueeze(0)).sum(2).add(b);
    }

    /** ReLU as a product with the (constant) mask of positive entries, which has ReLU's gradient. */
    private static Tensor relu(Tensor z) {
        float[] v = z.toFloats();
        float[] mask = new float[v.length];
        for (int i = 0; i < v.length; i++) mask[i] = v[i] > 0 ? 1 : 0;
        return z.mul(Tensor.fromFloats(mask, z.shape()).to(z.device()));
    }

    /** Forward and backward of step k's batch: grads accumulate into the parameters. */
    private void backward(Map<String, Tensor> m, int k) {
        try (Scope s = Scope.open()) {
            Tensor x = G.get("mlp.x").select(0, k).to(device), y = G.get("mlp.y").select(0, k).to(device);
            Tensor out = linear(relu(linear(x, m.get("w1"), m.get("b1"))), m.get("w2"), m.get("b2"));
            Tensor d = out.sub(y);
            Tensor loss = Reductions.sum(d.mul(d)).mul(1.0 / d.numel());
            loss.backward();
        }
    }

    private Tensor flat(Map<String, Tensor> m) {
        int n = 0;
        for (Tensor t : m.values()) n += (int) t.numel();
        float[] all = new float[n];
        int at = 0;
        for (Tensor t : m.values()) {
            float[] v = t.toFloats();
            System.arraycopy(v, 0, all, at, v.length);
            at += v.length;
        }
        return on(Tensor.fromFloats(all, n));
    }

    /** The optimizer over ParamGroups.withNoDecay (biases, then weights) and the warmup-cosine schedule. */
    private record Run(Map<String, Tensor> model, Optimizer opt, CosineLR sched) {}

    private static Run start(Function<List<ParamGroup>, Optimizer> make, double wd, Map<String, Tensor> model) {
        Optimizer opt = make.apply(ParamGroups.withNoDecay(model, wd, List.of()));
        CosineLR sched = new CosineLR(opt, STEPS, 1e-4, 3, 1e-3, false, false);
        return new Run(model, opt, sched);
    }

    private void train(Run r, int from, int to, String name) {
        for (int k = from; k < to; k++) {
            r.opt.zeroGrad();
            backward(r.model, k);
            if (name != null) assertEquals(G.get(name + ".lrs").toDoubles()[k], r.opt.paramGroups().get(0).lr(), 1e-15, "lr of step " + k);
            r.opt.step();
            r.sched.stepUpdate(k + 1);
            if (name != null) {
                try (Scope s = Scope.open()) {
                    Golden.assertClose("optim", name + ".step" + k, flat(r.model), G.get(name + ".traj").select(0, k), TOL);
                }
            }
        }
    }

    private static Function<List<ParamGroup>, Optimizer> sgd() {
        return gs -> new SGD(gs, SGD.defaults(0.1, 0.9, 0, 0, true));
    }

    private static Function<List<ParamGroup>, Optimizer> adamw() {
        return gs -> new AdamW(gs, Adam.defaults(0.01, 0.9, 0.999, 1e-8, 0, false));
    }

    @Test void sgdNesterovTrajectoryMatchesTorch() { train(start(sgd(), 0.01, initialModel()), 0, STEPS, "traj_sgd"); }

    @Test void adamwTrajectoryMatchesTorch() { train(start(adamw(), 0.05, initialModel()), 0, STEPS, "traj_adamw"); }

    @Test void sgdResumesBitIdentically() throws Exception { resume("traj_sgd", sgd(), 0.01); }

    @Test void adamwResumesBitIdentically() throws Exception { resume("traj_adamw", adamw(), 0.05); }

    /** 10 steps, checkpoint to a file, a fresh model/optimizer/scheduler loads it, 10 more == 20 straight. */
    private void resume(String name, Function<List<ParamGroup>, Optimizer> make, double wd) throws Exception {
        Run straight = start(make, wd, initialModel());
        train(straight, 0, STEPS, null);

        Run first = start(make, wd, initialModel());
        train(first, 0, 10, null);
        // torch's state after 10 steps, parameter i in group order (b1, b2, w1, w2).
        StateDict sd = first.opt.stateDict();
        int compared = 0;
        for (Map.Entry<String, Tensor> e : sd.tensors().entrySet()) {
            String key = name + ".state10." + e.getKey().substring("state.".length());
            Golden.assertClose("optim", key, e.getValue(), G.get(key), TOL);
            compared++;
        }
        assertEquals(name.equals("traj_sgd") ? 4 : 8, compared, "state tensors compared");

        Path file = Files.createTempDirectory("lumen-optim").resolve("ckpt.safetensors");
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        first.model.forEach((k, v) -> tensors.put("model." + k, v));
        sd.tensors().forEach((k, v) -> tensors.put("optimizer." + k, v));
        Safetensors.write(file, tensors, Map.of("optimizer", sd.metaJson(), "scheduler", first.sched.stateDict().metaJson()));

        Safetensors.Contents c = Safetensors.read(file);
        Map<String, Tensor> model = new LinkedHashMap<>(), optState = new LinkedHashMap<>();
        c.tensors().forEach((k, v) -> {
            if (k.startsWith("model.")) model.put(k.substring(6), Scope.detachFromScopes(v.to(device).copy()).requiresGrad(true));
            else optState.put(k.substring("optimizer.".length()), v);
        });
        Run second = start(make, wd, model);
        second.opt.loadStateDict(StateDict.fromJson(optState, c.metadata().get("optimizer")));
        second.sched.loadStateDict(StateDict.fromJson(Map.of(), c.metadata().get("scheduler")));
        assertEquals(first.opt.paramGroups().get(1).lr(), second.opt.paramGroups().get(1).lr());
        train(second, 10, STEPS, null);

        assertArrayEquals(flat(straight.model).toFloats(), flat(second.model).toFloats(), "resumed trajectory differs");
    }
}
