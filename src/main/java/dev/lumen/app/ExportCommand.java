package dev.lumen.app;

import dev.lumen.app.report.CheckpointModel;
import dev.lumen.models.ImageClassifier;
import dev.lumen.models.ModelRegistry;
import dev.lumen.nn.StateDicts;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code lumen export}: the way back to PyTorch. Writes the model's (or the EMA's) weights of a
 * run as a plain state dict in safetensors, under the names timm and the official code use (no
 * "model." or "ema." prefix), ready for {@code model.load_state_dict(safetensors.torch.load_file(f), strict=True)}.
 * The weights are first loaded strictly into the model they were trained as, so a file that
 * would not load there is never written.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Export a checkpoint's weights as a plain safetensors state dict for PyTorch and timm.",
                "Keys are the model's own (timm's) names; load with safetensors.torch.load_file and load_state_dict(strict=True)."})
public final class ExportCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--checkpoint", required = true, paramLabel = "PATH",
            description = "A run folder (its best, else last, checkpoint), a training checkpoint, or plain weights.")
    Path checkpoint;

    @Option(names = "--ema", description = "Export the EMA weights (an error when the checkpoint kept none); default: the model's.")
    boolean ema;

    @Option(names = "--model", paramLabel = "NAME", description = "Model name, for plain weights without a run config.")
    String model;

    @Option(names = "--output", required = true, paramLabel = "FILE", description = "The .safetensors file to write.")
    Path output;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        try {
            return run(out, err);
        } catch (IllegalArgumentException | UncheckedIOException | IOException e) {
            return CliErrors.report(err, "lumen export", e);
        } finally {
            out.flush();
            err.flush();
        }
    }

    private int run(PrintWriter out, PrintWriter err) throws IOException {
        if (!output.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".safetensors")) {
            throw new IllegalArgumentException("--output " + output + ": the file must end in .safetensors");
        }
        try (CheckpointModel ck = CheckpointModel.read(checkpoint, ema)) {
            if (ema && !ck.weights().startsWith("EMA")) throw new IllegalArgumentException(ck.file() + ": --ema, but the checkpoint kept no EMA weights");
            String name = CheckpointModel.setting("--model", model, ck.configString("model"), err);
            if (name == null) throw new IllegalArgumentException(ck.file() + " has no run config naming its model: pass --model");
            ModelRegistry.entry(name);
            Integer chans = ck.configInt("in-chans"), size = ck.configInt("img-size");
            try (ImageClassifier net = ck.build(name, null, chans != null ? chans : 3,
                    size != null ? size : ModelRegistry.entry(name).variant().defaultImgSize())) {
                Map<String, String> meta = new LinkedHashMap<>();
                meta.put("format", "pt");
                meta.put("lumen.model", name);
                meta.put("lumen.source", ck.describe());
                Path parent = output.toAbsolutePath().getParent();
                if (parent != null) Files.createDirectories(parent);
                StateDicts.save(net, output, meta);
                out.println("wrote " + output + ": " + net.stateDict().size() + " tensors of " + name + ", " + ck.describe());
                return 0;
            }
        }
    }
}
