use gradsheet_concepts::upsampling::{
    bilinear, box_kernel, nearest, overlap_counts, pattern, resize_conv, transposed_conv, Image,
};
use gradsheet_concepts::{Params, LABS};

use crate::close;

fn img(w: usize, h: usize, px: &[f64]) -> Image {
    Image::new(w, h, px.to_vec()).unwrap()
}

#[test]
fn nearest_repeats_pixels() {
    let out = nearest(&img(2, 2, &[1.0, 2.0, 3.0, 4.0]), 2);
    #[rustfmt::skip]
    let want = [1.0, 1.0, 2.0, 2.0,
                1.0, 1.0, 2.0, 2.0,
                3.0, 3.0, 4.0, 4.0,
                3.0, 3.0, 4.0, 4.0];
    assert_eq!((out.width, out.height), (4, 4));
    assert_eq!(out.pixels, want);
}

#[test]
fn bilinear_matches_half_pixel_centres() {
    // torch.nn.functional.interpolate([[1,2],[3,4]], scale_factor=2, mode="bilinear",
    // align_corners=False): output x samples (x+0.5)/2-0.5 = -0.25, 0.25, 0.75, 1.25,
    // clamped to [0, 1], so the weights of the right pixel are 0, 0.25, 0.75, 1.
    let out = bilinear(&img(2, 2, &[1.0, 2.0, 3.0, 4.0]), 2);
    #[rustfmt::skip]
    let want = [1.0, 1.25, 1.75, 2.0,
                1.5, 1.75, 2.25, 2.5,
                2.5, 2.75, 3.25, 3.5,
                3.0, 3.25, 3.75, 4.0];
    for (a, b) in out.pixels.iter().zip(want) {
        close("bilinear pixel", *a, b, 1e-15);
    }
    // Factor 3 on a 1-D ramp: samples at -1/3, 0, 1/3, 2/3, 1, 4/3 of [0, 3].
    let out = bilinear(&img(2, 1, &[0.0, 3.0]), 3);
    let want = [0.0, 0.0, 1.0, 2.0, 3.0, 3.0];
    for (a, b) in out.pixels.iter().zip(want) {
        close("bilinear ×3", *a, b, 1e-12);
    }
}

/// How many (input position, tap) pairs land on output `i` in one dimension, by brute force.
fn taps_1d(i: usize, n: usize, k: usize, s: usize) -> usize {
    (0..n).filter(|&j| i >= j * s && i - j * s < k).count()
}

#[test]
fn kernel_3_stride_2_makes_a_checkerboard_of_period_2() {
    let (n, k, s) = (10, 3, 2);
    let counts = overlap_counts(n, n, k, s);
    assert_eq!(counts.width, (n - 1) * s + k);
    for y in 0..counts.height {
        for x in 0..counts.width {
            assert_eq!(
                counts.at(x, y),
                (taps_1d(x, n, k, s) * taps_1d(y, n, k, s)) as f64
            );
        }
    }
    // Inside the border a row alternates 2 taps (even columns) and 1 (odd), so the 2-D
    // counts are 4, 2, 4, 2 on even rows and 2, 1, 2, 1 on odd rows.
    assert_eq!(
        &counts.pixels[4 * counts.width + 2..4 * counts.width + 6],
        &[4.0, 2.0, 4.0, 2.0]
    );
    assert_eq!(
        &counts.pixels[5 * counts.width + 2..5 * counts.width + 6],
        &[2.0, 1.0, 2.0, 1.0]
    );
    let p = pattern(&counts, k + s);
    assert_eq!((p.period_x, p.period_y, p.min, p.max), (2, 2, 1.0, 4.0));

    // The box kernel of gain s² averages to 1: 4·4/9, 2·4/9, 1·4/9 on a constant image.
    let out = transposed_conv(&Image::constant(n, n, 1.0), &box_kernel(k, 4.0), s);
    let p = pattern(&out, k + s);
    close("max", p.max, 16.0 / 9.0, 1e-15);
    close("min", p.min, 4.0 / 9.0, 1e-15);
    close("contrast", p.contrast, (16.0 - 4.0) / (16.0 + 4.0), 1e-15);
    // Over one 2×2 period the mean is 1: (16 + 8 + 8 + 4)/9/4.
    let block: f64 = [(6, 6), (7, 6), (6, 7), (7, 7)]
        .iter()
        .map(|&(x, y)| out.at(x, y))
        .sum();
    close("mean over a period", block / 4.0, 1.0, 1e-15);
}

#[test]
fn no_checkerboard_when_the_kernel_is_divisible_by_the_stride() {
    for (k, s) in [(1, 1), (2, 2), (4, 2), (3, 3), (6, 3), (3, 1)] {
        let p = pattern(&overlap_counts(12, 12, k, s), k + s);
        assert_eq!(
            (p.period_x, p.period_y, p.contrast),
            (1, 1, 0.0),
            "k={k} s={s}"
        );
        close(
            "taps per pixel = (k/s)²",
            p.max,
            ((k / s) * (k / s)) as f64,
            0.0,
        );
    }
    for (k, s) in [(3, 2), (5, 2), (4, 3), (5, 3), (1, 2)] {
        let p = pattern(&overlap_counts(12, 12, k, s), k + s);
        assert_eq!((p.period_x, p.period_y), (s, s), "k={k} s={s}");
        assert!(p.contrast > 0.0);
    }
}

#[test]
fn resize_then_convolve_has_no_checkerboard() {
    for k in 1..=7 {
        for s in 1..=3 {
            let out = resize_conv(&Image::constant(9, 7, 1.0), k, s);
            assert_eq!((out.width, out.height), (9 * s, 7 * s));
            assert!(
                out.pixels.iter().all(|&v| (v - 1.0).abs() < 1e-12),
                "k={k} s={s}"
            );
        }
    }
}

#[test]
fn the_lab_reports_the_checkerboard() {
    let lab = LABS.iter().find(|l| l.name == "upsampling").unwrap();
    let r = gradsheet_concepts::upsampling::run(
        &Params::parse(lab.params, &["kernel=3", "stride=2"]).unwrap(),
        None,
    )
    .unwrap();
    let periods: Vec<usize> = r.patterns.iter().map(|p| p.period_x).collect();
    assert_eq!(periods, [1, 1, 2, 1]); // nearest, bilinear, transposed, resize-conv
    for (k, s, p) in &r.sweep {
        assert_eq!(p.period_x, if k % s == 0 { 1 } else { *s }, "k={k} s={s}");
    }
    let d = gradsheet_concepts::upsampling::digit7();
    assert_eq!((d.width, d.height), (28, 28));
    assert!(d.pixels.iter().all(|&v| (0.0..=1.0).contains(&v)));
    assert!(d.pixels.iter().filter(|&&v| v > 0.9).count() > 40);
    // A user image too large is refused (the app scales it down first).
    let big = Image::constant(65, 10, 0.5);
    assert!(
        gradsheet_concepts::upsampling::run(&Params::defaults(lab.params), Some(&big)).is_err()
    );
}
