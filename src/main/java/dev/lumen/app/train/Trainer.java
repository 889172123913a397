package dev.lumen.app.train;

import dev.lumen.app.data.Batch;
import dev.lumen.app.data.ClassMap;
import dev.lumen.app.data.DataLoader;
import dev.lumen.app.data.DistributedSampler;
import dev.lumen.app.data.Dataset;
import dev.lumen.app.data.FashionMnist;
import dev.lumen.app.data.FolderDataset;
import dev.lumen.app.data.Mixup;
import dev.lumen.app.data.transform.Pipelines;
import dev.lumen.autograd.Autocast;
import dev.lumen.autograd.GradMode;
import dev.lumen.distributed.DistributedDataParallel;
import dev.lumen.distributed.ReduceOp;
import dev.lumen.distributed.SyncBatchNorm;
import dev.lumen.io.AtomicFiles;
import dev.lumen.io.Json;
import dev.lumen.io.Printable;
import dev.lumen.io.Safetensors;
import dev.lumen.memory.Scope;
import dev.lumen.models.Checkpoints;
import dev.lumen.models.GroupMatcher;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelOptions;
import dev.lumen.models.ModelRegistry;
import dev.lumen.nn.BatchNorm2d;
import dev.lumen.ops.Losses;
import dev.lumen.ops.Shaping;
import dev.lumen.optim.CosineLR;
import dev.lumen.optim.GradClip;
import dev.lumen.optim.LRScheduler;
import dev.lumen.optim.LambdaLR;
import dev.lumen.optim.ModelEma;
import dev.lumen.optim.MultiStepLR;
import dev.lumen.optim.Optimizer;
import dev.lumen.optim.ParamGroup;
import dev.lumen.optim.ParamGroups;
import dev.lumen.optim.StepLR;
import dev.lumen.optim.WarmupScheduler;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;

/**
 * One training run, timm's train.py recipe on the engine: parameter groups without weight
 * decay on norms, biases and embeddings; the lr schedule stepped per update (warmup, cosine
 * with a floor, or step) or per epoch (lambda); MixUp/CutMix with soft-target cross entropy,
 * else cross entropy with label smoothing; optional loss scaling ({@link GradScaler}), gradient
 * clipping and weight EMA. Each step runs inside a {@link Scope}, and the batch is closed after it.
 *
 * <p>After each epoch the model (and the EMA) is validated, metrics.csv and the TensorBoard
 * scalars get a row, and last.safetensors is written ({@link TrainCheckpoint}), copied to
 * best.safetensors when --eval-metric (top-1, top-5 or loss) improved on the weights it is
 * measured on: the EMA's when an EMA is kept (as timm), else the model's. Everything random is a pure function of the seed
 * and state saved in the checkpoint (the global generator behind init and dropout, the MixUp
 * generator, the loader's seed and epoch), so a resumed run ends with the same weights, bit for
 * bit on the CPU, as one that was never stopped, whatever the worker count.
 */
public final class Trainer {
    /** config.json's "dataset" for a run on a --data folder. */
    static final String FOLDER_DATASET = "folder";

    /** Names timm leaves out of weight decay besides 1-d parameters and biases. */
    static final List<String> NO_DECAY = List.of("pos_embed", "cls_token", "dist_token", "absolute_pos_embed", "relative_position_bias_table");

    /** The largest --img-size: an input side beyond it is a typo or a hostile config, not a training run. */
    public static final int MAX_IMG_SIZE = 8192;

    private final TrainConfig cfg;
    private final PrintStream out;
    private final PrintStream err;
    private final Progress progress;
    private final List<TrainListener> listeners = new ArrayList<>();
    /** A test hook: replaces the loss of (epoch, update) before backward, e.g. with NaN. */
    BiFunction<Tensor, Long, Tensor> lossHook;

    private Device device;
    private Amp amp;
    private String datasetLabel;
    private List<String> classNames;
    private ImageClassifier model;
    private Map<String, Tensor> stateViews;
    private Optimizer optimizer;
    private LRScheduler scheduler;
    private Mixup mixup;
    private ModelEma ema;
    private GradScaler scaler;
    private DataLoader trainLoader;
    private DataLoader valLoader;
    private Path runDir;
    private RunFolder folder;
    private boolean overwrite;
    private MetricsLog log;
    private int startEpoch;
    private long globalStep;
    /** The best --eval-metric so far, NaN before the first epoch. */
    private double best = Double.NaN;
    private int bestEpoch;
    /** The epoch of the checkpoint in last.safetensors (its weights are all finite), 0 before the first. */
    private int lastGoodEpoch;
    private final List<EpochRecord> history = new ArrayList<>();
    private Eval finalEval;
    private CheckpointHistory checkpointHist;
    /** The epoch being trained (from 0), for --mixup-off-epoch. */
    private int currentEpoch;
    /** This trainer's place in a data-parallel run, or null when it trains alone. */
    private DistributedRank rank;

    /** This process's global rank in a data-parallel run, 0 in a single-device one. */
    private int rankIndex() { return rank == null ? 0 : rank.rank(); }
    private DistributedDataParallel ddp;
    private boolean overlapLogged;
    /** Optimizer updates per epoch (with this run's number of ranks), stored in checkpoints. */
    private int updatesPerEpoch;

    public Trainer(TrainConfig cfg, PrintStream out, PrintStream err, Progress progress) {
        this.cfg = cfg;
        this.out = out;
        this.err = err;
        this.progress = progress;
    }

    public Trainer addListener(TrainListener l) {
        listeners.add(l);
        return this;
    }

    public TrainConfig config() { return cfg; }

    /** Makes this trainer one rank of a data-parallel run (before {@link #run}). */
    public Trainer distributed(DistributedRank r) {
        this.rank = r;
        return this;
    }

    private int worldSize() { return rank == null ? 1 : rank.worldSize(); }

    /** Whether this trainer writes the run folder: alone, or as rank 0. */
    private boolean writes() { return rank == null || rank.writes(); }

    /** The run folder (resolved once {@link #run} has set up). */
    public Path runDir() { return runDir; }

    /** "test" for the built-in datasets (their test split validates), else "val". */
    public String validationName() { return datasetLabel; }

    /**
     * The config of a resumed run: the one stored in the checkpoint, with the options given on
     * the command line (explicitKeys, as {@link TrainConfig#toMap()} names them) on top. The run
     * folder stays the checkpoint's unless --output is given.
     */
    @SuppressWarnings("unchecked")
    public static TrainConfig resumeConfig(TrainConfig cli, Collection<String> explicitKeys) {
        Path file = cli.resume;
        Map<String, Object> stored;
        try (TrainCheckpoint.Loaded l = TrainCheckpoint.load(file)) {
            Object c = l.info().get("config");
            if (!(c instanceof Map)) throw new TrainException(file + ": the checkpoint has no run config");
            stored = (Map<String, Object>) c;
        } catch (IOException e) {
            throw new TrainException("--resume " + e.getMessage());
        }
        TrainConfig merged;
        try {
            merged = TrainConfig.fromMap(stored);
        } catch (IllegalArgumentException | ClassCastException | NullPointerException e) {
            throw new TrainException("--resume " + file + ": bad run config in the checkpoint: " + e.getMessage());
        }
        for (String k : explicitKeys) merged.copyFrom(cli, k);
        merged.resume = file;
        if (!explicitKeys.contains("output")) merged.output = file.toAbsolutePath().getParent();
        return merged;
    }

