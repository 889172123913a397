package dev.lumen.models;

import dev.lumen.io.InputLimits;
import dev.lumen.memory.Scope;
import dev.lumen.memory.Storage;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import net.razorvine.pickle.IObjectConstructor;
import net.razorvine.pickle.Opcodes;
import net.razorvine.pickle.Unpickler;

/**
 * Reads a PyTorch checkpoint in the zip format of torch.save (torch >= 1.6): the pickle
 * {@code <archive>/data.pkl} describes the object, and each tensor storage is a raw
 * little-endian entry {@code <archive>/data/<key>} referenced by a persistent id.
 *
 * <p>The unpickler is restricted. A pickle can name any Python callable and have it called
 * with any arguments (that is how {@code __reduce__} exploits work), so only the globals
 * torch uses for tensors and state dicts are resolved, each to a Java stand-in that builds
 * data and nothing else. The configuration objects training scripts save beside the weights
 * (argparse.Namespace as timm's train.py and RepLKNet's save_model write it, yacs CfgNode as
 * VMamba's save_checkpoint does) become inert {@link PyObject}s: their fields as data, their
 * class never called. Every other global, and the opcodes that instantiate arbitrary
 * classes (INST, OBJ, EXT*), is refused with an error naming the file and the global; no
 * Python code is ever run.
 *
 * <p>Tensors are materialized lazily: the pickle yields {@link TensorRef}s, and only the ones
 * a caller keeps (the state dict, not the optimizer state beside it) read their storage.
 */
final class TorchPickle implements AutoCloseable {

    private final Path file;
    private final ZipFile zip;
    private final String prefix;
    private final Map<String, Storage> storages = new HashMap<>();

    private TorchPickle(Path file, ZipFile zip, String prefix) {
        this.file = file;
        this.zip = zip;
        this.prefix = prefix;
    }

    /** Opens the archive; call {@link #root()} for the unpickled object. */
    static TorchPickle open(Path file) throws IOException {
        ZipFile zip;
        try {
            zip = new ZipFile(file.toFile());
        } catch (java.util.zip.ZipException e) {
            throw new IOException(file + ": not a torch.save zip archive (the legacy format of torch < 1.6 is not supported;"
                    + " re-save it with a newer torch or convert it to safetensors)", e);
        }
        String prefix = null;
        for (var it = zip.entries(); it.hasMoreElements(); ) {
            String n = it.nextElement().getName();
            if (n.endsWith("data.pkl") && (n.equals("data.pkl") || n.endsWith("/data.pkl")) && n.indexOf('/') == n.lastIndexOf('/')) {
                prefix = n.substring(0, n.length() - "data.pkl".length());
                break;
            }
        }
        if (prefix == null) {
            zip.close();
            throw new IOException(file + ": zip archive without data.pkl: not a torch.save checkpoint");
        }
        ZipEntry order = zip.getEntry(prefix + "byteorder");
        if (order != null) {
            String bo = new String(zip.getInputStream(order).readAllBytes(), StandardCharsets.US_ASCII).trim();
            if (!bo.equals("little")) {
                zip.close();
                throw new IOException(file + ": storages are " + bo + "-endian; only little-endian checkpoints are supported");
            }
        }
        return new TorchPickle(file, zip, prefix);
    }

    /** Unpickles data.pkl with the restricted unpickler. */
    Object root() throws IOException {
        ZipEntry entry = zip.getEntry(prefix + "data.pkl");
        long cap = entryCap(entry);
        byte[] pkl;
        try (InputStream in = zip.getInputStream(entry)) {
            pkl = in.readNBytes((int) Math.min(cap, Integer.MAX_VALUE - 8));
            if (in.read() >= 0) throw tooLarge(entry, cap);
        }
        try {
            return new Restricted().loads(pkl);
        } catch (Refused e) {
            throw new IOException(file + ": " + e.getMessage());
        } catch (IOException | RuntimeException | StackOverflowError e) {
            throw new IOException(file + ": malformed checkpoint pickle: " + e, e);
        }
    }

