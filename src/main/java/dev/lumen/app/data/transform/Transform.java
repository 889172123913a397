package dev.lumen.app.data.transform;

import dev.lumen.app.data.Image;
import dev.lumen.tensor.Generator;

/**
 * One image-to-image step of a data pipeline. Random transforms draw only from rng, which the
 * loader seeds per sample from (seed, epoch, index), so a run is reproducible on any number of
 * threads. Deterministic transforms ignore rng. Implementations are stateless and thread-safe.
 */
@FunctionalInterface
public interface Transform {
    Image apply(Image image, Generator rng);

    default Transform andThen(Transform next) { return Compose.of(this, next); }
}