    /** Sets up, trains the remaining epochs, and returns the result; errors are {@link TrainException}s. */
    public TrainResult run() {
        try {
            try {
                setup();
                try {
                    return loop();
                } finally {
                    trainLoader.close();
                    valLoader.close();
                    if (log != null) log.close();
                    if (ddp != null) ddp.close();
                }
            } finally {
                if (folder != null) folder.close();
            }
        } catch (IOException e) {
            throw new TrainException(e.getMessage(), e);
        } catch (UncheckedIOException e) {
            throw new TrainException(e.getMessage(), e);
        }
    }

    /**
     * Lets the run replace the run already in its --output folder (removing that run's files
     * first); without it such a folder is refused unless the run resumes.
     */
    public Trainer overwrite(boolean allow) {
        this.overwrite = allow;
        return this;
    }

    // ------------------------------------------------------------------------------ setup

    private void setup() throws IOException {
        validateOptions();
        device = rank != null ? rank.comm().device() : resolveDevice(cfg.device);
        amp = Amp.parse(cfg.amp);
        Dataset[] sets = datasets();
        Dataset train = sets[0], val = sets[1];
        classNames = train.classNames();
        int dataClasses = train.numClasses();
        if (cfg.numClasses == null) cfg.numClasses = dataClasses;
        if (cfg.numClasses < dataClasses) {
            throw new TrainException("--num-classes " + cfg.numClasses + " is below the dataset's " + dataClasses + " classes " + classNames);
        }
        if (!ModelRegistry.contains(cfg.model)) {
            try {
                ModelRegistry.entry(cfg.model);
            } catch (IllegalArgumentException e) {
                throw new TrainException(e.getMessage());
            }
        }
        if (cfg.imgSize == null) cfg.imgSize = cfg.data == null ? 28 : ModelRegistry.entry(cfg.model).variant().defaultImgSize();
        resolveOptimizerOptions();
        if (cfg.workers == null) cfg.workers = Math.max(1, Runtime.getRuntime().availableProcessors() - 1);
        float[][] norm = normalization();

        ModelOptions mo = ModelOptions.builder().numClasses(cfg.numClasses).inChannels(cfg.inChans).imgSize(cfg.imgSize)
                .dropRate(cfg.drop).dropPathRate(cfg.dropPath).build();
        Checkpoints.Weights pretrained = cfg.pretrained != null ? readPretrained(cfg.pretrained) : null;
        // Rank r draws from seed + r, as timm's random_seed(seed, rank): rank 0's draws (the initial weights
        // every rank receives, its dropout masks) are a lone run's. Ranks on threads each have their own generator.
        synchronized (Generator.global()) {
            Generator.global().manualSeed(cfg.seed + rankIndex());
            try {
                // A checkpoint's layout picks the variant's (CAS-ViT without its distillation head, as the official main.py trains)
                if (pretrained != null) mo = ModelRegistry.fitTo(cfg.model, pretrained.state().keySet(), mo);
                model = ModelRegistry.create(cfg.model, mo);
            } catch (IllegalArgumentException e) {
                if (pretrained != null) pretrained.state().values().forEach(Tensor::close);
                throw new TrainException("--model " + cfg.model + ": " + e.getMessage());
            }
        }
        if (pretrained != null) loadPretrained(cfg.pretrained, pretrained);
        if (cfg.freeze != null) freeze(cfg.freeze);
        applyBatchNormOptions();
        if (!device.equals(Device.CPU)) model.to(device);
        if (rank != null && rank.syncBn()) {
            int n = SyncBatchNorm.convert(model, rank.comm());
            if (writes()) out.println(n == 0 ? "sync-bn: " + cfg.model + " has no BatchNorm layers; --sync-bn changes nothing"
                    : "sync-bn: " + n + " BatchNorm layers normalize over the global batch of " + worldSize() + " ranks");
        }
        model.train();
        stateViews = model.stateDict();

        Pipelines.Options po = TrainPipelines.options(cfg, cfg.imgSize, norm[0], norm[1]);
        // resolved for config.json: only small images without RandomResizedCrop pad and crop
        cfg.cropPadding = po.small() && cfg.scale == null && cfg.ratio == null ? po.padding() : 0;
        // Several ranks: each takes its shard of the one seeded permutation (padded, as PyTorch's DistributedSampler); validation unpadded.
        DistributedSampler trainShard = rank == null ? null : new DistributedSampler(rank.rank(), rank.worldSize(), true);
        DistributedSampler valShard = rank == null ? null : new DistributedSampler(rank.rank(), rank.worldSize(), false);
        int trainSamples = trainShard == null ? train.size() : trainShard.shardSize(train.size());
        trainLoader = DataLoader.builder(train, Pipelines.train(po)).batchSize(cfg.batchSize).shuffle(true).sampler(trainShard)
                .dropLast(trainSamples >= 2 * cfg.batchSize).workers(cfg.workers).seed(cfg.seed).onUnreadable(this::warnUnreadable).build();
        valLoader = DataLoader.builder(val, Pipelines.eval(po)).batchSize(cfg.batchSize).shuffle(false).sampler(valShard).workers(cfg.workers)
                .seed(cfg.seed).onUnreadable(this::warnUnreadable).build();

        optimizer = optimizer();
        updatesPerEpoch = (trainLoader.batchesPerEpoch() + cfg.gradAccumSteps - 1) / cfg.gradAccumSteps;
        scheduler = scheduler(updatesPerEpoch);
        if (cfg.mixup > 0 || cfg.cutmix > 0 || cfg.cutmixMinmax != null) {
            Mixup.Mode mode;
            try {
                mode = Mixup.Mode.parse(cfg.mixupMode);
            } catch (IllegalArgumentException e) {
                throw new TrainException("--mixup-mode must be batch, pair or elem, got '" + cfg.mixupMode + "'");
            }
            if (mode == Mixup.Mode.PAIR && cfg.batchSize % 2 != 0) throw new TrainException("--mixup-mode pair needs an even --batch-size, got " + cfg.batchSize);
            try {
                // Each rank mixes its own batch with its own draws (timm seeds seed + rank); rank 0's are a lone run's.
                long mixSeed = (cfg.seed ^ 0x4D49585550L) + rankIndex();
                mixup = new Mixup(new Mixup.Config(cfg.mixup, cfg.cutmix, cfg.cutmixMinmax, cfg.mixupProb, cfg.mixupSwitchProb, mode, true,
                        cfg.smoothing, cfg.numClasses), new Generator(mixSeed));
            } catch (IllegalArgumentException e) {
                throw new TrainException(e.getMessage().replace("mixup: ", "--mixup/--cutmix: "));
            }
        }
        if (cfg.modelEma) ema = new ModelEma(stateViews, cfg.modelEmaDecay, cfg.modelEmaWarmup ? ModelEma.Warmup.V3_WARMUP : ModelEma.Warmup.V3);
        if (amp.on()) scaler = new GradScaler();

        runDir = cfg.output != null ? cfg.output : defaultRunDir();
        checkpointHist = new CheckpointHistory(cfg.checkpointHist, runDir, "loss".equals(TrainConfig.norm(cfg.evalMetric)));
        if (cfg.resume != null) restore(cfg.resume);
        cfg.output = runDir;
        if (rank != null) {
            // Every rank starts from rank 0's parameters and buffers (the same anyway: same seed, or the same checkpoint).
            ddp = new DistributedDataParallel(model, rank.comm(), DistributedDataParallel.DEFAULT_BUCKET_BYTES);
        }
        if (!writes()) return;
        folder = RunFolder.open(runDir, cfg.resume != null, overwrite, out);
        dev.lumen.app.Logs.toRunFolder(runDir);
        Files.writeString(runDir.resolve("config.json"), Json.write(cfg.toMap(), true) + "\n", StandardCharsets.UTF_8);
        log = new MetricsLog(runDir, history);
        out.println("lumen train: " + cfg.model + " (" + ModelRegistry.formatParams(model.numParameters(true)) + " trainable parameters) on "
                + (cfg.data != null ? cfg.data.toString() : cfg.dataset) + ": " + train.size() + " training, " + val.size() + " " + datasetLabel
                + " images, " + classNames.size() + " classes, " + cfg.imgSize + "x" + cfg.imgSize + "x" + cfg.inChans + "; run folder " + runDir);
        if (rank != null) {
            out.println(String.format(Locale.ROOT, "data-parallel: %d ranks, global batch %d x %d = %d%s", worldSize(), worldSize(), cfg.batchSize,
                    worldSize() * cfg.batchSize, cfg.gradAccumSteps > 1 ? " (x " + cfg.gradAccumSteps + " accumulation steps per update)" : ""));
        }
        out.flush();
    }

