package dev.lumen.backend;

/**
 * torch.optim.RAdam's scalars for one parameter at one step, computed on the host in double, so
 * that every backend rounds the same values to the tensor's dtype.
 *
 * @param bc1        1 - beta1^step
 * @param bc2        1 - beta2^step
 * @param rectified  whether the adaptive step applies (the length of the approximated SMA, rho_t, is above 5)
 * @param rect       the rectification term when rectified, else 0
 */
public record RAdamStep(double bc1, double bc2, boolean rectified, double rect) {
    /** The scalars at step (from 1). */
    public static RAdamStep of(double beta1, double beta2, long step) {
        if (step < 1) throw new IllegalArgumentException("radam: step counts from 1, got " + step);
        double bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
        double rhoInf = 2 / (1 - beta2) - 1;
        double rhoT = rhoInf - 2 * step * Math.pow(beta2, step) / bc2;
        if (!(rhoT > 5)) return new RAdamStep(bc1, bc2, false, 0);
        return new RAdamStep(bc1, bc2, true, Math.sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT)));
    }
}
