package dev.lumen.app.train;

import dev.lumen.app.data.Batch;
import dev.lumen.backend.Backends;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;

/**
 * A batch on the training device: its images and labels uploaded (on CUDA through pinned
 * memory and the copy stream, overlapped with the previous step's compute), or the host batch
 * itself on the CPU. Closing it frees both copies.
 */
record DeviceBatch(Batch host, Tensor images, Tensor labels) implements AutoCloseable {
    static DeviceBatch upload(Batch b, Device device) {
        if (device.kind() == Device.Kind.CPU) return new DeviceBatch(b, b.images(), b.labels());
        var backend = Backends.of(device);
        return new DeviceBatch(b, backend.upload(b.images(), device), backend.upload(b.labels(), device));
    }

    int size() { return host.size(); }

    @Override
    public void close() {
        if (images != host.images()) images.close();
        if (labels != host.labels()) labels.close();
        host.close();
    }
}