    /**
     * How many bytes an entry may inflate to: a stored entry is bounded by the file itself, a
     * compressed one (a zip bomb's kind) by {@link InputLimits#maxEntryBytes()}.
     */
    private static long entryCap(ZipEntry e) {
        return e.getMethod() == ZipEntry.STORED && e.getSize() >= 0 ? e.getSize() : InputLimits.maxEntryBytes();
    }

    private IOException tooLarge(ZipEntry e, long cap) {
        return new IOException(file + ": zip entry " + e.getName() + " inflates to more than " + cap + " bytes"
                + (e.getMethod() == ZipEntry.STORED ? "" : " (raise the limit with --max-entry-bytes)"));
    }

    @Override
    public void close() throws IOException {
        for (Storage s : storages.values()) s.release();
        storages.clear();
        zip.close();
    }

    // ---------------------------------------------------------------- pickle stand-ins

    /** A storage named by a persistent id: entry key, element type, element count. */
    record StorageRef(String key, String torchType, DType dtype, long numel) {}

    /** A tensor as _rebuild_tensor_v2 describes it: a strided view of a storage. */
    record TensorRef(StorageRef storage, long offset, int[] size, long[] stride) {}

    /** collections.OrderedDict; BUILD on it (the state dict's _metadata attribute) is ignored. */
    static final class PyOrderedDict extends LinkedHashMap<Object, Object> {}

    /**
     * An inert stand-in for a known configuration class: its dict items (a CfgNode is a dict)
     * and, in attributes, the state BUILD gave it (a Namespace's fields). Nothing of the class runs.
     */
    static final class PyObject extends LinkedHashMap<Object, Object> {
        final String type;
        final Map<Object, Object> attributes = new LinkedHashMap<>();

        PyObject(String type) { this.type = type; }
    }

    /** The configuration classes unpickled as {@link PyObject}s. */
    static final java.util.Set<String> INERT_CLASSES = java.util.Set.of("argparse.Namespace", "yacs.config.CfgNode");

    /** A refused pickle: names the global or opcode. */
    static final class Refused extends RuntimeException {
        Refused(String message) { super(message); }
    }

    /** A resolved global; only these can be called by REDUCE / NEWOBJ. */
    private record Global(String name, IObjectConstructor body) {}

    private static final Map<String, DType> STORAGE_TYPES = Map.ofEntries(
            Map.entry("FloatStorage", DType.F32), Map.entry("DoubleStorage", DType.F64),
            Map.entry("HalfStorage", DType.F16), Map.entry("BFloat16Storage", DType.BF16),
            Map.entry("LongStorage", DType.I64), Map.entry("IntStorage", DType.I32),
            // widened to I32: the engine has no 8- or 16-bit integer type
            Map.entry("ShortStorage", DType.I32), Map.entry("CharStorage", DType.I32), Map.entry("ByteStorage", DType.I32),
            Map.entry("BoolStorage", DType.BOOL));

    private static Global resolve(String module, String name) {
        String full = module + "." + name;
        IObjectConstructor body = switch (full) {
            case "torch._utils._rebuild_tensor_v2" -> args -> rebuildTensor(full, args, 6);
            case "torch._utils._rebuild_tensor" -> args -> rebuildTensor(full, args, 4);
            case "torch._utils._rebuild_parameter" -> args -> tensorArg(full, args, 0);
            case "torch._utils._rebuild_parameter_with_state" -> args -> tensorArg(full, args, 0);
            case "torch._tensor._rebuild_from_type_v2" -> args -> {
                // (func, type, args, state): func is an allowed rebuild function, type Tensor or Parameter
                if (args.length < 3 || !(args[0] instanceof Global f) || !(args[1] instanceof Global t)
                        || !(t.name.equals("torch.Tensor") || t.name.equals("torch.nn.parameter.Parameter"))) {
                    throw new Refused("refused " + full + " with arguments " + describe(args));
                }
                return f.body.construct((Object[]) args[2]);
            };
            case "collections.OrderedDict" -> args -> {
                if (args.length != 0) throw new Refused("refused collections.OrderedDict with arguments");
                return new PyOrderedDict();
            };
            case "torch.Size" -> args -> args.length == 0 ? new Object[0] : args[0];
            // a set among a config's fields (yacs keeps its deprecated keys in one); protocol 2 names builtins __builtin__
            case "__builtin__.set", "builtins.set", "__builtin__.frozenset", "builtins.frozenset" -> args -> {
                if (args.length == 0) return new java.util.LinkedHashSet<>();
                if (args.length != 1 || !(args[0] instanceof java.util.Collection<?> items)) throw new Refused("refused " + full + " with arguments " + Arrays.toString(args));
                return new java.util.LinkedHashSet<Object>(items);
            };
            case "argparse.Namespace", "yacs.config.CfgNode" -> args -> {
                // NEWOBJ cls(): an empty object whose items and fields follow as data
                if (args.length != 0) throw new Refused("refused " + full + " with arguments " + Arrays.toString(args));
                return new PyObject(full);
            };
            case "torch.Tensor", "torch.nn.parameter.Parameter" -> args -> {
                throw new Refused("refused to call " + full + " directly");
            };
            default -> {
                if (module.equals("torch") && STORAGE_TYPES.containsKey(name)) {
                    yield args -> { throw new Refused("refused to call " + full + " directly"); };
                }
                throw new Refused("refused to unpickle global '" + full + "': only the torch tensor and state-dict globals"
                        + " are allowed (this pickle would run code if loaded in Python)");
            }
        };
        return new Global(full, body);
    }

