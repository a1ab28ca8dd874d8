// Package objective holds the losses of wakesleep as pure functions that
// return a scalar *autodiff.Var: the adversarial wake/sleep objective (Eq. 4),
// the oscillatory objective (Eq. 7), the feature reconstruction loss and their
// combination (Eq. 8) of Benjamin & Kording, "Learning to infer in recurrent
// biological networks", and the gradient penalty of Wasserstein GANs with
// gradient penalty (WGAN-GP; Gulrajani et al. 2017, "Improved Training of
// Wasserstein GANs", Eq. 3), which the paper uses with λ = 1 on every critic
// (its Appendix A.1.2).
//
// Symbols used in the equations of this package's docs:
//
//	x, z        observed layer (x = z₀) and latent layer activity [B, ...]
//	D, D_i      global critic D(x, z) and local critic of layer i, D_i(z_i) [B, 1]
//	q_φ         inference (bottom-up, wake) distribution
//	p_θ         generation (top-down, sleep) distribution
//	α           per-sample interpolation weight of WGAN-GP, α ~ U[0, 1) [B, 1]
//	x̂           random interpolate α·wake + (1−α)·sleep
//	λ           penalty weight (applied by the caller)
//	γ           weight of the global wake/sleep term in Eq. 8
//	B           batch size
//
// Signs: each doc says whether the value is maximised by the critic or is a
// loss to minimise.
package objective
