// Package eval measures how well a trained model of Sec. 5.1 does what the
// paper claims, beyond looking at pictures:
//
//   - Alignment of the wake and sleep joint distributions over quantized
//     activity patterns, after Berkes et al. (2011) and Fig. 3D of the paper
//     (alignment.go): KL divergences in bits between pattern histograms of 16
//     units (8 pixels of x, 8 units of z), averaged over seeded draws of units,
//     beside a control that shows the estimator's noise floor.
//   - Sample and reconstruction quality measured by an MNIST classifier trained
//     with this repository's own engine (classifier.go, quality.go):
//     reconstruction class agreement, the class histogram and confidence of
//     sleep samples, and the Fréchet distance between classifier features of
//     sleep samples and of test digits.
//   - A report in the run folder (report.go): report.md, PNG figures
//     (plot.go) and eval.json, which `wakesleep eval --compare` reads.
//   - CIFAR-10 (Sec. 5.2, cifar10.go), judged by a small convnet trained
//     here (cifarclassifier.go): through each depth of the hierarchy the
//     reconstruction error, class agreement and Fréchet distance; the
//     samples' Fréchet distance beside the train/test floor; linear probes
//     of the labels on each layer's inferred z; per-layer alignment of
//     bottom-up against top-down activity with its noise floor.
//   - Moving MNIST (Sec. 5.3, prediction.go, ssim.go): per-frame MSE and
//     SSIM with 95% intervals over sequences for one sample, the mean and
//     the best of K samples, against repeating the last frame, black frames
//     and a deterministic ConvLSTM run; digit identity by the MNIST
//     classifier on crops at each digit's true position; sleep-phase
//     alignment of z.
//
// Choices where the paper is silent (SPEC 2a, open points), all options:
//
//   - Wake samples are the first N MNIST test digits with z ~ q(z|x); sleep
//     samples are z ~ N(0, I) with x ~ p(x|z); N = 10,000 by default. x is
//     quantized in the model's own pixel scale.
//   - Rounding is to the nearest integer, halves away from zero; patterns are
//     keyed exactly (Pattern), never clamped.
//   - KL is in bits with additive smoothing α = ½ over the patterns seen in
//     either sample (KLBits). Each phase is split into two halves and every
//     KL compares two halves of equal size, so the wake-vs-wake control is the
//     estimator's noise floor for exactly the sample sizes compared.
//   - Units: 10 seeded draws; x units among the pixels whose rounded value
//     varies in at least 10% of the test digits (drawing among all 784 would
//     mostly pick background pixels that are 0 in every digit); z units among
//     all latents. The pixel choice depends only on the data, so runs are
//     compared on the same pixels.
//   - Resolution: with z near N(0, I) a rounded latent carries about 2 bits,
//     so 16 units span ~20 bits of patterns and 5,000 samples a half see
//     nearly every pattern once. The Good–Turing missing mass is reported to
//     show this, and a coarser alignment (4 x + 2 z units) is reported beside
//     the paper's 8 + 8 by default.
//   - The classifier is an MLP trained here (DefaultClassifierConfig; the
//     committed checkpoint is in files/). Model pixels are mapped to [0, 1]
//     and clamped before classification. The Fréchet distance uses its last
//     hidden layer (512 units) and float64 throughout; the train-vs-test
//     distance is reported as its floor.
//
// References: Berkes, Orbán, Lengyel & Fiser, "Spontaneous cortical activity
// reveals hallmarks of an optimal internal model of the environment",
// Science 331 (2011); Heusel et al., "GANs trained by a two time-scale update
// rule converge to a local Nash equilibrium", NeurIPS 2017 (the Fréchet
// distance); Dowson & Landau, J. Multivariate Anal. 12 (1982) (its closed form).
package eval

import "embed"

// embedded holds files/: the committed classifier checkpoint (if present)
// and its README.
//
//go:embed files
var embedded embed.FS
