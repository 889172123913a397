package dev.lumen.tensor;

/**
 * Channels-last memory: an [N, C, H, W] tensor whose bytes lie as [N, H, W, C] (strides
 * H*W*C, 1, W*C, C), PyTorch's torch.channels_last. The shape, indexing and every op's result
 * are those of any [N, C, H, W] tensor (ops read through strides, or copy to contiguous first);
 * only the order of the bytes differs. A convolution kernel that computes in NHWC (oneDNN's at
 * inference) reads and writes such tensors without reordering them, so a chain of those layers
 * keeps the layout from one to the next.
 */
public final class ChannelsLast {
    private ChannelsLast() {}

    /** Whether x is a 4-d tensor laid out channels-last, dense from its offset (not merely contiguous). */
    public static boolean is(Tensor x) {
        if (x.dim() != 4 || x.isContiguous()) return false;
        int[] s = x.shape(), st = x.strides();
        int c = s[1], h = s[2], w = s[3];
        return st[0] == h * w * c && st[1] == 1 && st[2] == w * c && st[3] == c;
    }

    /** An uninitialized tensor of x's shape and dtype on x's device, channels-last where x is, else contiguous. */
    public static Tensor emptyLike(Tensor x) {
        if (!is(x)) return Tensor.empty(x.dtype(), x.device(), x.shape());
        return empty(x.dtype(), x.device(), x.shape(0), x.shape(1), x.shape(2), x.shape(3));
    }

    /** A channels-last copy of the 4-d tensor x (not recorded for autograd). */
    public static Tensor copyOf(Tensor x) {
        Tensor c = empty(x.dtype(), x.device(), x.shape(0), x.shape(1), x.shape(2), x.shape(3));
        x.backend().copy(x, c);
        return c;
    }

    /** An uninitialized [n, c, h, w] tensor laid out channels-last. */
    public static Tensor empty(DType dtype, Device device, int n, int c, int h, int w) {
        Tensor nhwc = Tensor.empty(dtype, device, n, h, w, c);
        Tensor t = nhwc.viewOf(new int[] {n, c, h, w}, new int[] {h * w * c, 1, w * c, c}, nhwc.offset());
        nhwc.release();
        return t;
    }
}
