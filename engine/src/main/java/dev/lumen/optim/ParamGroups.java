package dev.lumen.optim;

import dev.lumen.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Builders of parameter groups from named parameters (a module's namedParameters()). */
public final class ParamGroups {
    private ParamGroups() {}

    /**
     * timm's param_groups_weight_decay: parameters with at most one dim (norm weights, biases),
     * names ending in ".bias", and names in skipNames get weight_decay 0; the rest get
     * weightDecay. A skip name matches the full name or its last segments after a '.', so
     * "pos_embed" also skips "encoder.pos_embed". Parameters that do not require grad are left out.
     * Returns the no-decay group first, then the decay group; an empty one is omitted.
     */
    public static List<ParamGroup> withNoDecay(Map<String, Tensor> namedParams, double weightDecay, Collection<String> skipNames) {
        Set<String> skip = Set.copyOf(skipNames);
        List<Tensor> decay = new ArrayList<>(), noDecay = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : namedParams.entrySet()) {
            Tensor p = e.getValue();
            if (!p.requiresGrad()) continue;
            String name = e.getKey();
            if (p.dim() <= 1 || name.endsWith(".bias") || skipped(name, skip)) noDecay.add(p);
            else decay.add(p);
        }
        List<ParamGroup> groups = new ArrayList<>();
        if (!noDecay.isEmpty()) groups.add(ParamGroup.of(noDecay).set("weight_decay", 0.0));
        if (!decay.isEmpty()) groups.add(ParamGroup.of(decay).set("weight_decay", weightDecay));
        return groups;
    }

    /**
     * timm's param_groups_layer_decay: one group per (layer, decay or not), in the order their
     * first parameter comes, with lr scale layerDecay^(lastLayer - layer) (the head's layer gets
     * 1) and weight decay as {@link #withNoDecay} decides it. layerIds maps names to layers from
     * 0 (a model's group matcher); a name it lacks counts as the last layer, as in timm.
     */
    public static List<ParamGroup> withLayerDecay(Map<String, Tensor> namedParams, Map<String, Integer> layerIds, double weightDecay,
                                                  double layerDecay, Collection<String> skipNames) {
        Set<String> skip = Set.copyOf(skipNames);
        int last = layerIds.values().stream().mapToInt(Integer::intValue).max().orElse(0);
        Map<String, List<Tensor>> members = new java.util.LinkedHashMap<>();
        Map<String, double[]> scaleAndDecay = new java.util.HashMap<>();
        for (Map.Entry<String, Tensor> e : namedParams.entrySet()) {
            Tensor p = e.getValue();
            if (!p.requiresGrad()) continue;
            String name = e.getKey();
            boolean noDecay = p.dim() <= 1 || name.endsWith(".bias") || skipped(name, skip);
            int layer = layerIds.getOrDefault(name, last);
            String key = layer + (noDecay ? "_no_decay" : "_decay");
            members.computeIfAbsent(key, k -> new ArrayList<>()).add(p);
            scaleAndDecay.put(key, new double[] {Math.pow(layerDecay, last - layer), noDecay ? 0 : weightDecay});
        }
        List<ParamGroup> groups = new ArrayList<>();
        for (Map.Entry<String, List<Tensor>> e : members.entrySet()) {
            double[] sd = scaleAndDecay.get(e.getKey());
            groups.add(ParamGroup.of(e.getValue()).set("weight_decay", sd[1]).lrScale(sd[0]));
        }
        return groups;
    }

    private static boolean skipped(String name, Set<String> skip) {
        if (skip.contains(name)) return true;
        for (int i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) {
            if (skip.contains(name.substring(i + 1))) return true;
        }
        return false;
    }
}