    private static Object tensorArg(String fn, Object[] args, int i) {
        if (args.length <= i || !(args[i] instanceof TensorRef)) throw new Refused(fn + ": expected a tensor, got " + describe(args));
        return args[i];
    }

    private static TensorRef rebuildTensor(String fn, Object[] args, int minArgs) {
        if (args.length < 4 || !(args[0] instanceof StorageRef st) || !(args[1] instanceof Number off)) {
            throw new Refused(fn + ": unexpected arguments " + describe(args));
        }
        int[] size = ints(fn, args[2]);
        long[] stride = Arrays.stream(ints(fn, args[3])).asLongStream().toArray();
        if (size.length != stride.length) throw new Refused(fn + ": size " + Arrays.toString(size) + " and stride " + Arrays.toString(stride));
        return new TensorRef(st, off.longValue(), size, stride);
    }

    private static int[] ints(String fn, Object o) {
        Object[] items;
        if (o instanceof Object[] a) items = a;
        else if (o instanceof List<?> l) items = l.toArray();
        else throw new Refused(fn + ": expected a tuple of ints, got " + describe(o));
        int[] out = new int[items.length];
        for (int i = 0; i < items.length; i++) {
            if (!(items[i] instanceof Number n) || n.longValue() < 0 || n.longValue() > Integer.MAX_VALUE) {
                throw new Refused(fn + ": bad size/stride entry " + describe(items[i]));
            }
            out[i] = n.intValue();
        }
        return out;
    }

    private final class Restricted extends Unpickler {
        /** Nesting depth of the containers built so far (see {@link #nest}). */
        private final Map<Object, Integer> depth = new java.util.IdentityHashMap<>();

