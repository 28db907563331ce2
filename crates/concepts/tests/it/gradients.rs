use gradsheet_concepts::gradients::{
    forward_backward, orthogonal, run_stack, Activation, Init, Stack,
};
use gradsheet_concepts::la::Mat;
use gradsheet_engine::{parse, Tape};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::close;

#[test]
fn orthogonal_matrices_are_orthogonal() {
    let q = orthogonal(16, &mut ChaCha8Rng::seed_from_u64(1));
    let qqt = q.matmul_t(&q);
    for r in 0..16 {
        for c in 0..16 {
            close(
                "Q·Qᵀ = I",
                qqt.at(r, c),
                if r == c { 1.0 } else { 0.0 },
                1e-13,
            );
        }
    }
}

#[test]
fn linear_stack_norms_are_products_of_the_weight_scales() {
    // With Wₗ = c·Qₗ (Qₗ orthogonal) and no activation, ‖hₗ‖ = cˡ‖x‖ and the gradient
    // carried down to layer l is ‖∂L/∂hₗ‖ = c^(depth−l)‖g‖: each layer scales by exactly c.
    for init in [
        Init::Orthogonal(1.3),
        Init::Orthogonal(0.7),
        Init::Identity(1.1),
    ] {
        let s = Stack {
            depth: 12,
            width: 8,
            batch: 3,
            act: Activation::Linear,
            seed: 4,
        };
        let r = run_stack(&s, init);
        let c = match init {
            Init::Orthogonal(c) | Init::Identity(c) => c,
            _ => unreachable!(),
        };
        let (a0, gtop) = (r.layers[0].act_rms, r.layers[12].grad_rms);
        for l in &r.layers {
            close(
                "activation = cˡ·input",
                l.act_rms,
                c.powi(l.layer as i32) * a0,
                1e-12,
            );
            close(
                "gradient = c^(depth-l)·top",
                l.grad_rms,
                c.powi(12 - l.layer as i32) * gtop,
                1e-12,
            );
        }
    }
}

