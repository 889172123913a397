package dev.lumen.backend;

/**
 * torch.optim.NAdam's scalars for one parameter at one step, computed on the host in double, so
 * that every backend rounds the same values to the tensor's dtype.
 *
 * @param bc2      1 - beta2^step, the second moment's bias correction
 * @param gradCoef -lr * (1 - mu_t) / (1 - mu_1 * ... * mu_t), the weight of grad / denom
 * @param avgCoef  -lr * mu_{t+1} / (1 - mu_1 * ... * mu_{t+1}), the weight of exp_avg / denom
 */
public record NAdamStep(double bc2, double gradCoef, double avgCoef) {
    /** The momentum coefficient mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentumDecay)), which warms up over the steps. */
    public static double mu(double beta1, double momentumDecay, long t) { return beta1 * (1 - 0.5 * Math.pow(0.96, t * momentumDecay)); }

    /** The scalars at step (from 1), given muProduct = mu_1 * ... * mu_step. */
    public static NAdamStep of(double lr, double beta1, double beta2, double momentumDecay, long step, double muProduct) {
        if (step < 1) throw new IllegalArgumentException("nadam: step counts from 1, got " + step);
        double mu = mu(beta1, momentumDecay, step), muNext = mu(beta1, momentumDecay, step + 1);
        return new NAdamStep(1 - Math.pow(beta2, step), -lr * (1 - mu) / (1 - muProduct), -lr * muNext / (1 - muProduct * muNext));
    }
}