        @Override
        protected Object dispatch(short key) throws IOException {
            switch (key) {
                case Opcodes.GLOBAL -> {
                    String module = readLine(), name = readLine();
                    stack.add(resolve(module, name));
                    return NO_RETURN_VALUE;
                }
                case Opcodes.STACK_GLOBAL -> {
                    Object name = stack.pop(), module = stack.pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) throw new Refused("STACK_GLOBAL with non-string names");
                    stack.add(resolve(m, n));
                    return NO_RETURN_VALUE;
                }
                case Opcodes.REDUCE, Opcodes.NEWOBJ -> {
                    Object args = stack.pop(), callable = stack.pop();
                    if (!(callable instanceof Global g)) throw new Refused("refused to call a " + describe(callable) + " (not an allowed global)");
                    if (!(args instanceof Object[] a)) throw new Refused("refused to call " + g.name + " with " + describe(args));
                    stack.add(g.body.construct(a));
                    return NO_RETURN_VALUE;
                }
                case Opcodes.BUILD -> {
                    Object state = stack.pop();
                    Object target = stack.peek();
                    if (target instanceof PyObject o) {
                        // obj.__dict__ (or the (dict, slots) pair): kept as data
                        Object dict = state instanceof Object[] pair && pair.length == 2 ? pair[0] : state;
                        if (dict instanceof Map<?, ?> m) o.attributes.putAll(m);
                        else if (dict != null) throw new Refused("refused the state " + describe(state) + " of " + o.type + " (BUILD)");
                        return NO_RETURN_VALUE;
                    }
                    if (!(target instanceof PyOrderedDict)) throw new Refused("refused to set the state of a " + describe(target) + " (BUILD)");
                    return NO_RETURN_VALUE;
                }
                // dicts keep insertion order, as Python's do (razorvine's HashMap would shuffle state dicts)
                case Opcodes.EMPTY_DICT -> {
                    stack.add(new LinkedHashMap<Object, Object>());
                    return NO_RETURN_VALUE;
                }
                case Opcodes.DICT -> {
                    List<Object> items = stack.pop_all_since_marker();
                    Map<Object, Object> d = new LinkedHashMap<>();
                    for (int i = 0; i + 1 < items.size(); i += 2) put(d, items.get(i), items.get(i + 1));
                    stack.add(d);
                    return NO_RETURN_VALUE;
                }
                case Opcodes.SETITEM -> {
                    Object value = stack.pop(), k = stack.pop();
                    put(dict(stack.peek()), k, value);
                    return NO_RETURN_VALUE;
                }
                case Opcodes.SETITEMS -> {
                    List<Object> items = stack.pop_all_since_marker();
                    Map<Object, Object> d = dict(stack.peek());
                    for (int i = 0; i + 1 < items.size(); i += 2) put(d, items.get(i), items.get(i + 1));
                    return NO_RETURN_VALUE;
                }
                // sets hash their items; only flat, hashable ones are accepted (see hashable)
                case Opcodes.EMPTY_SET -> {
                    stack.add(new java.util.LinkedHashSet<Object>());
                    return NO_RETURN_VALUE;
                }
                case Opcodes.ADDITEMS, Opcodes.FROZENSET -> {
                    List<Object> items = stack.pop_all_since_marker();
                    java.util.Set<Object> set;
                    if (key == Opcodes.FROZENSET) {
                        set = new java.util.LinkedHashSet<>();
                        stack.add(set);
                    } else if (stack.peek() instanceof java.util.Set<?> s) {
                        @SuppressWarnings("unchecked") java.util.Set<Object> cast = (java.util.Set<Object>) s;
                        set = cast;
                    } else {
                        throw new Refused("ADDITEMS on a " + describe(stack.peek()));
                    }
                    for (Object o : items) set.add(hashable(o));
                    return NO_RETURN_VALUE;
                }
                case Opcodes.APPEND -> {
                    Object child = stack.peek();
                    Object r = super.dispatch(key);
                    nest(stack.peek(), child);
                    return r;
                }
                case Opcodes.APPENDS -> {
                    List<Object> items = stack.pop_all_since_marker();
                    if (!(stack.peek() instanceof List<?> l)) throw new Refused("APPENDS on a " + describe(stack.peek()));
                    @SuppressWarnings("unchecked") List<Object> list = (List<Object>) l;
                    list.addAll(items);
                    for (Object o : items) nest(list, o);
                    return NO_RETURN_VALUE;
                }
                case Opcodes.TUPLE, Opcodes.TUPLE1, Opcodes.TUPLE2, Opcodes.TUPLE3, Opcodes.LIST -> {
                    Object r = super.dispatch(key);
                    Object made = stack.peek();
                    if (made instanceof Object[] a) for (Object o : a) nest(made, o);
                    else if (made instanceof List<?> l) for (Object o : l) nest(made, o);
                    return r;
                }
                case Opcodes.PUT, Opcodes.BINPUT, Opcodes.LONG_BINPUT, Opcodes.MEMOIZE -> {
                    Object r = super.dispatch(key);
                    if (memo.size() > InputLimits.MAX_PICKLE_MEMO) throw new Refused("the pickle memoizes more than " + InputLimits.MAX_PICKLE_MEMO + " objects");
                    return r;
                }
                case Opcodes.INST -> throw new Refused("refused to instantiate '" + readLine() + "." + readLine() + "' (INST)");
                case Opcodes.OBJ, Opcodes.NEWOBJ_EX, Opcodes.EXT1, Opcodes.EXT2, Opcodes.EXT4 ->
                        throw new Refused("refused pickle opcode " + key + " (it instantiates arbitrary objects)");
                default -> {
                    return super.dispatch(key);
                }
            }
        }

