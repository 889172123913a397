package dev.lumen.app.train;

import dev.lumen.distributed.Communicator;
import dev.lumen.distributed.ReduceOp;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * Validation split over the ranks (each an unpadded shard of the validation set) made whole
 * again: the counts and sums reduced, and the per-sample predictions gathered, so the numbers and
 * the report equal a single device's (up to the order of floating-point sums).
 */
final class ValidationShards {
    private ValidationShards() {}

    /** Element-wise sums over the ranks (F64 on the communicator's device). */
    static double[] sum(Communicator comm, double[] local) {
        Tensor host = Tensor.fromDoubles(local, DType.F64, local.length), t = onDevice(host, comm);
        try {
            comm.allReduce(t, ReduceOp.SUM);
            comm.joinCompute();
            return toHost(t);
        } finally {
            closeBoth(host, t);
        }
    }

    private static Tensor onDevice(Tensor host, Communicator comm) {
        return comm.device().equals(Device.CPU) ? host : host.to(comm.device());
    }

    private static double[] toHost(Tensor t) {
        if (t.device().equals(Device.CPU)) return t.toDoubles();
        try (Tensor back = t.to(Device.CPU)) {
            return back.toDoubles();
        }
    }

    private static void closeBoth(Tensor host, Tensor device) {
        if (device != host) device.close();
        host.close();
    }

    /**
     * Every rank's predictions, in sample order: each rank packs its rows (index, label, k
     * probabilities) into ceil(total / world) rows, padding with index -1, and all ranks gather them.
     */
    static Predictions gather(Communicator comm, Predictions local, int total) {
        int world = comm.worldSize(), k = local.numClasses(), width = k + 2;
        int rows = (total + world - 1) / world;
        if (local.size() > rows) throw new IllegalStateException("validation shard of " + local.size() + " rows exceeds " + rows);
        float[] packed = new float[rows * width];
        for (int r = 0; r < rows; r++) {
            int o = r * width;
            if (r >= local.size()) {
                packed[o] = -1;
                continue;
            }
            packed[o] = local.indices()[r]; // exact: a validation set stays below 2^24 samples
            packed[o + 1] = local.labels()[r];
            System.arraycopy(local.probabilities(), r * k, packed, o + 2, k);
        }
        float[] all;
        Tensor host = Tensor.fromFloats(packed, packed.length), in = onDevice(host, comm);
        Tensor out = Tensor.empty(DType.F32, comm.device(), world * packed.length);
        try {
            comm.allGather(in, out);
            comm.joinCompute();
            if (out.device().equals(Device.CPU)) {
                all = out.toFloats();
            } else {
                try (Tensor back = out.to(Device.CPU)) {
                    all = back.toFloats();
                }
            }
        } finally {
            closeBoth(host, in);
            out.close();
        }
        Integer[] order = IntStream.range(0, world * rows).filter(r -> all[r * width] >= 0).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble(r -> all[r * width]));
        int n = order.length;
        int[] indices = new int[n], labels = new int[n];
        float[] p = new float[n * k];
        for (int i = 0; i < n; i++) {
            int o = order[i] * width;
            indices[i] = (int) all[o];
            labels[i] = (int) all[o + 1];
            System.arraycopy(all, o + 2, p, i * k, k);
        }
        return new Predictions(local.classNames(), indices, labels, p);
    }
}