    private void validateOptions() {
        validateLoopOptions();
        cfg.opt = TrainConfig.norm(cfg.opt);
        cfg.sched = TrainConfig.norm(cfg.sched);
        cfg.mixupMode = TrainConfig.norm(cfg.mixupMode);
        cfg.evalMetric = TrainConfig.norm(cfg.evalMetric);
        if (!EvalMetric.NAMES.contains(cfg.evalMetric)) {
            throw new TrainException("--eval-metric must be one of " + String.join(", ", EvalMetric.NAMES) + ", got '" + cfg.evalMetric + "'");
        }
        validateOptimizerOptions();
        if (cfg.batchSize < 1) throw new TrainException("--batch-size must be >= 1, got " + cfg.batchSize);
        if (cfg.epochs < 1) throw new TrainException("--epochs must be >= 1, got " + cfg.epochs);
        if (cfg.lr != null && !(cfg.lr > 0)) throw new TrainException("--lr must be > 0, got " + cfg.lr);
        if (cfg.workers != null && cfg.workers < 0) throw new TrainException("--workers must be >= 0, got " + cfg.workers);
        if (cfg.imgSize != null && (cfg.imgSize < 1 || cfg.imgSize > MAX_IMG_SIZE)) {
            throw new TrainException("--img-size must be in [1, " + MAX_IMG_SIZE + "], got " + cfg.imgSize);
        }
        if (cfg.inChans != null && cfg.inChans != 1 && cfg.inChans != 3) throw new TrainException("--in-chans must be 1 or 3, got " + cfg.inChans);
        if (!(cfg.smoothing >= 0 && cfg.smoothing < 1)) throw new TrainException("--smoothing must be in [0, 1), got " + cfg.smoothing);
        if (cfg.warmupEpochs < 0) throw new TrainException("--warmup-epochs must be >= 0, got " + cfg.warmupEpochs);
        if (!(cfg.drop >= 0 && cfg.drop < 1)) throw new TrainException("--drop must be in [0, 1), got " + cfg.drop);
        if (!(cfg.dropPath >= 0 && cfg.dropPath < 1)) throw new TrainException("--drop-path must be in [0, 1), got " + cfg.dropPath);
        if (!(cfg.modelEmaDecay >= 0 && cfg.modelEmaDecay <= 1)) throw new TrainException("--model-ema-decay must be in [0, 1], got " + cfg.modelEmaDecay);
        if (cfg.cutout < 0) throw new TrainException("--cutout must be >= 0, got " + cfg.cutout);
        if (cfg.cropPadding != null && cfg.cropPadding < 0) throw new TrainException("--crop-padding must be >= 0, got " + cfg.cropPadding);
        TrainPipelines.validate(cfg);
    }

    /** timm's training-loop options: --input-size (applied here), splits, BatchNorm, MixUp off, checkpoints, intervals. */
    private void validateLoopOptions() {
        if (cfg.inputSize != null) {
            int[] s = cfg.inputSize;
            if (s[0] != 1 && s[0] != 3) throw new TrainException("--input-size: channels must be 1 or 3, got " + s[0]);
            if (s[1] < 1 || s[1] != s[2]) throw new TrainException("--input-size: height and width must be equal and >= 1 (square inputs), got " + s[1] + " " + s[2]);
            if (cfg.imgSize != null && cfg.imgSize != s[1]) throw new TrainException("--input-size " + s[0] + " " + s[1] + " " + s[2] + " contradicts --img-size " + cfg.imgSize);
            if (cfg.inChans != null && cfg.inChans != s[0]) throw new TrainException("--input-size " + s[0] + " " + s[1] + " " + s[2] + " contradicts --in-chans " + cfg.inChans);
            cfg.inChans = s[0];
            cfg.imgSize = s[1];
        }
        for (String[] split : new String[][] {{"--train-split", cfg.trainSplit}, {"--val-split", cfg.valSplit}}) {
            if (split[1] == null || split[1].isBlank()) throw new TrainException(split[0] + " must name a folder under --data");
        }
        if (cfg.classMap != null && cfg.data == null) throw new TrainException("--class-map needs --data (a folder dataset)");
        if (cfg.bnMomentum != null && !(cfg.bnMomentum >= 0 && cfg.bnMomentum <= 1)) throw new TrainException("--bn-momentum must be in [0, 1], got " + cfg.bnMomentum);
        if (cfg.bnEps != null && !(cfg.bnEps > 0)) throw new TrainException("--bn-eps must be > 0, got " + cfg.bnEps);
        if (cfg.mixupOffEpoch < 0) throw new TrainException("--mixup-off-epoch must be >= 0, got " + cfg.mixupOffEpoch);
        if (cfg.checkpointHist < 0) throw new TrainException("--checkpoint-hist must be >= 0, got " + cfg.checkpointHist);
        if (cfg.logInterval < 1) throw new TrainException("--log-interval must be >= 1, got " + cfg.logInterval);
        if (cfg.valInterval < 1) throw new TrainException("--val-interval must be >= 1, got " + cfg.valInterval);
    }

    /** --bn-momentum and --bn-eps on every BatchNorm layer, as timm passes them to the model's norm layers. */
    private void applyBatchNormOptions() {
        if (cfg.bnMomentum == null && cfg.bnEps == null) return;
        int n = 0;
        for (var m : model.namedModules().values()) {
            if (m instanceof BatchNorm2d bn) {
                if (cfg.bnMomentum != null) bn.setMomentum(cfg.bnMomentum);
                if (cfg.bnEps != null) bn.setEps(cfg.bnEps);
                n++;
            }
        }
        out.println(n == 0 ? "bn: " + cfg.model + " has no BatchNorm layers; --bn-momentum/--bn-eps change nothing"
                : "bn: " + n + " BatchNorm layers set to" + (cfg.bnMomentum != null ? " momentum " + cfg.bnMomentum : "")
                + (cfg.bnEps != null ? " eps " + cfg.bnEps : ""));
    }

