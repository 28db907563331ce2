use gradsheet_concepts::dropout::{self, ensemble, mask_mean, Masks, Net};
use gradsheet_concepts::la::Mat;
use gradsheet_concepts::{Params, LABS};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::close;

#[test]
fn scaling_keeps_the_expected_activation() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (a, m) = (2.0, 200_000);
    for p in [0.1, 0.3, 0.5, 0.8] {
        // One masked value is a·scale with probability 1-p, else 0: its standard deviation
        // is a·√(p/(1-p)) scaled, a·√(p(1-p)) unscaled. Allow 4 standard errors.
        let scaled = mask_mean(a, p, m, true, &mut rng);
        let se = a * (p / (1.0 - p)).sqrt() / (m as f64).sqrt();
        assert!((scaled - a).abs() < 4.0 * se, "p={p}: {scaled}");
        let unscaled = mask_mean(a, p, m, false, &mut rng);
        let se = a * (p * (1.0 - p)).sqrt() / (m as f64).sqrt();
        assert!(
            (unscaled - (1.0 - p) * a).abs() < 4.0 * se,
            "p={p}: {unscaled}"
        );
    }
}

#[test]
fn backprop_matches_central_differences() {
    let sizes = [1, 3, 3, 1];
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut net = Net::new(&sizes, &mut rng);
    // Non-zero biases: with zero biases a unit whose inputs are all dropped sits exactly
    // on the ReLU's kink, where a central difference is not a derivative.
    for v in net.params.iter_mut() {
        *v = gradsheet_train::rng::normal(&mut rng);
    }
    let x = [0.4, -1.3, 2.0];
    let y = [0.1, 0.5, -0.2];
    let masks = Masks {
        masks: vec![
            Mat {
                rows: 3,
                cols: 3,
                data: vec![1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0],
            },
            Mat {
                rows: 3,
                cols: 3,
                data: vec![1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0],
            },
        ],
        scale: 1.5,
    };
    for m in [None, Some(&masks)] {
        let (_, g) = net.loss_grad(&x, &y, m);
        for (i, gi) in g.iter().enumerate() {
            let h = 1e-6;
            let mut up = net.clone();
            up.params[i] += h;
            let mut down = net.clone();
            down.params[i] -= h;
            let fd = (up.loss_grad(&x, &y, m).0 - down.loss_grad(&x, &y, m).0) / (2.0 * h);
            close("∂loss/∂param", *gi, fd, 1e-7);
        }
    }
}

#[test]
fn masked_nets_average_to_the_full_net() {
    // One hidden layer: the output is linear in the masked layer, so the mean over masks
    // of the output is exactly the full net's output (E[mask·scale] = 1). Check within 4
    // standard errors of the sample mean.
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let net = Net::new(&[1, 16, 1], &mut rng);
    let x = [-2.0, -0.5, 0.7, 2.5];
    let full = net.forward(&x, None).out.data;
    let m = 20_000;
    let mut outs = vec![Vec::with_capacity(m); x.len()];
    for _ in 0..m {
        let one = ensemble(&net, &x, 0.5, 1, &mut rng);
        for (o, v) in outs.iter_mut().zip(one) {
            o.push(v);
        }
    }
    for (o, f) in outs.iter().zip(&full) {
        let mean = o.iter().sum::<f64>() / m as f64;
        let sd = (o.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (m - 1) as f64).sqrt();
        assert!(
            (mean - f).abs() < 4.0 * sd / (m as f64).sqrt() + 1e-12,
            "mean {mean} vs full {f} (sd {sd})"
        );
    }
}

#[test]
fn the_lab_shows_scaling_and_the_ensemble() {
    let lab = LABS.iter().find(|l| l.name == "dropout").unwrap();
    let p = Params::parse(
        lab.params,
        &[
            "hidden=16",
            "steps=300",
            "ps=0,0.5",
            "ensemble=100",
            "p=0.5",
        ],
    )
    .unwrap();
    let r = dropout::run(&p).unwrap();
    assert_eq!(r.sweep.len(), 2);
    // Without dropout the unscaled run is the same run.
    assert_eq!(r.sweep[0].val, r.sweep[0].val_unscaled);
    // The first step's mask drops about half of 16 units, and activations are ≥ 0.
    let dropped = r.steps[0].mask.iter().filter(|&&m| m == 0.0).count();
    assert!((3..=13).contains(&dropped), "{dropped}");
    assert!(r.steps[0].before.iter().all(|&a| a >= 0.0));
    // Averaging many masks: scaled ≈ before, unscaled ≈ (1-p)·before.
    for &(a, s, u) in &r.expectation {
        assert!((s - a).abs() <= 0.05 * a + 1e-12, "{s} vs {a}");
        assert!((u - 0.5 * a).abs() <= 0.05 * a + 1e-12, "{u} vs {a}");
    }
    // The ensemble's gap to the full net shrinks as more masked nets are averaged.
    let gaps: Vec<f64> = r.ensemble.iter().map(|e| e.2).collect();
    assert_eq!(
        r.ensemble.iter().map(|e| e.0).collect::<Vec<_>>(),
        [1, 2, 5, 10, 20, 50, 100]
    );
    assert!(gaps[6] < gaps[0], "{gaps:?}");
}
