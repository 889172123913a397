package dev.lumen.backend;

/**
 * Adam's bias-correction scalars for one parameter at one step, computed on the host in double
 * as torch.optim.Adam does, before each backend rounds them to the tensor's dtype. Every
 * backend takes them from here, so that their trajectories agree bit for bit.
 *
 * @param negStepSize -lr / (1 - beta1^step)
 * @param bc2Sqrt     sqrt(1 - beta2^step)
 */
public record AdamBiasCorrection(double negStepSize, double bc2Sqrt) {
    /** The scalars at step (counted from 1, already incremented); op names the caller in the error. */
    public static AdamBiasCorrection of(String op, double lr, double beta1, double beta2, long step) {
        if (step < 1) throw new IllegalArgumentException(op + ": step counts from 1, got " + step);
        double bc1 = 1 - Math.pow(beta1, step);
        return new AdamBiasCorrection(-(lr / bc1), Math.sqrt(1 - Math.pow(beta2, step)));
    }
}