    /** The optimizer, lr, schedule, clipping and accumulation options (timm's names and ranges). */
    private void validateOptimizerOptions() {
        cfg.clipMode = TrainConfig.norm(cfg.clipMode);
        cfg.lrBaseScale = TrainConfig.norm(cfg.lrBaseScale);
        if (!OptimizerFactory.NAMES.contains(cfg.opt)) throw new TrainException("--opt must be one of " + String.join(", ", OptimizerFactory.NAMES) + ", got '" + cfg.opt + "'");
        if (!List.of("cosine", "step", "multistep", "lambda").contains(cfg.sched)) {
            throw new TrainException("--sched must be cosine, step, multistep or lambda, got '" + cfg.sched + "'");
        }
        if (cfg.opt.equals("sgd") && !(cfg.momentum > 0)) {
            throw new TrainException("--opt sgd is Nesterov SGD (as timm) and needs --momentum > 0, got " + cfg.momentum + "; plain SGD is --opt momentum --momentum 0");
        }
        if (cfg.optEps != null && !(cfg.optEps >= 0)) throw new TrainException("--opt-eps must be >= 0, got " + cfg.optEps);
        if (cfg.optBetas != null) {
            if (!OptimizerFactory.hasBetas(cfg.opt)) throw new TrainException("--opt-betas: --opt " + cfg.opt + " has no betas");
            for (double b : cfg.optBetas) if (!(b >= 0 && b < 1)) throw new TrainException("--opt-betas must be in [0, 1), got " + Arrays.toString(cfg.optBetas));
        }
        if (!(cfg.lrBase > 0)) throw new TrainException("--lr-base must be > 0, got " + cfg.lrBase);
        if (cfg.lrBaseSize < 1) throw new TrainException("--lr-base-size must be >= 1, got " + cfg.lrBaseSize);
        if (cfg.lrBaseScale != null && !List.of("linear", "sqrt").contains(cfg.lrBaseScale)) {
            throw new TrainException("--lr-base-scale must be linear or sqrt, got '" + cfg.lrBaseScale + "'");
        }
        if (cfg.cooldownEpochs < 0) throw new TrainException("--cooldown-epochs must be >= 0, got " + cfg.cooldownEpochs);
        if (cfg.decayMilestones != null) {
            for (int i = 0; i < cfg.decayMilestones.length; i++) {
                if (cfg.decayMilestones[i] < 0 || (i > 0 && cfg.decayMilestones[i] < cfg.decayMilestones[i - 1])) {
                    throw new TrainException("--decay-milestones must be ascending epochs >= 0, got " + Arrays.toString(cfg.decayMilestones));
                }
            }
        }
        if (!(cfg.decayEpochs > 0)) throw new TrainException("--decay-epochs must be > 0, got " + cfg.decayEpochs);
        if (!List.of("norm", "value", "agc").contains(cfg.clipMode)) throw new TrainException("--clip-mode must be norm, value or agc, got '" + cfg.clipMode + "'");
        if (cfg.clipGrad != null && !(cfg.clipGrad > 0)) throw new TrainException("--clip-grad must be > 0, got " + cfg.clipGrad);
        if (cfg.layerDecay != null && !(cfg.layerDecay > 0 && cfg.layerDecay <= 1)) throw new TrainException("--layer-decay must be in (0, 1], got " + cfg.layerDecay);
        if (cfg.gradAccumSteps < 1) throw new TrainException("--grad-accum-steps must be >= 1, got " + cfg.gradAccumSteps);
    }

    /** Fills the optimizer options left open with what the run uses, so config.json says it: lr, its scaling, eps, betas, milestones. */
    private void resolveOptimizerOptions() {
        if (cfg.lrBaseScale == null) cfg.lrBaseScale = OptimizerFactory.defaultLrBaseScale(cfg.opt);
        // timm scales by the global batch: -b is per GPU.
        if (cfg.lr == null) cfg.lr = OptimizerFactory.baseLr(cfg.opt, cfg.lrBase, cfg.lrBaseSize, cfg.lrBaseScale, cfg.batchSize * worldSize(), cfg.gradAccumSteps);
        if (cfg.optEps == null && OptimizerFactory.hasEps(cfg.opt)) cfg.optEps = OptimizerFactory.defaultEps(cfg.opt);
        if (cfg.optBetas == null && OptimizerFactory.hasBetas(cfg.opt)) cfg.optBetas = OptimizerFactory.DEFAULT_BETAS.clone();
        if (cfg.decayMilestones == null && cfg.sched.equals("multistep")) cfg.decayMilestones = new double[] {90, 180, 270};
    }

    /** Epochs trained: --epochs, plus --cooldown-epochs for cosine (timm adds them to a cycle schedule only). */
    int totalEpochs() { return cfg.epochs + ("cosine".equals(cfg.sched) ? cfg.cooldownEpochs : 0); }

    /** cpu, or cuda when its backend loads; never a silent fallback. */
    static Device resolveDevice(String name) {
        try {
            return dev.lumen.app.DeviceChoice.resolve(name);
        } catch (IllegalArgumentException e) {
            throw new TrainException(e.getMessage());
        }
    }

    /** train and val datasets; fills inChans from the data when not given. */
    private Dataset[] datasets() {
        if (cfg.data != null) {
            Path root = cfg.data;
            if (!Files.isDirectory(root)) throw new TrainException("--data " + root + ": no such folder");
            Path trainDir = root.resolve(cfg.trainSplit), valDir = root.resolve(cfg.valSplit);
            for (Path p : List.of(trainDir, valDir)) {
                if (!Files.isDirectory(p)) {
                    throw new TrainException("--data " + root + ": no " + p.getFileName() + "/ folder (expected " + root.resolve(cfg.trainSplit + "/<class>/<image>")
                            + " and " + root.resolve(cfg.valSplit + "/<class>/<image>") + "; `lumen split` makes them; --train-split/--val-split name others)");
                }
            }
            FolderDataset train, val;
            try {
                List<String> classMap = cfg.classMap != null ? ClassMap.read(cfg.classMap) : null;
                train = new FolderDataset(trainDir, cfg.inChans == null ? 0 : cfg.inChans, classMap);
                val = new FolderDataset(valDir, train.channels(), classMap);
            } catch (IllegalArgumentException | UncheckedIOException e) {
                throw new TrainException(e.getMessage());
            }
            if (!train.classNames().equals(val.classNames())) {
                throw new TrainException("--data " + root + ": train/ and val/ have different classes: " + train.classNames() + " vs " + val.classNames());
            }
            cfg.inChans = train.channels();
            cfg.dataset = FOLDER_DATASET; // config.json tells the truth: the data is --data's folder, not the built-in default
            datasetLabel = "val";
            return new Dataset[] {train, val};
        }
        String name = TrainConfig.norm(cfg.dataset);
        if (!"fashion-mnist".equals(name)) throw new TrainException("--dataset must be fashion-mnist (or give --data DIR), got '" + cfg.dataset + "'");
        cfg.dataset = name;
        int ch = cfg.inChans == null ? 1 : cfg.inChans;
        cfg.inChans = ch;
        datasetLabel = "test";
        Path dir = System.getenv("LUMEN_FASHION_MNIST") != null ? Path.of(System.getenv("LUMEN_FASHION_MNIST")) : FashionMnist.DEFAULT_DIR;
        try {
            return new Dataset[] {new FashionMnist(dir, FashionMnist.Split.TRAIN, ch), new FashionMnist(dir, FashionMnist.Split.TEST, ch)};
        } catch (IllegalArgumentException | UncheckedIOException e) {
            throw new TrainException(e.getMessage());
        }
    }