        private void put(Map<Object, Object> d, Object k, Object v) {
            d.put(hashable(k), v);
            nest(d, k);
            nest(d, v);
        }

        /**
         * Records that child now sits inside container and refuses nesting deeper than
         * {@link InputLimits#MAX_PICKLE_DEPTH}: whatever walks the result later (Python would
         * too) must not overflow the stack.
         */
        private void nest(Object container, Object child) {
            int c = depthOf(child) + 1;
            if (c > InputLimits.MAX_PICKLE_DEPTH) throw new Refused("the pickle nests containers deeper than " + InputLimits.MAX_PICKLE_DEPTH + " levels");
            if (c > depthOf(container)) depth.put(container, c);
        }

        private int depthOf(Object o) {
            if (!(o instanceof Object[] || o instanceof java.util.Collection<?> || o instanceof Map<?, ?>)) return 0;
            return depth.getOrDefault(o, 1);
        }

        @Override
        protected Object persistentLoad(Object pid) {
            if (!(pid instanceof Object[] t) || t.length < 5 || !"storage".equals(t[0]) || !(t[1] instanceof Global type)
                    || !(t[2] instanceof String key) || !(t[4] instanceof Number numel)) {
                throw new Refused("unexpected persistent id " + describe(pid));
            }
            String typeName = type.name.substring(type.name.lastIndexOf('.') + 1);
            DType dtype = STORAGE_TYPES.get(typeName);
            if (dtype == null || !type.name.startsWith("torch.")) throw new Refused("unsupported storage type " + type.name);
            if (numel.longValue() < 0) throw new Refused("storage " + key + " has " + numel + " elements");
            return new StorageRef(key, typeName, dtype, numel.longValue());
        }

        @SuppressWarnings("unchecked")
        private static Map<Object, Object> dict(Object o) {
            if (!(o instanceof Map<?, ?>)) throw new Refused("SETITEM on a " + describe(o));
            return (Map<Object, Object>) o;
        }

