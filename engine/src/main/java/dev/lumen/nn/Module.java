package dev.lumen.nn;

import dev.lumen.autograd.GradMode;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * A building block of a network, as PyTorch's nn.Module: it owns parameters, buffers and
 * child modules by name, in registration order, so that state dicts carry PyTorch's dotted
 * names ({@code blocks.0.attn.qkv.weight}) and checkpoints from timm load by name.
 *
 * <p>Parameters and buffers live outside every {@link Scope}: a module built inside a
 * training step's scope keeps them when the scope closes. They are freed by {@link #close()}
 * or when the GC finds the module unreachable.
 *
 * <p>Subclasses read their tensors through {@link #param(String)} and {@link #buffer(String)}
 * rather than caching them in fields, because {@link #to(Device)} and {@link #to(DType)}
 * replace them.
 */
public abstract class Module implements AutoCloseable {
    private final LinkedHashMap<String, Tensor> params = new LinkedHashMap<>();
    private final LinkedHashMap<String, Tensor> buffers = new LinkedHashMap<>();
    private final Set<String> nonPersistent = new java.util.HashSet<>();
    private final LinkedHashMap<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;

    // ---------------------------------------------------------------- registration

    /** Registers t as a trainable parameter (requiresGrad on), moving it out of every scope; returns t. */
    protected Tensor registerParameter(String name, Tensor t) {
        checkName(name);
        if (!t.dtype().isFloating()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": parameter '" + name + "' must be floating, got " + t.dtype());
        }
        if (!t.isLeaf()) t = t.detach();
        params.put(name, persist(t).requiresGrad(true));
        return t;
    }

    /** Registers a buffer (running statistics, counters) that is saved in the state dict; returns t. */
    protected Tensor registerBuffer(String name, Tensor t) { return registerBuffer(name, t, true); }

    /** Registers a buffer; a non-persistent one (a precomputed index) is left out of the state dict. */
    protected Tensor registerBuffer(String name, Tensor t, boolean persistent) {
        checkName(name);
        buffers.put(name, persist(t.isLeaf() ? t : t.detach()));
        if (!persistent) nonPersistent.add(name);
        return t;
    }

    /** Registers a child module under name; returns it. */
    protected <M extends Module> M registerModule(String name, M m) {
        checkName(name);
        if (m == null) throw new IllegalArgumentException(getClass().getSimpleName() + ": child module '" + name + "' is null");
        children.put(name, m);
        return m;
    }

    /**
     * Puts m in place of the child at a dotted path ("fc", "head.fc", "blocks.3.attn"), keeping
     * its position in the state dict, and closes the replaced module (head resets, deploy-form
     * switches). Callers must not keep using the old module.
     */
    public <M extends Module> M replaceModule(String path, M m) {
        if (m == null) throw new IllegalArgumentException(getClass().getSimpleName() + ": replacement for '" + path + "' is null");
        Module parent = this;
        String[] parts = path.split("\\.");
        for (int i = 0; i < parts.length - 1; i++) parent = parent.child(parts[i]);
        String leaf = parts[parts.length - 1];
        Module old = parent.children.get(leaf);
        if (old == null) throw new IllegalArgumentException(parent.getClass().getSimpleName() + " has no child '" + leaf + "' (path '" + path + "')");
        parent.children.put(leaf, m);
        if (old != m) old.close();
        return m;
    }

    private void checkName(String name) {
        if (name == null || name.isEmpty() || name.contains(".")) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": bad name '" + name + "' (non-empty, no dots)");
        }
        if (params.containsKey(name) || buffers.containsKey(name) || children.containsKey(name)) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": '" + name + "' is already registered");
        }
    }

    private static Tensor persist(Tensor t) {
        Scope.detachFromScopes(t);
        return t;
    }

    /** This module's own parameter by name. */
    protected Tensor param(String name) {
        Tensor t = params.get(name);
        if (t == null) throw new IllegalStateException(getClass().getSimpleName() + " has no parameter '" + name + "'");
        return t;
    }

    /** This module's own parameter, or null if it has none of that name (an optional bias). */
    protected Tensor paramOrNull(String name) { return params.get(name); }

    /** This module's own buffer by name. */
    protected Tensor buffer(String name) {
        Tensor t = buffers.get(name);
        if (t == null) throw new IllegalStateException(getClass().getSimpleName() + " has no buffer '" + name + "'");
        return t;
    }

    /** A direct child by name. */
    public Module child(String name) {
        Module m = children.get(name);
        if (m == null) throw new IllegalArgumentException(getClass().getSimpleName() + " has no child '" + name + "'; children: " + children.keySet());
        return m;
    }

    /** Direct children in registration order. */
    public Map<String, Module> namedChildren() { return Collections.unmodifiableMap(children); }

    // ---------------------------------------------------------------- traversal

    /** Every module of the tree in pre-order with its dotted name ("" for this one). */
    public Map<String, Module> namedModules() {
        LinkedHashMap<String, Module> out = new LinkedHashMap<>();
        collectModules("", out);
        return out;
    }

    private void collectModules(String prefix, Map<String, Module> out) {
        out.put(prefix, this);
        for (var e : children.entrySet()) e.getValue().collectModules(join(prefix, e.getKey()), out);
    }

    private static String join(String prefix, String name) { return prefix.isEmpty() ? name : prefix + "." + name; }

    /**
     * Parameters with dotted names: each module's own, then its children's, in registration
     * order. A parameter shared by two modules appears once, under its first name.
     */
    public Map<String, Tensor> namedParameters() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        IdentityHashMap<Tensor, Boolean> seen = new IdentityHashMap<>();
        for (var m : namedModules().entrySet()) {
            for (var p : m.getValue().params.entrySet()) {
                if (seen.put(p.getValue(), Boolean.TRUE) == null) out.put(join(m.getKey(), p.getKey()), p.getValue());
            }
        }
        return out;
    }

    /** Buffers with dotted names (persistent or not), in the order of namedParameters. */
    public Map<String, Tensor> namedBuffers() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        for (var m : namedModules().entrySet()) {
            for (var b : m.getValue().buffers.entrySet()) out.put(join(m.getKey(), b.getKey()), b.getValue());
        }
        return out;
    }

    public List<Tensor> parameters() { return new ArrayList<>(namedParameters().values()); }

    /** The parameters that currently require gradients: what an optimizer should update. */
    public List<Tensor> trainableParameters() {
        List<Tensor> out = new ArrayList<>();
        for (Tensor p : namedParameters().values()) if (p.requiresGrad()) out.add(p);
        return out;
    }

    /** Total number of parameter elements. */
    public long numParameters() { return numParameters(false); }

    public long numParameters(boolean trainableOnly) {
        long n = 0;
        for (Tensor p : namedParameters().values()) if (!trainableOnly || p.requiresGrad()) n += p.numel();
        return n;
    }

    /** Calls visitor on every module of the tree, children before their parent (as torch's apply). */
    public Module apply(Consumer<Module> visitor) {
        for (Module c : children.values()) c.apply(visitor);
        visitor.accept(this);
        return this;
    }

    // ---------------------------------------------------------------- state dict

    /**
     * Parameters and persistent buffers with PyTorch's dotted names, in state_dict order
     * (per module: parameters, buffers, then children). Values are detached views of the
     * module's own tensors, so writing into them writes into the module.
     */
    public Map<String, Tensor> stateDict() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        collectState("", out);
        return out;
    }

    private void collectState(String prefix, Map<String, Tensor> out) {
        for (var p : params.entrySet()) out.put(join(prefix, p.getKey()), p.getValue().detach());
        for (var b : buffers.entrySet()) {
            if (!nonPersistent.contains(b.getKey())) out.put(join(prefix, b.getKey()), b.getValue().detach());
        }
        for (var c : children.entrySet()) c.getValue().collectState(join(prefix, c.getKey()), out);
    }

    /** A key whose shape differs between the module and the loaded state. */
    public record ShapeMismatch(String key, int[] expected, int[] actual) {
        @Override
        public String toString() { return key + ": module " + Arrays.toString(expected) + ", state " + Arrays.toString(actual); }
    }

    /** What loadStateDict found: keys the state lacked, keys the module lacks, and shape mismatches (not loaded). */
    public record LoadResult(List<String> missingKeys, List<String> unexpectedKeys, List<ShapeMismatch> shapeMismatches) {
        public boolean isClean() { return missingKeys.isEmpty() && unexpectedKeys.isEmpty() && shapeMismatches.isEmpty(); }
    }

    /**
     * Copies the values of state into this module's parameters and buffers by name,
     * converting dtype and device (F16 weights into F32 parameters). Strict loading throws an
     * IllegalArgumentException, before anything is copied, if a key is missing, unexpected
     * or of another shape; non-strict loading copies what matches and reports the rest.
     */
    public LoadResult loadStateDict(Map<String, Tensor> state, boolean strict) {
        Map<String, Tensor> own = stateDict();
        List<String> missing = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        List<ShapeMismatch> mismatched = new ArrayList<>();
        for (var e : own.entrySet()) {
            Tensor src = state.get(e.getKey());
            if (src == null) missing.add(e.getKey());
            else if (!Arrays.equals(src.shape(), e.getValue().shape())) {
                mismatched.add(new ShapeMismatch(e.getKey(), e.getValue().shape(), src.shape()));
            }
        }
        for (String k : state.keySet()) if (!own.containsKey(k)) unexpected.add(k);
        LoadResult result = new LoadResult(List.copyOf(missing), List.copyOf(unexpected), List.copyOf(mismatched));
        if (strict && !result.isClean()) {
            throw new IllegalArgumentException("loadStateDict(" + getClass().getSimpleName() + ", strict): " + describe(result));
        }
        try (GradMode ng = GradMode.noGrad(); Scope s = Scope.open()) {
            for (var e : own.entrySet()) {
                Tensor src = state.get(e.getKey());
                Tensor dst = e.getValue();
                if (src == null || !Arrays.equals(src.shape(), dst.shape())) continue;
                copyInto(src, dst);
            }
        }
        for (Tensor v : own.values()) v.close();
        return result;
    }

    /** dst = src in place, across dtypes and devices, not recorded. */
    static void copyInto(Tensor src, Tensor dst) {
        Tensor onDevice = src.device().equals(dst.device()) ? src : src.to(dst.device());
        dst.backend().copy(onDevice, dst);
    }

    private static String describe(LoadResult r) {
        StringBuilder sb = new StringBuilder();
        if (!r.missingKeys().isEmpty()) sb.append(r.missingKeys().size()).append(" missing keys ").append(first(r.missingKeys())).append("; ");
        if (!r.unexpectedKeys().isEmpty()) sb.append(r.unexpectedKeys().size()).append(" unexpected keys ").append(first(r.unexpectedKeys())).append("; ");
        if (!r.shapeMismatches().isEmpty()) sb.append(r.shapeMismatches().size()).append(" shape mismatches ").append(first(r.shapeMismatches())).append("; ");
        return sb.substring(0, sb.length() - 2);
    }

    private static String first(List<?> items) {
        int n = Math.min(5, items.size());
        return items.subList(0, n) + (items.size() > n ? " ..." : "");
    }

    // ---------------------------------------------------------------- modes

    /** Switches this module and its descendants to training (true) or evaluation (false) mode. */
    public Module train(boolean on) {
        apply(m -> m.training = on);
        return this;
    }

    public Module train() { return train(true); }

    public Module eval() { return train(false); }

    public boolean isTraining() { return training; }

    /**
     * Stops gradients for the parameters whose dotted names match a glob: {@code *} matches
     * any run of characters (dots included), {@code ?} one character. "head.*" freezes the
     * head; freeze("*") then unfreeze("head.*") trains only the head. Returns how many
     * parameters matched.
     */
    public int freeze(String glob) { return setRequiresGrad(globToRegex(glob), false); }

    public int unfreeze(String glob) { return setRequiresGrad(globToRegex(glob), true); }

    /** As freeze(String), with a regular expression that must match the whole name. */
    public int freeze(Pattern regex) { return setRequiresGrad(regex, false); }

    public int unfreeze(Pattern regex) { return setRequiresGrad(regex, true); }

    private int setRequiresGrad(Pattern p, boolean on) {
        int n = 0;
        for (var e : namedParameters().entrySet()) {
            if (p.matcher(e.getKey()).matches()) {
                e.getValue().requiresGrad(on);
                n++;
            }
        }
        return n;
    }

    static Pattern globToRegex(String glob) {
        StringBuilder sb = new StringBuilder();
        for (char c : glob.toCharArray()) {
            if (c == '*') sb.append(".*");
            else if (c == '?') sb.append('.');
            else sb.append(Pattern.quote(String.valueOf(c)));
        }
        return Pattern.compile(sb.toString());
    }

    /** Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)). */
    public void zeroGrad() {
        for (Tensor p : namedParameters().values()) p.setGrad(null);
    }

    // ---------------------------------------------------------------- placement

    /** Moves every parameter and buffer to device (a no-op for those already there); returns this. */
    public Module to(Device device) {
        return replaceAll(t -> t.device().equals(device) ? t : t.to(device));
    }

    /** Converts floating parameters and buffers to dtype (integer buffers such as counters stay); returns this. */
    public Module to(DType dtype) {
        if (!dtype.isFloating()) throw new IllegalArgumentException("Module.to: " + dtype + " is not a floating dtype");
        return replaceAll(t -> !t.dtype().isFloating() || t.dtype() == dtype ? t : t.to(dtype));
    }

    private Module replaceAll(java.util.function.UnaryOperator<Tensor> f) {
        IdentityHashMap<Tensor, Tensor> done = new IdentityHashMap<>();
        try (GradMode ng = GradMode.noGrad()) {
            for (Module m : namedModules().values()) {
                m.params.replaceAll((k, t) -> done.computeIfAbsent(t, old -> {
                    Tensor n = f.apply(old);
                    if (n == old) return old;
                    persist(n).requiresGrad(old.requiresGrad());
                    old.close();
                    return n;
                }));
                m.buffers.replaceAll((k, t) -> done.computeIfAbsent(t, old -> {
                    Tensor n = f.apply(old);
                    if (n == old) return old;
                    persist(n);
                    old.close();
                    return n;
                }));
            }
        }
        return this;
    }

    /** Frees every parameter and buffer of the tree now; the module cannot be used afterwards. */
    @Override
    public void close() {
        for (Module m : namedModules().values()) {
            m.params.values().forEach(Tensor::close);
            m.buffers.values().forEach(Tensor::close);
        }
    }

    @Override
    public String toString() { return getClass().getSimpleName(); }
}
