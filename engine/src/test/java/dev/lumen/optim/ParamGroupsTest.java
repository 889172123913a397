package dev.lumen.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.lumen.tensor.Tensor;
import dev.lumen.testing.DeviceTest;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ParamGroupsTest extends DeviceTest {
    @Test
    void normsBiasesAndSkippedNamesGetNoWeightDecay() {
        Map<String, Tensor> named = new LinkedHashMap<>();
        named.put("patch_embed.proj.weight", on(Tensor.zeros(4, 3, 2, 2)).requiresGrad(true));
        named.put("cls_token", on(Tensor.zeros(1, 1, 4)).requiresGrad(true));
        named.put("pos_embed", on(Tensor.zeros(1, 5, 4)).requiresGrad(true));
        named.put("blocks.0.norm1.weight", on(Tensor.zeros(4)).requiresGrad(true));
        named.put("blocks.0.attn.qkv.weight", on(Tensor.zeros(12, 4)).requiresGrad(true));
        named.put("blocks.0.attn.qkv.bias", on(Tensor.zeros(12)).requiresGrad(true));
        named.put("encoder.pos_embed", on(Tensor.zeros(1, 2, 4)).requiresGrad(true));
        named.put("frozen.weight", on(Tensor.zeros(2, 2)));
        named.put("head.weight", on(Tensor.zeros(3, 4)).requiresGrad(true));

        List<ParamGroup> gs = ParamGroups.withNoDecay(named, 0.05, List.of("pos_embed", "cls_token"));
        assertEquals(2, gs.size());
        assertEquals(0.0, gs.get(0).weightDecay());
        assertEquals(0.05, gs.get(1).weightDecay());
        List<Tensor> noDecay = List.of(named.get("cls_token"), named.get("pos_embed"), named.get("blocks.0.norm1.weight"),
                named.get("blocks.0.attn.qkv.bias"), named.get("encoder.pos_embed"));
        List<Tensor> decay = List.of(named.get("patch_embed.proj.weight"), named.get("blocks.0.attn.qkv.weight"), named.get("head.weight"));
        assertEquals(noDecay.size(), gs.get(0).params().size());
        for (int i = 0; i < noDecay.size(); i++) assertSame(noDecay.get(i), gs.get(0).params().get(i));
        assertEquals(decay.size(), gs.get(1).params().size());
        for (int i = 0; i < decay.size(); i++) assertSame(decay.get(i), gs.get(1).params().get(i));

        // The groups' weight decay overrides the optimizer default; lr comes from the default.
        AdamW opt = new AdamW(gs, Adam.defaults(1e-3, 0.9, 0.999, 1e-8, 0.3, false));
        assertEquals(0.0, opt.paramGroups().get(0).weightDecay());
        assertEquals(0.05, opt.paramGroups().get(1).weightDecay());
        assertEquals(1e-3, opt.paramGroups().get(0).lr());
    }

    @Test
    void onlyWeightsGiveOneGroup() {
        Map<String, Tensor> named = Map.of("fc.weight", on(Tensor.zeros(2, 2)).requiresGrad(true));
        List<ParamGroup> gs = ParamGroups.withNoDecay(named, 0.1, List.of());
        assertEquals(1, gs.size());
        assertEquals(0.1, gs.get(0).weightDecay());
    }
}