        private String readLine() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            int c;
            while ((c = input.read()) != '\n') {
                if (c < 0) throw new IOException("truncated pickle");
                b.write(c);
            }
            return b.toString(StandardCharsets.UTF_8);
        }
    }

    /**
     * A short description that never walks into the object: a pickle can share one tuple many
     * times (a 2^64-node DAG in a few bytes) or nest it deeply, so printing it whole is a hang or
     * a stack overflow.
     */
    static String describe(Object o) {
        if (o == null) return "None";
        if (o instanceof String str) return "'" + (str.length() > 60 ? str.substring(0, 60) + "..." : str) + "'";
        if (o instanceof Number || o instanceof Boolean) return String.valueOf(o);
        if (o instanceof Object[] a) {
            StringBuilder b = new StringBuilder("tuple(");
            for (int i = 0; i < Math.min(a.length, 6); i++) {
                if (i > 0) b.append(", ");
                Object x = a[i];
                b.append(x instanceof Object[] || x instanceof java.util.Collection<?> || x instanceof Map<?, ?> ? typeName(x) : describe(x));
            }
            return b.append(a.length > 6 ? ", ...)" : ")").toString();
        }
        return typeName(o);
    }

    private static String typeName(Object o) {
        if (o instanceof Object[] a) return "tuple of " + a.length;
        if (o instanceof java.util.Collection<?> c) return o.getClass().getSimpleName() + " of " + c.size();
        if (o instanceof Map<?, ?> m) return "dict of " + m.size();
        if (o instanceof Global g) return g.name;
        return o.getClass().getSimpleName();
    }

    /** Dict keys and set items must hash without walking into containers (Python would refuse an unhashable one). */
    private static Object hashable(Object k) {
        if (k == null || k instanceof String || k instanceof Number || k instanceof Boolean) return k;
        if (k instanceof Object[]) return k; // tuples hash by identity here
        throw new Refused("refused a dict key or set item of type " + typeName(k));
    }

    // ---------------------------------------------------------------- materializing tensors

    /** Reads the tensor's storage (once per storage) and copies its strided view into a new contiguous tensor. */
    Tensor materialize(TensorRef ref) throws IOException {
        StorageRef sr = ref.storage();
        Storage st = storages.get(sr.key());
        if (st == null) {
            st = readStorage(sr);
            storages.put(sr.key(), st);
        }
        long need = ref.offset();
        try {
            for (int i = 0; i < ref.size().length; i++) {
                if (ref.size()[i] == 0) { need = -1; break; }
                need = Math.addExact(need, Math.multiplyExact((long) (ref.size()[i] - 1), ref.stride()[i]));
            }
        } catch (ArithmeticException e) {
            need = Long.MAX_VALUE;
        }
        if (ref.offset() < 0 || need >= sr.numel()) {
            throw new IOException(file + ": tensor " + Shapes.str(ref.size()) + " with stride " + Arrays.toString(ref.stride())
                    + " at offset " + ref.offset() + " reaches past storage " + sr.key() + " of " + sr.numel() + " elements");
        }
        int[] strides = new int[ref.stride().length];
        for (int i = 0; i < strides.length; i++) strides[i] = Math.toIntExact(ref.stride()[i]);
        Tensor view = new Tensor(st.retain(), ref.size(), strides, ref.offset(), sr.dtype());
        Tensor out;
        try (var ng = dev.lumen.autograd.GradMode.noGrad()) {
            out = view.copy();
        }
        view.close();
        return Scope.detachFromScopes(out);
    }

    private Storage readStorage(StorageRef sr) throws IOException {
        ZipEntry e = zip.getEntry(prefix + "data/" + sr.key());
        if (e == null) throw new IOException(file + ": storage entry " + prefix + "data/" + sr.key() + " is missing");
        int srcBytes = switch (sr.torchType()) {
            case "ShortStorage" -> 2;
            case "CharStorage", "ByteStorage" -> 1;
            default -> sr.dtype().byteSize();
        };
        long want, have;
        try {
            want = Math.multiplyExact(sr.numel(), srcBytes);
            have = Math.multiplyExact(sr.numel(), sr.dtype().byteSize());
        } catch (ArithmeticException ex) {
            throw new IOException(file + ": storage " + sr.key() + " claims " + sr.numel() + " elements: its byte count overflows 64 bits");
        }
        long cap = Math.min(entryCap(e), Integer.MAX_VALUE - 8);
        if (want > cap) {
            throw new IOException(file + ": storage " + sr.key() + " claims " + want + " bytes (" + sr.numel() + " x " + sr.torchType()
                    + ") but its entry holds " + (e.getMethod() == ZipEntry.STORED ? e.getSize() + " bytes" : "at most " + cap
                    + " bytes once inflated (raise the limit with --max-entry-bytes)"));
        }
        byte[] raw;
        try (InputStream in = zip.getInputStream(e)) {
            raw = in.readNBytes((int) want);
        }
        if (raw.length != want) {
            throw new IOException(file + ": storage " + sr.key() + " has " + raw.length + " bytes, expected " + want
                    + " (" + sr.numel() + " x " + sr.torchType() + ")");
        }
        Storage st = Storage.host(Math.max(1, have));
        MemorySegment seg = st.segment();
        if (srcBytes == sr.dtype().byteSize()) {
            MemorySegment.copy(MemorySegment.ofArray(raw), 0, seg, 0, want);
        } else {
            var le16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            MemorySegment src = MemorySegment.ofArray(raw);
            for (long i = 0; i < sr.numel(); i++) {
                int v = switch (sr.torchType()) {
                    case "ShortStorage" -> src.get(le16, 2 * i);
                    case "CharStorage" -> raw[(int) i];
                    default -> raw[(int) i] & 0xff;
                };
                seg.set(ValueLayout.JAVA_INT_UNALIGNED, 4 * i, v);
            }
        }
        return st;
    }
}
