package dev.lumen.optim;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Base of the learning-rate schedulers: they write each group's "lr" from the base lrs the groups had at construction. */
public abstract class LRScheduler {
    protected final Optimizer optimizer;
    protected double[] baseLrs;

    protected LRScheduler(Optimizer optimizer) {
        this.optimizer = optimizer;
        List<ParamGroup> gs = optimizer.paramGroups();
        baseLrs = new double[gs.size()];
        for (int i = 0; i < baseLrs.length; i++) baseLrs[i] = gs.get(i).lr();
    }

    /** Sets every group's lr: the schedule's value times the group's lr scale (timm's lr_scale). */
    protected void setLrs(double[] lrs) {
        List<ParamGroup> gs = optimizer.paramGroups();
        for (int i = 0; i < lrs.length; i++) gs.get(i).setLr(lrs[i] * gs.get(i).lrScale());
    }

    /** The lr each group has now. */
    public double[] lrs() {
        List<ParamGroup> gs = optimizer.paramGroups();
        double[] out = new double[gs.size()];
        for (int i = 0; i < out.length; i++) out[i] = gs.get(i).lr();
        return out;
    }

    public double[] baseLrs() { return baseLrs.clone(); }

    public abstract StateDict stateDict();

    public abstract void loadStateDict(StateDict sd);

    List<Object> baseLrList() {
        List<Object> l = new ArrayList<>();
        for (double b : baseLrs) l.add(b);
        return l;
    }

    /** Checks the type and restores the base lrs of a state dict written by this scheduler's class. */
    @SuppressWarnings("unchecked")
    void restoreBase(StateDict sd, String type) {
        Object t = sd.require(type, "type");
        if (!type.equals(t)) throw new IllegalArgumentException(type + ": state dict is for " + t);
        List<Object> b = (List<Object>) sd.require(type, "base_lrs");
        if (b.size() != baseLrs.length) {
            throw new IllegalArgumentException(type + ": state dict has " + b.size() + " base lrs, the optimizer " + baseLrs.length + " groups");
        }
        for (int i = 0; i < baseLrs.length; i++) baseLrs[i] = StateDict.number(b.get(i));
    }

    static Map<String, Object> meta(String type) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", type);
        return m;
    }
}