    /** mean and std: given, the dataset's, ImageNet's for RGB folders, or 0.5 for grey ones. */
    private float[][] normalization() {
        int c = cfg.inChans;
        double[] mean = cfg.mean, std = cfg.std;
        if (mean == null) {
            if (cfg.data == null) mean = new double[] {FashionMnist.MEAN[0]};
            else mean = c == 3 ? new double[] {0.485, 0.456, 0.406} : new double[] {0.5};
        }
        if (std == null) {
            if (cfg.data == null) std = new double[] {FashionMnist.STD[0]};
            else std = c == 3 ? new double[] {0.229, 0.224, 0.225} : new double[] {0.5};
        }
        mean = perChannel("--mean", mean, c);
        std = perChannel("--std", std, c);
        for (double s : std) if (!(s > 0)) throw new TrainException("--std values must be > 0, got " + Arrays.toString(std));
        cfg.mean = mean;
        cfg.std = std;
        float[][] r = new float[2][c];
        for (int i = 0; i < c; i++) {
            r[0][i] = (float) mean[i];
            r[1][i] = (float) std[i];
        }
        return r;
    }

    private static double[] perChannel(String opt, double[] v, int c) {
        if (v.length == c) return v;
        if (v.length == 1) {
            double[] r = new double[c];
            Arrays.fill(r, v[0]);
            return r;
        }
        throw new TrainException(opt + " needs 1 or " + c + " values for " + c + " channels, got " + Arrays.toString(v));
    }

    private static Checkpoints.Weights readPretrained(Path file) {
        if (!Files.isRegularFile(file)) throw new TrainException("--pretrained " + file + ": no such file");
        try {
            return TrainCheckpoint.isTrainCheckpoint(file) ? new Checkpoints.Weights(TrainCheckpoint.readModelState(file, false), "the model weights")
                    : Checkpoints.loadWeights(file, false);
        } catch (IOException | RuntimeException e) {
            throw new TrainException("--pretrained " + file + ": cannot read weights: " + e.getMessage());
        }
    }

    private void loadPretrained(Path file, Checkpoints.Weights weights) {
        Map<String, Tensor> state = weights.state();
        try {
            Checkpoints.LoadReport r = Checkpoints.loadInto(model, state, true, true);
            if (!r.droppedHead().isEmpty()) {
                out.println("pretrained: classifier " + r.droppedHead() + " not loaded (its class count differs from " + cfg.numClasses + "); it starts fresh");
            }
            out.println("pretrained: loaded " + (state.size() - r.droppedHead().size()) + " tensors from " + weights.source() + " of " + file);
        } catch (IllegalArgumentException e) {
            throw new TrainException("--pretrained " + file + ": the weights do not fit " + cfg.model + ": " + e.getMessage());
        } finally {
            state.values().forEach(Tensor::close);
        }
    }

    /** Comma-separated globs; "!glob" unfreezes. */
    private void freeze(String spec) {
        int total = model.namedParameters().size();
        for (String raw : spec.split(",")) {
            String g = raw.trim();
            if (g.isEmpty()) continue;
            boolean un = g.startsWith("!");
            String glob = un ? g.substring(1) : g;
            int n = un ? model.unfreeze(glob) : model.freeze(glob);
            if (n == 0) {
                throw new TrainException("--freeze: '" + glob + "' matches no parameter of " + cfg.model + " (names look like "
                        + model.namedParameters().keySet().stream().limit(3).toList() + ")");
            }
        }
        long trainable = model.namedParameters().values().stream().filter(Tensor::requiresGrad).count();
        if (trainable == 0) throw new TrainException("--freeze '" + spec + "' freezes every parameter: nothing left to train");
        out.println("freeze: " + (total - trainable) + " of " + total + " parameter tensors frozen");
    }

    private Optimizer optimizer() {
        List<ParamGroup> groups;
        if (cfg.layerDecay != null) {
            GroupMatcher matcher = model.groupMatcher();
            if (matcher == null) throw new TrainException("--layer-decay: " + cfg.model + " has no layer grouping");
            Map<String, Integer> layers = matcher.layerIds(model.namedParameters().keySet());
            groups = ParamGroups.withLayerDecay(model.namedParameters(), layers, cfg.weightDecay, cfg.layerDecay, NO_DECAY);
        } else {
            groups = ParamGroups.withNoDecay(model.namedParameters(), cfg.weightDecay, NO_DECAY);
        }
        try {
            return OptimizerFactory.create(cfg.opt, groups, cfg.lr, cfg.momentum, cfg.optEps, cfg.optBetas);
        } catch (IllegalArgumentException e) {
            throw new TrainException("--opt " + cfg.opt + ": " + e.getMessage());
        }
    }

    /** timm's create_scheduler_v2 with step_on_epochs false: every length in updates. */
    private LRScheduler scheduler(int updatesPerEpoch) {
        long warmup = Math.round(cfg.warmupEpochs * updatesPerEpoch);
        return switch (cfg.sched) {
            case "cosine" -> new CosineLR(optimizer, (long) cfg.epochs * updatesPerEpoch, cfg.minLr, warmup, cfg.warmupLr, false, false);
            case "step" -> new StepLR(optimizer, Math.max(1, cfg.decayEpochs * updatesPerEpoch), cfg.decayRate, warmup, cfg.warmupLr, false, false);
            case "multistep" -> new MultiStepLR(optimizer, Arrays.stream(cfg.decayMilestones)
                    .map(e -> e * updatesPerEpoch).toArray(), cfg.decayRate, warmup, cfg.warmupLr, false, false);
            default -> new LambdaLR(optimizer, LambdaLR.cosineToFraction(cfg.epochs, cfg.lrf));
        };
    }

    private Path defaultRunDir() {
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path p = Path.of("runs", stamp + "-" + cfg.model);
        for (int i = 1; Files.exists(p); i++) p = Path.of("runs", stamp + "-" + cfg.model + "-" + i);
        return p;
    }

    private void warnUnreadable(RuntimeException e) {
        err.println("warning: skipping " + e.getMessage());
        err.flush();
    }

    // ------------------------------------------------------------------------------ checkpoints

