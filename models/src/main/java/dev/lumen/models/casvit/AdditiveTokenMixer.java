package dev.lumen.models.casvit;

import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Conv2d;
import dev.lumen.nn.Layer;
import dev.lumen.nn.Module;
import dev.lumen.nn.Sequential;
import dev.lumen.ops.AdditiveAttention;
import dev.lumen.ops.Shaping;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.util.List;

/**
 * CAS-ViT's convolutional additive token mixer: q, k, v from one 1x1 conv (qkv, no bias);
 * q and k each pass a spatial then a channel gate (oper_q, oper_k: Sequential of
 * SpatialOperation and ChannelOperation); out = proj(dwc(Phi_q(q) + Phi_k(k)) * v), proj a
 * depth-wise 3x3 conv, then dropout (proj_drop).
 *
 * <p>Everything between qkv and proj runs as one fused op, {@link AdditiveAttention}: the
 * gates' parameters go in as its {@link AdditiveAttention.Gate} records (read from the
 * modules at each call, so loading and device moves are seen), dwc as its last conv. The
 * unfused path (the modules' own forwards) stays available for checks.
 */
final class AdditiveTokenMixer extends Module implements Layer {
    private final Conv2d qkv, dwc, proj;
    private final Sequential operQ, operK;
    private final double projDrop;
    private final boolean fused;
    private final Generator gen;

    AdditiveTokenMixer(int dim, double projDrop, boolean fused, Generator gen) {
        this.projDrop = projDrop;
        this.fused = fused;
        this.gen = gen;
        qkv = registerModule("qkv", Layers.conv(dim, 3 * dim, 1, 1, 0, 1, false, gen));
        operQ = registerModule("oper_q", new Sequential(new SpatialOperation(dim, gen), new ChannelOperation(dim, gen)));
        operK = registerModule("oper_k", new Sequential(new SpatialOperation(dim, gen), new ChannelOperation(dim, gen)));
        dwc = registerModule("dwc", Layers.dw3x3(dim, gen));
        proj = registerModule("proj", Layers.dw3x3(dim, gen));
    }

    /** oper_q / oper_k's parameters and running statistics as the fused op's gate, by official name. */
    static AdditiveAttention.Gate gate(Sequential oper) {
        SpatialOperation sp = (SpatialOperation) oper.get(0);
        ChannelOperation ch = (ChannelOperation) oper.get(1);
        BatchNorm2d bn = sp.bn();
        return new AdditiveAttention.Gate(sp.dw().weight(), sp.dw().bias(), bn.weight(), bn.bias(), bn.runningMean(), bn.runningVar(),
                sp.spatial().weight(), ch.channel().weight());
    }

    @Override
    public Tensor forward(Tensor x) {
        List<Tensor> qkvs = Shaping.chunk(qkv.forward(x), 3, 1);
        Tensor q = qkvs.get(0), k = qkvs.get(1), v = qkvs.get(2), mixed;
        if (fused) {
            BatchNorm2d bnQ = ((SpatialOperation) operQ.get(0)).bn();
            mixed = AdditiveAttention.additiveAttention(q, k, v, gate(operQ), gate(operK), dwc.weight(), dwc.bias(), isTraining(),
                    bnQ.momentum(), bnQ.eps());
            if (isTraining()) {
                countBatch(bnQ);
                countBatch(((SpatialOperation) operK.get(0)).bn());
            }
        } else {
            mixed = dwc.forward(operQ.forward(q).add(operK.forward(k))).mul(v);
        }
        return Layers.dropout(proj.forward(mixed), projDrop, isTraining(), gen);
    }

    /** num_batches_tracked += 1, as the gate's BatchNorm2d would do in a training forward of its own. */
    private static void countBatch(BatchNorm2d bn) {
        Tensor count = bn.namedBuffers().get("num_batches_tracked");
        // In place on the counter's device, as BatchNorm2d does: no host read in forward.
        count.backend().elementwise().affine(count, 1, 1, count);
    }
}
