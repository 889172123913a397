package dev.lumen.app.train;

import java.lang.reflect.Field;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * Every option of {@code lumen train}, named as timm's train.py names them where it has one.
 * Picocli fills the fields (the class is a mixin of TrainCommand); {@link Trainer} resolves the
 * ones left open (lr, image size, channels, classes, output folder) and writes them all to
 * config.json through {@link #toMap()}. A resumed run starts from the map stored in its
 * checkpoint ({@link #fromMap}).
 */
public final class TrainConfig {
    /** The model the built-in Fashion-MNIST recipe (make train) uses by default. */
    public static final String DEFAULT_MODEL = "resnet_micro";

    // ------------------------------------------------------------------ model and data
    @Option(names = "--model", paramLabel = "NAME", description = "Model name (`lumen models` lists them). Default: ${DEFAULT-VALUE}.",
            defaultValue = DEFAULT_MODEL)
    public String model = DEFAULT_MODEL;

    @Option(names = "--data", paramLabel = "DIR", description = "Folder with train/ and val/ class folders (`lumen split` makes them).")
    public Path data;

    @Option(names = "--dataset", paramLabel = "NAME",
            description = "Built-in dataset when --data is absent: fashion-mnist (its test split is the validation set). Default: ${DEFAULT-VALUE}.",
            defaultValue = "fashion-mnist")
    public String dataset = "fashion-mnist";

    @Option(names = "--num-classes", paramLabel = "N", description = "Class count; default: from the dataset.")
    public Integer numClasses;

    @Option(names = "--img-size", paramLabel = "N", description = "Input side length; default: 28 for fashion-mnist, else the model's.")
    public Integer imgSize;

    @Option(names = "--in-chans", paramLabel = "C", description = "Input channels, 1 or 3; default: from the dataset (1 for grey images).")
    public Integer inChans;

    @Option(names = "--mean", paramLabel = "M", split = ",", description = "Normalize mean per channel (`lumen stats`); default: the dataset's, or ImageNet's for RGB folders, 0.5 for grey ones.")
    public double[] mean;

    @Option(names = "--std", paramLabel = "S", split = ",", description = "Normalize std per channel; default as --mean.")
    public double[] std;

    @Option(names = {"-b", "--batch-size"}, paramLabel = "N", description = "Training batch size. Default: ${DEFAULT-VALUE}.", defaultValue = "128")
    public int batchSize = 128;

    @Option(names = "--epochs", paramLabel = "N", description = "Epochs to train. Default: ${DEFAULT-VALUE}.", defaultValue = "10")
    public int epochs = 10;

    @Option(names = {"-j", "--workers"}, paramLabel = "N", description = "Data loading threads (0: on the training thread). Default: cores - 1.")
    public Integer workers;

    @Option(names = "--seed", paramLabel = "N", description = "Seed of the model init, dropout, shuffling, augmentation and MixUp. Default: ${DEFAULT-VALUE}.",
            defaultValue = "42")
    public long seed = 42;

    // ------------------------------------------------------------------ optimizer and schedule
    @Option(names = "--opt", paramLabel = "NAME",
            description = "Optimizer, as timm names them: sgd (Nesterov momentum), momentum (plain momentum SGD), adam, adamw, nadam, radam,"
                    + " rmsprop (torch's, alpha 0.9), rmsproptf (TensorFlow-style), lamb, lars, adabelief. Default: ${DEFAULT-VALUE}.",
            defaultValue = "sgd")
    public String opt = "sgd";

    @Option(names = "--opt-eps", paramLabel = "EPS", description = "Optimizer epsilon; default: the optimizer's own (1e-8 for adam, 1e-6 for lamb ...).")
    public Double optEps;

    @Option(names = "--opt-betas", paramLabel = "B", arity = "2", description = "Optimizer betas B1 B2; default: the optimizer's own (0.9 0.999).")
    public double[] optBetas;

    @Option(names = "--lr", paramLabel = "LR", description = "Peak learning rate; default: from --lr-base (timm's rule).")
    public Double lr;

    @Option(names = "--lr-base", paramLabel = "LR",
            description = "Without --lr: lr = LR x r, r = batch x grad-accum-steps / --lr-base-size (its square root with --lr-base-scale sqrt). Default: ${DEFAULT-VALUE}.",
            defaultValue = "0.1")
    public double lrBase = 0.1;

    @Option(names = "--lr-base-size", paramLabel = "N", description = "Batch size that --lr-base is for. Default: ${DEFAULT-VALUE}.", defaultValue = "256")
    public int lrBaseSize = 256;

    @Option(names = "--lr-base-scale", paramLabel = "linear|sqrt",
            description = "How the lr follows the batch size; default: sqrt for the adaptive optimizers (names with 'ada', and lamb), else linear.")
    public String lrBaseScale;

    @Option(names = "--momentum", paramLabel = "M", description = "Momentum (sgd, momentum, rmsprop, rmsproptf, lars). Default: ${DEFAULT-VALUE}.",
            defaultValue = "0.9")
    public double momentum = 0.9;

    @Option(names = "--weight-decay", paramLabel = "WD",
            description = "Weight decay (none on norms, biases, pos_embed, cls_token). Default: ${DEFAULT-VALUE}.", defaultValue = "2e-5")
    public double weightDecay = 2e-5;

    @Option(names = "--sched", paramLabel = "NAME",
            description = "cosine, step or multistep (per update, with warmup, timm's schedulers) or lambda (per epoch, from 1 down to --lrf). Default: ${DEFAULT-VALUE}.",
            defaultValue = "cosine")
    public String sched = "cosine";

    @Option(names = "--warmup-epochs", paramLabel = "N", description = "Linear warmup epochs (cosine, step, multistep). Default: ${DEFAULT-VALUE}.",
            defaultValue = "5")
    public double warmupEpochs = 5;

    @Option(names = "--warmup-lr", paramLabel = "LR", description = "Learning rate the warmup starts from. Default: ${DEFAULT-VALUE}.", defaultValue = "1e-5")
    public double warmupLr = 1e-5;

    @Option(names = "--min-lr", paramLabel = "LR", description = "Floor of the cosine schedule, held through the cooldown. Default: ${DEFAULT-VALUE}.",
            defaultValue = "0")
    public double minLr = 0;

    @Option(names = "--cooldown-epochs", paramLabel = "N",
            description = "Epochs trained after --epochs at the schedule's end lr (--min-lr for cosine). Default: ${DEFAULT-VALUE}.", defaultValue = "0")
    public int cooldownEpochs;

    @Option(names = "--lrf", paramLabel = "F", description = "Final lr fraction of the lambda schedule. Default: ${DEFAULT-VALUE}.", defaultValue = "0.01")
    public double lrf = 0.01;

    @Option(names = "--decay-epochs", paramLabel = "N", description = "Step schedule: epochs between decays. Default: ${DEFAULT-VALUE}.", defaultValue = "90")
    public double decayEpochs = 90;

    @Option(names = "--decay-milestones", paramLabel = "E", split = ",", arity = "1..*",
            description = "Multistep schedule: epochs at which the lr is multiplied by --decay-rate. Default: 90,180,270.")
    public double[] decayMilestones;

    @Option(names = "--decay-rate", paramLabel = "R", description = "Step and multistep schedules: lr factor per decay. Default: ${DEFAULT-VALUE}.",
            defaultValue = "0.1")
    public double decayRate = 0.1;

    @Option(names = "--clip-grad", paramLabel = "V", description = "Gradient clipping threshold (after unscaling with --amp); see --clip-mode.")
    public Double clipGrad;

    @Option(names = "--clip-mode", paramLabel = "MODE",
            description = "norm (global 2-norm to V), value (each element into [-V, V]) or agc (adaptive: each unit's grad norm to V x its weight norm). Default: ${DEFAULT-VALUE}.",
            defaultValue = "norm")
    public String clipMode = "norm";

    @Option(names = "--grad-accum-steps", paramLabel = "N",
            description = "Micro-batches per optimizer update: the loss is divided by N, the lr schedule counts updates. Default: ${DEFAULT-VALUE}.",
            defaultValue = "1")
    public int gradAccumSteps = 1;

    @Option(names = "--layer-decay", paramLabel = "D",
            description = "Layer-wise lr decay: a parameter group per block, lr x D^(blocks after it), the head at 1 (timm's param_groups_layer_decay).")
    public Double layerDecay;

    // ------------------------------------------------------------------ regularization and augmentation
    @Option(names = "--smoothing", paramLabel = "S", description = "Label smoothing. Default: ${DEFAULT-VALUE}.", defaultValue = "0.1")
    public double smoothing = 0.1;

    @Option(names = "--mixup", paramLabel = "ALPHA", description = "MixUp alpha (on when > 0). Default: ${DEFAULT-VALUE}.", defaultValue = "0")
    public double mixup;

    @Option(names = "--cutmix", paramLabel = "ALPHA", description = "CutMix alpha (on when > 0). Default: ${DEFAULT-VALUE}.", defaultValue = "0")
    public double cutmix;

    @Option(names = "--cutmix-minmax", paramLabel = "F", arity = "2",
            description = "CutMix box side fractions MIN MAX (turns CutMix on with alpha 1).")
    public double[] cutmixMinmax;

    @Option(names = "--mixup-prob", paramLabel = "P", description = "Probability to mix a batch. Default: ${DEFAULT-VALUE}.", defaultValue = "1.0")
    public double mixupProb = 1.0;

    @Option(names = "--mixup-switch-prob", paramLabel = "P", description = "Probability of CutMix when both are on. Default: ${DEFAULT-VALUE}.",
            defaultValue = "0.5")
    public double mixupSwitchProb = 0.5;

    @Option(names = "--mixup-mode", paramLabel = "MODE", description = "batch, pair or elem. Default: ${DEFAULT-VALUE}.", defaultValue = "batch")
    public String mixupMode = "batch";

    @Option(names = "--aa", paramLabel = "SPEC", description = "AutoAugment policy, as timm: rand-m9-mstd0.5-inc1 (RandAugment: m magnitude"
            + " 0-10, n ops per image, mstd magnitude noise, inc1 ops that grow with m, p op probability, mmax magnitude cap, tweights"
            + " timm's weighted op set), or original, originalr, v0, v0r (AutoAugment, optional -mstd0.5). Replaces --color-jitter,"
            + " as in timm. Default: off.")
    public String aa;

    @Option(names = "--color-jitter", paramLabel = "F", split = ",",
            description = "ColorJitter strength for brightness, contrast and saturation (one value, as timm), or B,C,S[,H] with hue. Default: 0 (off; timm's is 0.4).")
    public double[] colorJitter;

    @Option(names = "--hflip", paramLabel = "P", description = "Horizontal flip probability. Default: ${DEFAULT-VALUE}.", defaultValue = "0.5")
    public double hflip = 0.5;

    @Option(names = "--vflip", paramLabel = "P", description = "Vertical flip probability. Default: ${DEFAULT-VALUE}.", defaultValue = "0")
    public double vflip;

    @Option(names = "--scale", paramLabel = "F", arity = "2",
            description = "RandomResizedCrop area fraction MIN MAX (timm's 0.08 1.0); also switches images up to 64 px from pad-and-crop to it.")
    public double[] scale;

    @Option(names = "--ratio", paramLabel = "R", arity = "2", description = "RandomResizedCrop aspect ratio MIN MAX (timm's 0.75 1.3333).")
    public double[] ratio;

    @Option(names = "--reprob", paramLabel = "P", description = "Random erasing probability (after Normalize). Default: ${DEFAULT-VALUE}.", defaultValue = "0")
    public double reprob;

    @Option(names = "--remode", paramLabel = "MODE", description = "Random erasing fill: const (zeros), rand (one normal draw per channel) or pixel"
            + " (per pixel). Default: ${DEFAULT-VALUE}.", defaultValue = "pixel")
    public String remode = "pixel";

    @Option(names = "--recount", paramLabel = "N", description = "Random erasing: up to N rectangles per image. Default: ${DEFAULT-VALUE}.", defaultValue = "1")
    public int recount = 1;

    @Option(names = "--train-interpolation", paramLabel = "NAME",
            description = "Training resize and warp filter: bilinear, bicubic, nearest or random (timm's default). Default: ${DEFAULT-VALUE}.",
            defaultValue = "bilinear")
    public String trainInterpolation = "bilinear";

    @Option(names = "--interpolation", paramLabel = "NAME", description = "Validation resize filter: bilinear, bicubic or nearest. Default: ${DEFAULT-VALUE}.",
            defaultValue = "bilinear")
    public String interpolation = "bilinear";

    @Option(names = "--crop-pct", paramLabel = "F", description = "Validation centre crop fraction: resize to img-size / F, crop img-size"
            + " (images above 64 px). Default: ${DEFAULT-VALUE}.", defaultValue = "0.875")
    public double cropPct = 0.875;

    @Option(names = "--crop-padding", paramLabel = "PX", description = "Small images (up to 64 px): pad by PX and crop back at random"
            + " (0: no crop). Default: img-size/8.")
    public Integer cropPadding;

    @Option(names = "--cutout", paramLabel = "N", description = "Cutout holes of side img-size/2 per training image (0: off). Default: ${DEFAULT-VALUE}.",
            defaultValue = "0")
    public int cutout;

    @Option(names = "--drop", paramLabel = "P", description = "Dropout before the classifier. Default: ${DEFAULT-VALUE}.", defaultValue = "0")
    public double drop;

    @Option(names = "--drop-path", paramLabel = "P", description = "Stochastic depth rate. Default: ${DEFAULT-VALUE}.", defaultValue = "0")
    public double dropPath;

    @Option(names = "--model-ema", description = "Keep an exponential moving average of the weights, validated each epoch and saved as ema.safetensors.")
    public boolean modelEma;

    @Option(names = "--model-ema-decay", paramLabel = "D", description = "EMA decay. Default: ${DEFAULT-VALUE}.", defaultValue = "0.9998")
    public double modelEmaDecay = 0.9998;

    @Option(names = "--model-ema-warmup", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Warm the EMA decay up as timm's ModelEmaV3 does (first update copies the model, then min(decay, 1-(1+t)^(-2/3)));"
                    + " on by default with --model-ema, --no-model-ema-warmup for a constant decay. Default: ${DEFAULT-VALUE}.")
    public boolean modelEmaWarmup = true;

    @Option(names = "--eval-metric", paramLabel = "NAME",
            description = "top1, top5 or loss: what picks best.safetensors, on the EMA weights when --model-ema is on (as timm). Default: ${DEFAULT-VALUE}.",
            defaultValue = "top1")
    public String evalMetric = "top1";

    @Option(names = "--amp", paramLabel = "TYPE", arity = "0..1", fallbackValue = "bf16",
            description = {"Mixed precision: bf16 (alone: --amp) or f16, with dynamic loss scaling (PyTorch's GradScaler).",
                    "On the CPU backend the kernels compute in f32: the input batch is rounded to TYPE, every other tensor stays f32."})
    public String amp;

    // ------------------------------------------------------------------ timm's training-loop options
    @Option(names = "--input-size", paramLabel = "N", arity = "3",
            description = "Input C H W as timm (square only: H = W); sets --in-chans and --img-size.")
    public int[] inputSize;

    @Option(names = "--train-split", paramLabel = "DIR", description = "Training folder under --data. Default: ${DEFAULT-VALUE}.", defaultValue = "train")
    public String trainSplit = "train";

    @Option(names = "--val-split", paramLabel = "DIR", description = "Validation folder under --data. Default: ${DEFAULT-VALUE}.", defaultValue = "val")
    public String valSplit = "val";

    @Option(names = "--class-map", paramLabel = "FILE",
            description = "Text file of class folder names, one per line, the line number the label (timm's); other folders are skipped.")
    public Path classMap;

    @Option(names = "--bn-momentum", paramLabel = "M", description = "Momentum of every BatchNorm layer's running statistics; default: the model's (0.1).")
    public Double bnMomentum;

    @Option(names = "--bn-eps", paramLabel = "EPS", description = "eps of every BatchNorm layer; default: the model's (1e-5).")
    public Double bnEps;

    @Option(names = "--mixup-off-epoch", paramLabel = "N",
            description = "Turn MixUp/CutMix off from epoch N on (counted from 0, as timm; 0: never). Default: ${DEFAULT-VALUE}.", defaultValue = "0")
    public int mixupOffEpoch;

    @Option(names = "--checkpoint-hist", paramLabel = "N",
            description = "Also keep the N best epochs as checkpoint-EPOCH.safetensors (timm keeps 10; 0: only last and best). Default: ${DEFAULT-VALUE}.",
            defaultValue = "0")
    public int checkpointHist;

    @Option(names = "--log-interval", paramLabel = "N", description = "Updates between training-loss rows of the TensorBoard step curves. Default: ${DEFAULT-VALUE}.",
            defaultValue = "50")
    public int logInterval = 50;

    @Option(names = "--val-interval", paramLabel = "N", description = "Validate every N epochs (and after the last). Default: ${DEFAULT-VALUE}.",
            defaultValue = "1")
    public int valInterval = 1;

    // ------------------------------------------------------------------ weights and run
    @Option(names = "--pretrained", paramLabel = "PATH",
            description = "Start from these weights (.safetensors, .pth, or a lumen checkpoint); the classifier is dropped when the class count differs.")
    public Path pretrained;

    @Option(names = "--freeze", paramLabel = "GLOBS",
            description = "Freeze the parameters whose names match, comma-separated globs; a leading ! unfreezes: '*,!fc.*' trains only the head.")
    public String freeze;

    @Option(names = "--resume", paramLabel = "PATH", description = "Continue a run from its last.safetensors (its options, unless given again).")
    public Path resume;

    @Option(names = "--device", paramLabel = "DEV", description = "cpu, cuda (device 0) or cuda:N. Default: ${DEFAULT-VALUE}.", defaultValue = "cpu")
    public String device = "cpu";

    @Option(names = "--output", paramLabel = "DIR", description = "Run folder; default: runs/<date-time>-<model>/ (or the resumed run's).")
    public Path output;

    /** Options by their long name without dashes ("batch-size"), in declaration order, with the current values. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        for (Field f : optionFields()) {
            Object v = get(f);
            if (v instanceof Path p) v = p.toString();
            if (v instanceof double[] a) v = toList(a);
            if (v instanceof int[] a) v = java.util.Arrays.stream(a).boxed().toList();
            m.put(key(f), v);
        }
        return m;
    }

    /** The option names toMap() uses. */
    public static List<String> keys() { return optionFields().stream().map(TrainConfig::key).toList(); }

    /** A config from a map written by toMap(); unknown keys are an error, absent ones keep their defaults. */
    public static TrainConfig fromMap(Map<String, Object> m) {
        m = withTimmOptNames(m);
        TrainConfig c = new TrainConfig();
        Map<String, Field> byKey = new LinkedHashMap<>();
        for (Field f : optionFields()) byKey.put(key(f), f);
        for (Map.Entry<String, Object> e : m.entrySet()) {
            Field f = byKey.get(e.getKey());
            if (f == null) throw new IllegalArgumentException("config: unknown option '" + e.getKey() + "'");
            c.set(f, e.getValue());
        }
        return c;
    }

    /**
     * A config written before --opt took timm's names had "nesterov": plain "sgd" then is
     * "momentum" now, Nesterov "sgd" is "sgd"; the key itself is gone.
     */
    private static Map<String, Object> withTimmOptNames(Map<String, Object> m) {
        if (!m.containsKey("nesterov")) return m;
        Map<String, Object> out = new LinkedHashMap<>(m);
        Object nesterov = out.remove("nesterov");
        if ("sgd".equals(out.get("opt")) && !Boolean.TRUE.equals(nesterov)) out.put("opt", "momentum");
        return out;
    }

    /** Copies the option with the given key (as in toMap) from other. */
    public void copyFrom(TrainConfig other, String key) {
        for (Field f : optionFields()) {
            if (key(f).equals(key)) {
                try {
                    f.set(this, f.get(other));
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
                return;
            }
        }
        throw new IllegalArgumentException("config: unknown option '" + key + "'");
    }

    /** The option key of a command-line name: "-b" and "--batch-size" give "batch-size". */
    public static String keyOf(String optionName) {
        for (Field f : optionFields()) {
            for (String n : f.getAnnotation(Option.class).names()) if (n.equals(optionName)) return key(f);
        }
        throw new IllegalArgumentException("config: unknown option '" + optionName + "'");
    }

    private static List<Field> optionFields() {
        List<Field> out = new ArrayList<>();
        for (Field f : TrainConfig.class.getDeclaredFields()) if (f.isAnnotationPresent(Option.class)) out.add(f);
        return out;
    }

    private static String key(Field f) {
        String best = "";
        for (String n : f.getAnnotation(Option.class).names()) if (n.length() > best.length()) best = n;
        return best.replaceFirst("^-+", "");
    }

    private Object get(Field f) {
        try {
            return f.get(this);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    private void set(Field f, Object v) {
        Class<?> t = f.getType();
        Object value;
        try {
            if (v == null) value = t.isPrimitive() ? f.get(this) : null;
            else if (t == String.class) value = v.toString();
            else if (t == Path.class) value = Path.of(v.toString());
            else if (t == int.class || t == Integer.class) value = ((Number) v).intValue();
            else if (t == long.class || t == Long.class) value = ((Number) v).longValue();
            else if (t == double.class || t == Double.class) value = ((Number) v).doubleValue();
            else if (t == boolean.class || t == Boolean.class) value = (Boolean) v;
            else if (t == int[].class) value = ((List<?>) v).stream().mapToInt(o -> ((Number) o).intValue()).toArray();
            else if (t == double[].class) value = ((List<?>) v).stream().mapToDouble(o -> ((Number) o).doubleValue()).toArray();
            else throw new IllegalStateException("config: unsupported field type " + t);
            f.set(this, value);
        } catch (ClassCastException e) {
            throw new IllegalArgumentException("config: option '" + key(f) + "' has a value of the wrong type: " + v);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<Double> toList(double[] a) {
        List<Double> l = new ArrayList<>();
        for (double d : a) l.add(d);
        return l;
    }

    /** Lower-cased, trimmed choice. */
    static String norm(String s) { return s == null ? null : s.trim().toLowerCase(Locale.ROOT); }
}
