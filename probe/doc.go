// Package probe tests the biological predictions of Sec. 4 of the paper in
// simulation, on trained MNIST models of Sec. 5.1. Each study measures one
// prediction and writes a Markdown report with PNG plots and the numbers
// behind them (CSV, JSON):
//
//   - oscillation (Sec. 4.1): the difference between each layer's bottom-up
//     activity and its top-down prediction grows with surprise.
//   - critic (Sec. 4.2): a trained critic's output rises for novel stimuli;
//     its ROC AUC as a novelty detector beside the reconstruction error.
//   - development (Sec. 4.4, after Berkes et al. 2011): the wake/sleep
//     alignment of the eval package measured at checkpoints across training.
//   - silencing (Sec. 4.4): latent units silenced in the sleep phase during
//     training; does their wake activity move toward silence?
//   - plasticity (Sec. 4.2): the critic's parameter updates from wake samples
//     alone and from sleep samples alone point in opposite directions (a
//     sanity check: true by construction), and differ from those of
//     label-free pseudo-phases (the test).
//
// # Definitions
//
// One oscillation cycle on a stimulus x (Cycle, RunCycle): bottom-up
// z ~ q(z|x), top-down x̂ ~ p(x|z), and the next cycle's bottom-up
// z' ~ q(z|x̂), each one stochastic pass. The oscillation amplitude
// (Amplitudes) of
//
//	layer x:  A_x = mean_pixels (x − x̂)²   (in [0, 1] pixel units; the reconstruction error)
//	layer z:  A_z = mean_units  (z − z')²
//
// The top layer's own top-down phase is the prior N(0, I), which is not
// stimulus-specific: comparing z with a prior sample would measure the
// spread of q(z|x) about the prior, not a prediction error. The
// stimulus-specific top-down signal reaching z is what the next bottom-up
// pass makes of the prediction x̂, so A_z is the change of the top layer
// across one cycle.
//
// Floors: A_x has the retest floor ½ mean (x̂ − x̂”)², x̂” a second
// top-down pass from the same z (generation noise alone), A_z the floor
// mean (z − z”)², z” a second bottom-up pass; the excess layers subtract
// them. The model's own sleep samples are the zero-surprise reference.
//
// Surprise: MNIST test digits are familiar, Fashion-MNIST test images novel;
// graded surprise is additive Gaussian pixel noise σ ∈ {0, 0.1, 0.2, 0.3,
// 0.5} (clipped to [0, 1]) and rotation by {0, 15, 30, 45, 60, 90} degrees
// counterclockwise about the image centre with bilinear interpolation
// (RotateImage).
//
// Critic output as a detector: D_x(x) (and D_z(z), z ~ q(z|x)) for the local
// model, D(x, z), z ~ q(z|x), for the global one. Critics maximise
// E_wake[D] − E_sleep[D], so D is high for data-driven activity; "rises for
// novel stimuli" means D(novel) > D(familiar). AUC is the Mann–Whitney
// statistic (AUC), the baseline detector the reconstruction error A_x.
//
// For a model trained on Fashion-MNIST (experiment fashionmnist) the roles
// swap; with models of both, the crossed design's endpoints average each
// novelty effect over the two arms (the train-set × test-set interaction),
// in which any property of the stimulus sets alone cancels.
//
// Critic output as a detector: the sign is fixed in advance by the
// prediction (D rises), never chosen on the test data.
//
// Plasticity: for critic parameters θ, g_wake = ∇θ mean D(wake) and
// g_sleep = −∇θ mean D(sleep), the ascent directions of each phase's half of
// Eq. 4/7 (PhaseGradient); cos(g_wake, g_sleep) per checkpoint, over several
// batches, is negative for any critic and inputs (the output bias alone
// makes it so): a sanity check. The test is its excess over the same cosine
// for random splits of the pooled activity into pseudo-phases.
//
// Development: eval.Alignment (KL(wake‖sleep) in bits between quantized
// pattern histograms, with its wake-vs-wake control) at each checkpoint,
// with phases drawn as `wakesleep eval` draws them (WakeSleep).
//
// Silencing: wake z ~ q(z|x) of a run trained with units S silenced in
// sleep, against a control run of the same seed: the ratio of the silenced
// units' E|z_u| (or Var z_u) to the other units', perturbed minus control,
// against random unit sets of the same size (UnitSetNull). Its
// hierarchical version (LayerSilencing) takes runs of the CIFAR-10 model
// (Sec. 5.2) trained with channels S of one hidden layer k silenced in its
// top-down and sleep samples: the same ratio over channels (each pooled
// over its positions) of the wake activity of layer k and, as a secondary
// endpoint, of the layer above, k+1, over its channels with S's indices.
//
// # Statistics
//
// Means carry percentile bootstrap intervals (Bootstrap, seeded, 1000
// resamples, 95%); two-sample statistics resample each sample separately
// (Bootstrap2); Spearman correlations of a graded series resample stimuli
// as clusters that keep their values at every level (GradedSpearman).
// These intervals describe one model; they give no verdict.
//
// The unit of replication is the independently trained model (seed). Each
// prediction is an Endpoint: one effect per model, with paired controls
// (the same model untrained, rebuilt from its config and seed at step 0,
// and after EarlySteps training steps (Early);
// trivial detectors of the stimulus alone: pixel energy, ‖x‖ and the
// mean-image reconstructor; permutation nulls). Judge gives the verdict: it
// "holds" only with at least MinModels models, a Student-t interval over
// models on the predicted side of the null value, a margin over every
// control whose t-interval lies above 0, and a Holm-corrected p-value
// (intersection–union test over the null and the controls; Holm over a
// study's primary endpoints) below the interval's one-sided level. It
// "fails" when the interval lies on the other side, is "inconclusive"
// otherwise, and "needs ≥3 models" with fewer.
package probe
