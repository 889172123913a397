package dev.lumen.tensor;

/**
 * Where a tensor's storage lives. META tensors have a shape and a dtype but no bytes (as
 * PyTorch's meta device): ops on them check and compute shapes only, so a model can be built
 * and run to count its parameters and multiply-accumulates without its weights ({@link ShapeOnly}).
 */
public record Device(Kind kind, int index) {
    public enum Kind { CPU, CUDA, META }

    public static final Device CPU = new Device(Kind.CPU, 0);

    public static final Device META = new Device(Kind.META, 0);

    public static Device cuda(int index) { return new Device(Kind.CUDA, index); }

    /** Parses "cpu", "cuda" or "cuda:N". */
    public static Device parse(String s) {
        String t = s.trim().toLowerCase(java.util.Locale.ROOT);
        if (t.equals("cpu")) return CPU;
        if (t.equals("meta")) return META;
        if (t.equals("cuda")) return cuda(0);
        if (t.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(t.substring(5)));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad device '" + s + "': expected cpu, cuda or cuda:N");
            }
        }
        throw new IllegalArgumentException("bad device '" + s + "': expected cpu, cuda or cuda:N");
    }

    @Override
    public String toString() { return kind == Kind.CPU ? "cpu" : kind == Kind.META ? "meta" : "cuda:" + index; }
}