#[test]
fn backprop_matches_the_engine_on_a_tiny_stack() {
    // Two tanh layers of width 2, one input: L = Σ g ⊙ tanh(tanh(x·W1)·W2), written out
    // as a formula; the engine's reverse mode gives ∂L/∂W.
    let x = Mat {
        rows: 1,
        cols: 2,
        data: vec![0.3, -1.2],
    };
    let w1 = Mat {
        rows: 2,
        cols: 2,
        data: vec![0.5, -0.4, 0.9, 0.2],
    };
    let w2 = Mat {
        rows: 2,
        cols: 2,
        data: vec![-0.7, 1.1, 0.3, 0.8],
    };
    let g = Mat {
        rows: 1,
        cols: 2,
        data: vec![1.5, -0.5],
    };
    let pass = forward_backward(&x, &[w1.clone(), w2.clone()], Activation::Tanh, &g);
    let h1 = |j: usize| format!("TANH(x0*a0{j}+x1*a1{j})");
    let h2 = |k: usize| format!("TANH({}*b0{k}+{}*b1{k})", h1(0), h1(1));
    let src = format!("g0*{}+g1*{}", h2(0), h2(1));
    let e = parse(&src).unwrap();
    let names: Vec<String> = [
        "x0", "x1", "g0", "g1", "a00", "a01", "a10", "a11", "b00", "b01", "b10", "b11",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let tape = Tape::compile(&e, &names).unwrap();
    let mut vars = vec![0.3, -1.2, 1.5, -0.5];
    vars.extend(&w1.data);
    vars.extend(&w2.data);
    let (value, grad) = tape.eval_grad(&vars, 0);
    let top: f64 = pass.acts[2]
        .data
        .iter()
        .zip(&g.data)
        .map(|(h, g)| h * g)
        .sum();
    close("L", top, value, 1e-14);
    for i in 0..4 {
        close("∂L/∂W1", pass.grads_w[0].data[i], grad[4 + i], 1e-13);
        close("∂L/∂W2", pass.grads_w[1].data[i], grad[8 + i], 1e-13);
    }
    for (mine, engine) in pass.grads_h[0].data.iter().zip(&grad[..2]) {
        close("∂L/∂x", *mine, *engine, 1e-13);
    }
}

#[test]
fn kaiming_keeps_relu_steady_and_xavier_lets_it_vanish() {
    let s = Stack {
        depth: 30,
        width: 128,
        batch: 64,
        act: Activation::Relu,
        seed: 9,
    };
    let k = run_stack(&s, Init::Kaiming(1.0));
    // Kaiming: E[hₗ²] is kept (each layer's factor is 2·½ = 1); with 128 units and 64
    // inputs the RMS wanders by a few percent per layer, well inside [0.5, 2] after 30.
    for l in &k.layers {
        let ratio = l.act_rms / k.layers[0].act_rms;
        assert!((0.5..2.0).contains(&ratio), "layer {}: {ratio}", l.layer);
        let gratio = l.grad_rms / k.layers[30].grad_rms;
        assert!(
            (0.25..4.0).contains(&gratio),
            "layer {} gradient: {gratio}",
            l.layer
        );
    }
    // Xavier (std √(1/n)) with ReLU halves E[h²] per layer: RMS × 2^(-15) ≈ 3e-5 after 30.
    let x = run_stack(&s, Init::Xavier(1.0));
    let ratio = x.act_ratio();
    assert!(ratio > 1e-5 && ratio < 1e-4, "xavier ratio {ratio}");
    assert!(x.grad_ratio() < 1e-3);
    // Twice Kaiming's std: ×2 per layer in RMS, 2^30 ≈ 1e9 after 30.
    let big = run_stack(&s, Init::Kaiming(2.0));
    assert!(big.act_ratio() > 1e8);
}

/// FNV-1a over the bits of every layer's three sizes, every run: a fingerprint of the
/// whole lab's numbers.
fn fingerprint(g: &gradsheet_concepts::gradients::Gradients) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for r in &g.runs {
        for l in &r.layers {
            for v in [l.act_rms, l.grad_rms, l.weight_grad_rms] {
                for b in v.to_bits().to_le_bytes() {
                    h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
                }
            }
        }
    }
    h
}

#[test]
fn the_lab_numbers_are_bit_for_bit_those_of_the_serial_plain_loops() {
    // Fingerprints taken from the first implementation (plain loops, one initialisation
    // after the other, every layer's normals drawn for each), before the lab was made
    // fast: sharing draws, interleaving matrices and threads must not change one bit.
    let cases: [(&[&str], u64); 4] = [
        (&[], 0x6909_80f6_189e_2c92),
        (
            &[
                "activation=tanh",
                "init=orthogonal",
                "gain=1.5",
                "depth=20",
                "width=33",
                "batch=7",
            ],
            0xc94a_7daa_93ea_44a3,
        ),
        (
            &[
                "activation=sigmoid",
                "init=kaiming",
                "depth=5",
                "width=1",
                "batch=1",
                "seed=3",
            ],
            0x82f5_341b_bbc6_9163,
        ),
        (
            &[
                "activation=linear",
                "init=identity",
                "gain=0.9",
                "depth=12",
                "width=9",
                "batch=5",
            ],
            0x0ed1_3a63_9bf1_8c4f,
        ),
    ];
    let lab = gradsheet_concepts::LABS
        .iter()
        .find(|l| l.name == "gradients")
        .unwrap();
    let got: Vec<u64> = cases
        .iter()
        .map(|(items, _)| {
            fingerprint(&gradsheet_concepts::gradients::run(&lab.params(items).unwrap()).unwrap())
        })
        .collect();
    let want: Vec<u64> = cases.iter().map(|c| c.1).collect();
    assert_eq!(got, want, "{got:#018x?}");
}
