package dev.lumen.optim;

import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Base of the optimizers: parameter groups, per-parameter state, step, zeroGrad and the state
 * dict used to resume. Parameters are numbered in group order, as torch numbers them in its
 * state_dict; the state of parameter i is its step count and named tensors ("exp_avg", ...),
 * which live outside every Scope because they outlive each training step.
 */
public abstract class Optimizer {
    /** One parameter's state: how many updates it had, and its state tensors. */
    protected static final class State {
        long step;
        final Map<String, Tensor> tensors = new LinkedHashMap<>();

        public long step() { return step; }

        public Tensor get(String name) { return tensors.get(name); }

        /** The named state tensor, made as zeros like the parameter on first use. */
        public Tensor getOrZeros(String name, Tensor like) { return getOrFull(name, like, 0); }

        /** The named state tensor, made filled with value like the parameter on first use. */
        public Tensor getOrFull(String name, Tensor like, double value) {
            return tensors.computeIfAbsent(name, k -> outsideScopes(Tensor.full(value, like.dtype(), like.device(), like.shape())));
        }

        /** The named state tensor, made as a copy of init on first use (torch's momentum buffers start at the first gradient). */
        public Tensor getOrCopy(String name, Tensor init) {
            return tensors.computeIfAbsent(name, k -> {
                Tensor t = outsideScopes(Tensor.empty(init.dtype(), init.device(), init.shape()));
                init.backend().copy(init, t);
                return t;
            });
        }
    }

    /** Two named state tensors per parameter and each parameter's step count: the Adam family's per-call lists. */
    protected record Moments(List<Tensor> first, List<Tensor> second, long[] steps) {
        /** The states first and second of every parameter (zeros on first use), with their steps. */
        static Moments of(List<Tensor> params, List<State> states, String first, String second) {
            int n = params.size();
            List<Tensor> a = new ArrayList<>(n), b = new ArrayList<>(n);
            long[] steps = new long[n];
            for (int i = 0; i < n; i++) {
                State s = states.get(i);
                a.add(s.getOrZeros(first, params.get(i)));
                b.add(s.getOrZeros(second, params.get(i)));
                steps[i] = s.step();
            }
            return new Moments(a, b, steps);
        }
    }

    private final String name;
    private final List<ParamGroup> groups;
    private final List<Tensor> params = new ArrayList<>();
    private final Map<Tensor, Integer> index = new IdentityHashMap<>();
    private final Map<Integer, State> state = new LinkedHashMap<>();

    protected Optimizer(String name, List<ParamGroup> groups, Map<String, Object> defaults) {
        if (groups.isEmpty()) throw new IllegalArgumentException(name + ": no parameter groups");
        this.name = name;
        this.groups = List.copyOf(groups);
        for (ParamGroup g : this.groups) {
            g.applyDefaults(name, defaults);
            for (Tensor p : g.params()) {
                if (!p.dtype().isFloating()) throw new IllegalArgumentException(name + ": parameter " + p + " is not floating point");
                if (index.put(p, params.size()) != null) {
                    throw new IllegalArgumentException(name + ": a parameter " + p + " appears in more than one group");
                }
                params.add(p);
            }
            validate(g);
        }
    }

    /** Rejects a group's hyper-parameters that the update cannot use. */
    protected abstract void validate(ParamGroup group);

    /**
     * Updates parameters of one group from their gradients (same device and dtype, in group
     * order, each step count already incremented), so that a backend can update them all in one
     * multi-tensor call; runs without autograd.
     */
    protected abstract void update(ParamGroup group, List<Tensor> params, List<Tensor> grads, List<State> states);

    /** The optimizer's name, as in torch ("SGD", "AdamW"). */
    public String name() { return name; }

    public List<ParamGroup> paramGroups() { return groups; }

    /** Every parameter, in state-dict order. */
    public List<Tensor> params() { return List.copyOf(params); }

    /** One update of every parameter that has a gradient. */
    public void step() {
        try (GradMode off = GradMode.noGrad()) {
            for (ParamGroup g : groups) {
                // Checked before any state changes, so that a bad gradient leaves the group as it was.
                for (Tensor p : g.params()) {
                    Tensor grad = p.grad();
                    if (grad != null && (grad.dtype() != p.dtype() || !Arrays.equals(grad.shape(), p.shape()))) {
                        throw new IllegalStateException(name + ": gradient " + grad + " does not match parameter " + p);
                    }
                }
                Map<Batch.Key, Batch> batches = new LinkedHashMap<>();
                for (Tensor p : g.params()) {
                    Tensor grad = p.grad();
                    if (grad == null) continue;
                    State s = state.computeIfAbsent(index.get(p), k -> new State());
                    s.step++;
                    batches.computeIfAbsent(new Batch.Key(p.device(), p.dtype()), k -> new Batch()).add(p, grad, s);
                }
                for (Batch b : batches.values()) update(g, b.params, b.grads, b.states);
            }
        }
    }

    /** The parameters of one group that one multi-tensor call updates: same device and dtype. */
    private static final class Batch {
        record Key(Device device, DType dtype) {}