    private Map<String, Object> rngState() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("global", Arrays.stream(Generator.global().state()).boxed().toList());
        if (mixup != null) m.put("mixup", Arrays.stream(mixup.generator().state()).boxed().toList());
        m.put("loader_seed", cfg.seed);
        return m;
    }

    private void saveCheckpoint(Path file, int epochsDone) throws IOException {
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("epoch", epochsDone);
        info.put("global_step", globalStep);
        info.put("best_metric", Double.isNaN(best) ? null : best);
        info.put("eval_metric", cfg.evalMetric);
        info.put("best_epoch", bestEpoch);
        info.put("model", cfg.model);
        info.put("class_names", classNames);
        info.put("rng", rngState());
        if (scaler != null) info.put("scaler", scaler.stateDict());
        info.put("history", history.stream().map(EpochRecord::toMap).toList());
        info.put("checkpoint_hist", checkpointHist.toList());
        // -b is per GPU: what a resume on another number of GPUs needs to continue the schedule at the same epoch.
        info.put("world_size", worldSize());
        info.put("global_batch", cfg.batchSize * worldSize());
        info.put("updates_per_epoch", updatesPerEpoch);
        info.put("config", cfg.toMap());
        TrainCheckpoint.save(file, stateViews, optimizer.stateDict(), scheduler.stateDict(), ema == null ? null : ema.stateDict(), info);
    }

    @SuppressWarnings("unchecked")
    private void restore(Path file) {
        try (TrainCheckpoint.Loaded l = TrainCheckpoint.load(file)) {
            try {
                model.loadStateDict(l.model(), true);
            } catch (IllegalArgumentException e) {
                throw new TrainException("--resume " + file + ": the checkpoint does not fit " + cfg.model + ": " + e.getMessage());
            }
            Map<String, Object> info = l.info();
            try {
                optimizer.loadStateDict(l.optimizer());
                scheduler.loadStateDict(l.scheduler());
                if (ema != null) {
                    if (l.ema() == null) throw new IllegalArgumentException("the checkpoint has no EMA weights but --model-ema is on");
                    ema.loadStateDict(l.ema());
                }
                if (scaler != null && info.get("scaler") instanceof Map<?, ?> sm) scaler.loadStateDict((Map<String, Object>) sm);
            } catch (IllegalArgumentException | ClassCastException | NullPointerException | IndexOutOfBoundsException e) {
                throw new TrainException("--resume " + file + ": the optimizer, scheduler or EMA state does not fit: " + e.getMessage());
            }
            CheckpointInfo ci = new CheckpointInfo(file, info);
            Map<String, Object> rng = ci.map("rng");
            // Rank 0's generator is saved; rank r's has drawn as often, from seed + r.
            long[] global = ci.longs("rng.global", rng.get("global"), 2);
            Generator.global().setState(new long[] {global[0] + rankIndex(), global[1]});
            if (mixup != null && rng.get("mixup") != null) mixup.generator().setState(ci.longs("rng.mixup", rng.get("mixup"), 2));
            startEpoch = (int) ci.integer("epoch", 0, Integer.MAX_VALUE);
            lastGoodEpoch = startEpoch;
            globalStep = ci.integer("global_step", 0, Long.MAX_VALUE);
            Object b = info.get("best_metric");
            if (b != null && !(b instanceof Number)) throw new TrainException("--resume " + file + ": checkpoint metadata 'best_metric' must be a number");
            best = b == null ? Double.NaN : ((Number) b).doubleValue();
            bestEpoch = (int) ci.integer("best_epoch", 0, startEpoch);
            List<?> rows = ci.list("history");
            for (int i = 0; i < rows.size(); i++) history.add(ci.epochRecord(i, rows.get(i)));
            try {
                checkpointHist.restore(info.get("checkpoint_hist"));
            } catch (IllegalArgumentException e) {
                throw new TrainException("--resume " + file + ": " + e.getMessage());
            }
            int savedWorld = info.get("world_size") instanceof Number w ? w.intValue() : 1;
            Object savedUpdates = info.get("updates_per_epoch");
            if (savedUpdates instanceof Number u && u.intValue() != updatesPerEpoch) {
                // Another GPU count: the same epoch, counted in this run's updates (checkpoints are written at epoch ends), and the lr schedule there.
                globalStep = (long) startEpoch * updatesPerEpoch;
                if (scheduler instanceof WarmupScheduler w) w.stepUpdate(globalStep);
            }
            out.println("resumed " + file + " after epoch " + startEpoch + " of " + totalEpochs() + " (update " + globalStep + ")"
                    + (savedWorld != worldSize() ? String.format(Locale.ROOT, "; written by %d GPU%s (global batch %d), continued on %d (global batch %d, -b %d per GPU)",
                    savedWorld, savedWorld == 1 ? "" : "s", savedWorld * cfg.batchSize, worldSize(), worldSize() * cfg.batchSize, cfg.batchSize) : ""));
        } catch (IOException e) {
            throw new TrainException("--resume " + e.getMessage());
        }
    }

    // ------------------------------------------------------------------------------ loop

    private TrainResult loop() throws IOException {
        Path last = runDir.resolve("last.safetensors"), bestFile = runDir.resolve("best.safetensors");
        for (int epoch = startEpoch; epoch < totalEpochs(); epoch++) {
            long t0 = System.nanoTime();
            double[] train = trainOneEpoch(epoch, last);
            double seconds = (System.nanoTime() - t0) / 1e9;
            if (scheduler instanceof LambdaLR l) l.step();
            else ((WarmupScheduler) scheduler).step(epoch + 1);
            boolean validating = (epoch + 1) % cfg.valInterval == 0 || epoch + 1 == totalEpochs();
            Eval v = validating ? validate() : Eval.SKIPPED;
            Eval e = ema != null && validating ? validateEma() : null;
            if (validating) finalEval = e != null ? e : v;
            EpochRecord r = new EpochRecord(epoch + 1, train[0], train[1], v.loss, v.top1, v.top5, e == null ? Double.NaN : e.loss,
                    e == null ? Double.NaN : e.top1, e == null ? Double.NaN : e.top5, scheduleLr(), seconds, train[2] / seconds);
            history.add(r);
            String bad = NonFinite.firstIn(stateViews);
            if (bad == null && ema != null) bad = NonFinite.firstIn(ema.ema());
            if (bad != null) {
                if (writes()) log.epoch(r);
                out.println(epochLine(r, v, e));
                throw new TrainException("the weights diverged at epoch " + (epoch + 1) + " (" + Printable.of(bad) + " holds NaN or infinity); stopped; "
                        + keptCheckpoint(last) + ". Try a lower --lr, --clip-grad, or --warmup-epochs.");
            }
            double metric = EvalMetric.of(r, cfg.evalMetric);
            boolean improved = !r.diverged() && EvalMetric.better(cfg.evalMetric, metric, best);
            if (improved) {
                best = metric;
                bestEpoch = r.epoch();
            }
            List<Integer> evicted = checkpointHist.admit(epoch + 1, r.diverged() ? Double.NaN : metric);
            if (!writes()) {
                lastGoodEpoch = epoch + 1;
                continue;
            }
            try {
                saveCheckpoint(last, epoch + 1);
            } catch (IOException ex) {
                throw new TrainException("cannot write " + last + " after epoch " + (epoch + 1) + ": " + ex.getMessage() + "; "
                        + keptCheckpoint(last).replace("the last checkpoint", "the previous checkpoint"), ex);
            }
            lastGoodEpoch = epoch + 1;
            Path extra = bestFile;
            try {
                if (improved) AtomicFiles.copy(last, bestFile);
                extra = runDir.resolve("ema.safetensors");
                if (ema != null) Safetensors.write(extra, ema.ema(), Map.of("format", "pt"));
                extra = CheckpointHistory.file(runDir, epoch + 1);
                if (evicted != null) checkpointHist.write(epoch + 1, last, evicted);
            } catch (IOException ex) {
                throw new TrainException("cannot write " + extra + " after epoch " + (epoch + 1) + ": " + ex.getMessage() + "; "
                        + last + " (epoch " + lastGoodEpoch + ") is complete", ex);
            }
            log.epoch(r);
            out.println(epochLine(r, v, e));
            out.flush();
            for (TrainListener l : listeners) l.onEpochEnd(r, List.copyOf(history));
        }
        if (finalEval == null) finalEval = ema != null ? validateEma() : validate();
        long unreadable = trainLoader.unreadableFiles().size() + valLoader.unreadableFiles().size();
        if (unreadable > 0) out.println("skipped " + unreadable + " unreadable images (reported above)");
        TrainResult result = new TrainResult(runDir, List.copyOf(history), finalEval.predictions, finalEval.top1, finalEval.loss, weightsLabel(),
                datasetDescription(), cfg.evalMetric, best, bestEpoch, unreadable);
        for (TrainListener l : listeners) l.onFinish(result);
        return result;
    }

    /** Which checkpoint a stopped run leaves: the last one, whose weights are all finite. */
    private String keptCheckpoint(Path last) {
        return lastGoodEpoch > 0 && Files.exists(last) ? "the last checkpoint with finite weights, " + last + " (epoch " + lastGoodEpoch + "), is kept"
                : "no checkpoint was written (no epoch finished with finite weights)";
    }

    private String epochLine(EpochRecord r, Eval v, Eval e) {
        String line = epochLine(r);
        long bad = v.nonFinite + (e == null ? 0 : e.nonFinite);
        if (r.diverged()) line += "  DIVERGED (" + bad + " non-finite outputs; not eligible for best)";
        return line;
    }

    private String epochLine(EpochRecord r) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "epoch %d/%d  train loss %.4f top1 %.2f%%  ", r.epoch(), totalEpochs(),
                r.trainLoss(), r.trainTop1()));
        if (Double.isNaN(r.valTop1())) sb.append(datasetLabel).append(" skipped (--val-interval ").append(cfg.valInterval).append(')');
        else sb.append(String.format(Locale.ROOT, "%s loss %.4f top1 %.2f%% top5 %.2f%%", datasetLabel, r.valLoss(), r.valTop1(), r.valTop5()));
        if (r.hasEma()) sb.append(String.format(Locale.ROOT, "  ema loss %.4f top1 %.2f%% top5 %.2f%%", r.emaValLoss(), r.emaValTop1(), r.emaValTop5()));
        sb.append(bestEpoch > 0 ? String.format(Locale.ROOT, "  best %s%s %s (epoch %d)", r.hasEma() ? "ema " : "", cfg.evalMetric,
                EvalMetric.format(cfg.evalMetric, best), bestEpoch) : "  best none");
        sb.append(String.format(Locale.ROOT, "  lr %.3e  %.1f s  %.0f img/s", r.lr(), r.seconds(), r.imagesPerSecond()));
        return sb.toString();
    }

    /** One epoch of updates; returns {mean loss, top-1 %, images}. */
    private double[] trainOneEpoch(int epoch, Path lastCheckpoint) throws IOException {
        model.train();
        currentEpoch = epoch;
        AverageMeter loss = new AverageMeter(), top1 = new AverageMeter();
        long images = 0, t0 = System.nanoTime();
        String task = "epoch " + (epoch + 1) + "/" + totalEpochs();
        try (DataLoader.Epoch it = trainLoader.epoch(epoch)) {
            progress.start(task, it.size());
            int done = 0;
            DeviceBatch pending = it.hasNext() ? DeviceBatch.upload(it.next(), device) : null;
            try {
                while (pending != null) {
                    DeviceBatch b = pending;
                    pending = null;
                    // timm: an update every --grad-accum-steps micro-batches, and one at the epoch's end for the remainder.
                    int groupStart = done - done % cfg.gradAccumSteps;
                    int inGroup = Math.min(cfg.gradAccumSteps, it.size() - groupStart);
                    boolean update = done - groupStart == inGroup - 1;
                    try (b; Scope s = Scope.open()) {
                        Tensor stats = forwardBackward(b, inGroup, update);
                        // The next batch's copy overlaps with the work just queued; then the step's one host wait.
                        if (it.hasNext()) pending = DeviceBatch.upload(it.next(), device);
                        double[] r = finishStep(stats, b.size(), epoch, done, it.size(), lastCheckpoint, update);
                        loss.update(r[0], (long) r[2]);
                        top1.update(r[1], (long) r[2]);
                        images += (long) r[2];
                    }
                    done++;
                    double lr = scheduleLr();
                    progress.update(done, loss.avg(), top1.avg(), lr, images / ((System.nanoTime() - t0) / 1e9));
                    if (update && globalStep % cfg.logInterval == 0 && log != null) log.step(globalStep, loss.avg(), lr);
                }
            } finally {
                if (pending != null) pending.close();
                progress.finish();
            }
        }
        return new double[] {loss.avg(), top1.avg(), images};
    }

    /**
     * Queues forward, loss, backward and (with --amp f16) the unscale of one batch, and returns
     * what the host needs of them as one device tensor: {loss, top-1 hits, non-finite flag}.
     * Nothing here waits for the device.
     */
    private Tensor forwardBackward(DeviceBatch b, int accumSteps, boolean update) {
        Tensor x = b.images(), y = b.labels();
        Tensor input = x, target = null;
        // timm's --mixup-off-epoch: from then on plain labels (with label smoothing, which is what its disabled Mixup gives).
        if (mixup != null && (cfg.mixupOffEpoch == 0 || currentEpoch < cfg.mixupOffEpoch)) {
            Mixup.Result m = mixup.apply(x, y);
            input = m.images();
            target = m.targets();
        }
        Tensor logits, loss;
        try (Autocast ac = amp.autocast()) {
            logits = model.forward(input);
            loss = target != null ? Losses.softTargetCrossEntropy(logits, target) : Losses.crossEntropy(logits, y, cfg.smoothing);
        }
        if (lossHook != null) loss = lossHook.apply(loss, globalStep);
        // Accumulated micro-batches add up to the mean over the update's samples, as timm divides by the accumulation count.
        Tensor backwardLoss = accumSteps > 1 ? loss.div(accumSteps) : loss;
        backward(scaler != null ? scaler.scale(backwardLoss) : backwardLoss, update);
        Tensor inf = scaler != null && update ? scaler.unscale(optimizer) : null;
        try (GradMode off = GradMode.noGrad()) {
            Tensor hits = TopK.top1Hits(logits, y);
            List<Tensor> parts = new ArrayList<>(List.of(loss.detach().to(DType.F64).reshape(1), hits.to(DType.F64).reshape(1)));
            if (inf != null) parts.add(inf.to(DType.F64).reshape(1));
            Tensor stats = Shaping.cat(parts, 0);
            if (rank != null) {
                // Summed over the ranks (whose batches are equally large: the shards are padded) the numbers are the global batch's,
                // and an inf on any rank skips the update on all.
                rank.comm().allReduce(stats, ReduceOp.SUM);
                rank.comm().joinCompute();
            }
            return stats;
        }
    }

    /**
     * Says once per run, in lumen.log, how DDP's gradient all-reduce met the backward pass: the
     * buckets, the bytes each update all-reduces, how many were issued before backward ended, and
     * how early the first one was, as a share of backward's host time (what communication can hide behind).
     */
    private static void logOverlap(DistributedDataParallel.Overlap o, DistributedDataParallel.IssueTimes t) {
        long first = t.bucketIssuedAtNanos().isEmpty() ? t.backwardNanos() : t.bucketIssuedAtNanos().getFirst();
        double hideable = t.backwardNanos() > 0 ? Math.max(0, t.backwardNanos() - first) / (double) t.backwardNanos() : 0;
        System.getLogger("dev.lumen.distributed").log(System.Logger.Level.INFO, String.format(Locale.ROOT,
                "DDP: %d gradient buckets, %.2f MB all-reduced per update; %d issued before backward ended, the first after"
                        + " %.0f%% of backward (%.1f of %.1f ms), so up to %.0f%% of backward can hide the communication",
                o.buckets(), o.bytes() / 1e6, o.issuedDuringBackward(), 100 * (1 - hideable), first / 1e6, t.backwardNanos() / 1e6, 100 * hideable));
    }

    /** Alone: backward. As a rank: DDP's backward, whose gradient all-reduce is skipped on --grad-accum-steps micro-batches before the update. */
    private void backward(Tensor root, boolean update) {
        if (ddp == null) {
            root.backward();
        } else if (update) {
            ddp.backward(root);
            if (!overlapLogged && writes()) {
                overlapLogged = true;
                logOverlap(ddp.lastOverlap(), ddp.lastIssueTimes());
            }
        } else {
            try (DistributedDataParallel.NoSync local = ddp.noSync()) {
                ddp.backward(root);
            }
        }
    }

    /**
     * Reads the step's values (the step's one host wait), stops on a non-finite loss before any
     * update, then clips, steps the optimizer (or lets the scaler skip it) and updates EMA and the
     * schedule. Returns {loss, top-1 % on the batch's original labels, images}, over every rank's batch.
     */
    private double[] finishStep(Tensor stats, int batchSize, int epoch, int index, int batches, Path lastCheckpoint, boolean update) {
        double[] v = stats.toDoubles();
        double images = (double) batchSize * worldSize();
        double value = v[0] / worldSize();
        if (!Double.isFinite(value)) {
            String where = keptCheckpoint(lastCheckpoint);
            throw new TrainException("loss is " + (Double.isNaN(value) ? "NaN" : "infinite") + " at epoch " + (epoch + 1) + ", step " + (index + 1)
                    + " of " + batches + " (update " + (globalStep + 1) + "); stopped; " + where
                    + ". Try a lower --lr, --clip-grad, or --warmup-epochs.");
        }
        if (!update) return new double[] {value, 100.0 * v[1] / images, images};
        if (scaler != null) scaler.foundInf(!Double.isFinite(v[2]));
        if (cfg.clipGrad != null) clipGradients();
        if (scaler != null) {
            scaler.step(optimizer);
            scaler.update();
        } else {
            optimizer.step();
        }
        optimizer.zeroGrad();
        if (ema != null) ema.update(stateViews);
        globalStep++;
        if (scheduler instanceof WarmupScheduler w) w.stepUpdate(globalStep);
        for (TrainListener l : listeners) l.onStep(globalStep, value);
        return new double[] {value, 100.0 * v[1] / images, images};
    }

    /** The schedule's lr now: the first group's without its --layer-decay scale (the head's lr). */
    private double scheduleLr() {
        ParamGroup g = optimizer.paramGroups().get(0);
        return g.lrScale() > 0 ? g.lr() / g.lrScale() : scheduler.baseLrs()[0];
    }

    /** timm's dispatch_clip_grad with --clip-mode. */
    private void clipGradients() {
        switch (cfg.clipMode) {
            case "value" -> GradClip.clipGradValue(optimizer.params(), cfg.clipGrad);
            case "agc" -> GradClip.adaptiveClipGrad(optimizer.params(), cfg.clipGrad, 1e-3);
            default -> GradClip.clipGradNorm(optimizer.params(), cfg.clipGrad);
        }
    }

    /**
     * Loss, top-1, top-5 and per-sample probabilities of one pass over the validation set, and
     * how many samples had a non-finite output (then the loss is NaN: the pass diverged).
     */
    record Eval(double loss, double top1, double top5, Predictions predictions, long nonFinite) {
        /** An epoch that --val-interval skips: no numbers. */
        static final Eval SKIPPED = new Eval(Double.NaN, Double.NaN, Double.NaN, null, 0);
    }

    private Eval validate() {
        model.eval();
        // As DDP's broadcast_buffers: every rank validates (and rank 0 saves) rank 0's BatchNorm statistics.
        if (ddp != null) ddp.broadcastBuffers();
        AverageMeter loss = new AverageMeter();
        long hit1 = 0, hit5 = 0, n = 0, nonFinite = 0;
        int k = cfg.numClasses;
        List<int[]> idx = new ArrayList<>(), lab = new ArrayList<>();
        List<float[]> probs = new ArrayList<>();
        try (GradMode off = GradMode.noGrad(); DataLoader.Epoch it = valLoader.epoch(0)) {
            while (it.hasNext()) {
                try (Batch b = it.next(); Scope s = Scope.open()) {
                    Tensor x = b.images(), y = b.labels();
                    if (!device.equals(Device.CPU)) {
                        x = x.to(device);
                        y = y.to(device);
                    }
                    Tensor logits;
                    try (Autocast ac = amp.autocast()) {
                        logits = model.forward(x);
                    }
                    loss.update(Losses.crossEntropy(logits, y).item(), b.size());
                    Tensor yc = b.labels();
                    hit1 += TopK.hits(logits, yc, 1);
                    hit5 += TopK.hits(logits, yc, Math.min(5, k));
                    nonFinite += TopK.nonFiniteRows(logits);
                    n += b.size();
                    probs.add(logits.softmax(1).to(Device.CPU).toFloats());
                    idx.add(b.indices());
                    lab.add(Arrays.stream(yc.toLongs()).mapToInt(v -> (int) v).toArray());
                }
            }
        } finally {
            model.train();
        }
        float[] p = new float[(int) n * k];
        int[] indices = new int[(int) n], labels = new int[(int) n];
        int row = 0;
        for (int i = 0; i < idx.size(); i++) {
            System.arraycopy(probs.get(i), 0, p, row * k, probs.get(i).length);
            System.arraycopy(idx.get(i), 0, indices, row, idx.get(i).length);
            System.arraycopy(lab.get(i), 0, labels, row, lab.get(i).length);
            row += idx.get(i).length;
        }
        Predictions predictions = new Predictions(classNames, indices, labels, p);
        double lossSum = loss.sum();
        if (rank != null) {
            // The shards' sums make the whole validation set's numbers, and the gathered predictions its report.
            double[] sums = ValidationShards.sum(rank.comm(), new double[] {lossSum, hit1, hit5, n, nonFinite});
            lossSum = sums[0];
            hit1 = (long) sums[1];
            hit5 = (long) sums[2];
            n = (long) sums[3];
            nonFinite = (long) sums[4];
            predictions = ValidationShards.gather(rank.comm(), predictions, valLoader.dataset().size());
        }
        double meanLoss = nonFinite > 0 ? Double.NaN : rank == null ? loss.avg() : lossSum / n;
        return new Eval(meanLoss, 100.0 * hit1 / n, 100.0 * hit5 / n, predictions, nonFinite);
    }

    /** Which weights the final numbers and best.safetensors' metric belong to, for reports. */
    private String weightsLabel() {
        if (ema == null) return "model weights after epoch " + cfg.epochs + " (last.safetensors)";
        return "EMA weights after epoch " + cfg.epochs + " (ema.safetensors; decay " + cfg.modelEmaDecay
                + (cfg.modelEmaWarmup ? " with timm's warmup" : "") + ")";
    }

    /** The data the run validated on: the folder or built-in dataset and its split. */
    private String datasetDescription() {
        return (cfg.data != null ? cfg.data.toString() : cfg.dataset) + " (" + datasetLabel + ")";
    }

    /** Validates the EMA weights: swapped into the model, then the model's own weights copied back exactly. */
    private Eval validateEma() {
        Map<String, Tensor> saved = new LinkedHashMap<>();
        try (GradMode off = GradMode.noGrad()) {
            for (Map.Entry<String, Tensor> e : stateViews.entrySet()) {
                Tensor v = e.getValue();
                Tensor c = Scope.detachFromScopes(Tensor.empty(v.dtype(), v.device(), v.shape()));
                v.backend().copy(v, c);
                saved.put(e.getKey(), c);
            }
        }
        try {
            model.loadStateDict(ema.ema(), true);
            return validate();
        } finally {
            model.loadStateDict(saved, true);
            saved.values().forEach(Tensor::close);
        }
    }

    /** The keys of the options given on a command line, for {@link #resumeConfig}. */
    public static Set<String> keysOf(Collection<String> optionNames) {
        Set<String> s = new java.util.LinkedHashSet<>();
        for (String n : optionNames) s.add(TrainConfig.keyOf(n));
        return s;
    }
}