        final List<Tensor> params = new ArrayList<>(), grads = new ArrayList<>();
        final List<State> states = new ArrayList<>();

        void add(Tensor param, Tensor grad, State s) {
            params.add(param);
            grads.add(grad);
            states.add(s);
        }
    }

    /** Drops every parameter's gradient, freeing it (torch's zero_grad(set_to_none=True)). */
    public void zeroGrad() {
        for (Tensor p : params) p.setGrad(null);
    }

    /**
     * The state to resume from: tensors "state.I.NAME" and metadata {"type", "state": {"I":
     * {"step": n}}, "param_groups": [{options..., "params": [I, ...]}]}, as torch's state_dict.
     */
    public StateDict stateDict() {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, Object> steps = new LinkedHashMap<>();
        for (Map.Entry<Integer, State> e : state.entrySet()) {
            steps.put(String.valueOf(e.getKey()), Map.of("step", e.getValue().step));
            for (Map.Entry<String, Tensor> t : e.getValue().tensors.entrySet()) {
                tensors.put("state." + e.getKey() + "." + t.getKey(), t.getValue());
            }
        }
        List<Object> gs = new ArrayList<>();
        for (ParamGroup g : groups) {
            Map<String, Object> m = new LinkedHashMap<>(g.options());
            List<Integer> ids = new ArrayList<>();
            for (Tensor p : g.params()) ids.add(index.get(p));
            m.put("params", ids);
            gs.add(m);
        }
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("type", name);
        meta.put("state", steps);
        meta.put("param_groups", gs);
        return new StateDict(tensors, meta);
    }

    /**
     * Restores group options (lr included), step counts and state tensors. The state tensors are
     * copied into fresh tensors of each parameter's dtype, outside every scope.
     */
    @SuppressWarnings("unchecked")
    public void loadStateDict(StateDict sd) {
        Object type = sd.require(name, "type");
        if (!name.equals(type)) throw new IllegalArgumentException(name + ": state dict is for " + type);
        List<Object> gs = (List<Object>) sd.require(name, "param_groups");
        if (gs.size() != groups.size()) {
            throw new IllegalArgumentException(name + ": state dict has " + gs.size() + " parameter groups, the optimizer " + groups.size());
        }
        for (int i = 0; i < gs.size(); i++) {
            Map<String, Object> m = (Map<String, Object>) gs.get(i);
            List<Object> ids = (List<Object>) m.get("params");
            if (ids == null || ids.size() != groups.get(i).params().size()) {
                throw new IllegalArgumentException(name + ": group " + i + " has " + groups.get(i).params().size()
                        + " parameters, the state dict " + (ids == null ? "none" : ids.size()));
            }
        }
        Map<Integer, State> loaded = new LinkedHashMap<>();
        Map<String, Object> steps = (Map<String, Object>) sd.require(name, "state");
        for (Map.Entry<String, Object> e : steps.entrySet()) {
            int id = Integer.parseInt(e.getKey());
            if (id < 0 || id >= params.size()) throw new IllegalArgumentException(name + ": state for parameter " + id + " of " + params.size());
            State s = new State();
            s.step = ((Number) ((Map<String, Object>) e.getValue()).get("step")).longValue();
            loaded.put(id, s);
        }
        for (Map.Entry<String, Tensor> e : sd.tensors().entrySet()) {
            String[] parts = e.getKey().split("\\.", 3);
            if (parts.length != 3 || !parts[0].equals("state")) throw new IllegalArgumentException(name + ": unexpected tensor '" + e.getKey() + "'");
            int id = Integer.parseInt(parts[1]);
            State s = loaded.get(id);
            if (s == null) throw new IllegalArgumentException(name + ": tensor '" + e.getKey() + "' for a parameter without a step count");
            Tensor p = params.get(id);
            Tensor src = e.getValue();
            if (!Arrays.equals(src.shape(), p.shape())) {
                throw new IllegalArgumentException(name + ": state '" + e.getKey() + "' has shape " + Arrays.toString(src.shape())
                        + ", parameter " + id + " has " + Arrays.toString(p.shape()));
            }
            Tensor t = outsideScopes(Tensor.empty(p.dtype(), p.device(), p.shape()));
            p.backend().copy(src.device().equals(p.device()) ? src : src.to(p.device()), t);
            s.tensors.put(parts[2], t);
        }
        for (int i = 0; i < gs.size(); i++) {
            Map<String, Object> m = (Map<String, Object>) gs.get(i);
            for (Map.Entry<String, Object> e : m.entrySet()) {
                if (e.getKey().equals("params")) continue;
                if (!groups.get(i).has(e.getKey())) throw new IllegalArgumentException(name + ": unknown option '" + e.getKey() + "' in group " + i);
                groups.get(i).restore(e.getKey(), e.getValue());
            }
        }
        for (State old : state.values()) old.tensors.values().forEach(Tensor::close);
        state.clear();
        state.putAll(loaded);
    }

    /** Moves a tensor made now out of every scope: state outlives the step that made it. */
    static Tensor outsideScopes(Tensor t) {
        return Scope.detachFromScopes(t);
    }
}
