//! Upsampling and its checkerboard artifacts (Odena, Dumoulin and Olah, "Deconvolution
//! and Checkerboard Artifacts", 2016).
//!
//! A transposed convolution with kernel size `k` and stride `s` paints a `k × k` copy of
//! the kernel, scaled by each input pixel, every `s` output pixels. Where `k` is not a
//! multiple of `s` the copies overlap unevenly — with `k = 3, s = 2` an output pixel gets
//! 1 or 2 contributions per direction, alternately — so even a constant image comes out
//! as a checkerboard of period `s`. Nearest or bilinear resizing followed by an ordinary
//! convolution (resize-then-convolve) treats every output pixel alike and has none.
//!
//! Conventions: bilinear uses half-pixel centres with clamped edges (PyTorch's
//! `align_corners=False`); the transposed convolution has no padding (output
//! `(n-1)·s + k`); the kernels are boxes normalised to an average gain of 1; the
//! convolution after resizing repeats the edge pixels (so that a constant image stays
//! constant to its border).

use gradsheet_labs::figure::{colour, ColorMap, Figure, Heatmap, Lines, Series, Style};
pub use gradsheet_labs::Image;
use gradsheet_labs::{Kind, LabError, Output, ParamSpec, Params, Table, Value};

/// The lab's parameters.
pub const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "kernel",
        default: "3",
        kind: Kind::Integer { min: 1, max: 9 },
        help: "kernel size of the transposed convolution and of the convolution after resizing",
        web_max: None,
    },
    ParamSpec {
        name: "stride",
        default: "2",
        kind: Kind::Integer { min: 1, max: 4 },
        help: "stride of the transposed convolution = the upsampling factor",
        web_max: None,
    },
];

/// The largest image side the lab takes (the app scales larger pictures down).
pub const MAX_SIDE: usize = 64;

/// The built-in 28 × 28 digit: a "7" drawn as two anti-aliased strokes (white on black,
/// as MNIST).
pub fn digit7() -> Image {
    let segs = [((6.5, 6.0), (21.0, 6.0)), ((21.0, 6.0), (12.0, 23.0))];
    let radius = 1.6;
    let mut px = Vec::with_capacity(28 * 28);
    for y in 0..28 {
        for x in 0..28 {
            let p = (x as f64 + 0.5, y as f64 + 0.5);
            let d = segs
                .iter()
                .map(|&(a, b)| seg_dist(p, a, b))
                .fold(f64::INFINITY, f64::min);
            px.push((radius + 0.5 - d).clamp(0.0, 1.0));
        }
    }
    Image {
        width: 28,
        height: 28,
        pixels: px,
    }
}

fn seg_dist(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let t = (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
    ((p.0 - a.0 - t * dx).powi(2) + (p.1 - a.1 - t * dy).powi(2)).sqrt()
}

/// Nearest-neighbour upsampling by a whole factor: `out(x, y) = in(⌊x/f⌋, ⌊y/f⌋)`.
pub fn nearest(img: &Image, f: usize) -> Image {
    let (w, h) = (img.width * f, img.height * f);
    let mut px = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            px.push(img.at(x / f, y / f));
        }
    }
    Image {
        width: w,
        height: h,
        pixels: px,
    }
}

/// Bilinear upsampling by a whole factor, with half-pixel centres: output pixel `x` samples
/// the input at `(x + 0.5)/f − 0.5`, clamped to the edge pixels.
pub fn bilinear(img: &Image, f: usize) -> Image {
    let (w, h) = (img.width * f, img.height * f);
    let src = |o: usize, n: usize| -> (usize, usize, f64) {
        let s = ((o as f64 + 0.5) / f as f64 - 0.5).max(0.0);
        let i0 = (s.floor() as usize).min(n - 1);
        let i1 = (i0 + 1).min(n - 1);
        (i0, i1, s - i0 as f64)
    };
    let mut px = Vec::with_capacity(w * h);
    for y in 0..h {
        let (y0, y1, ty) = src(y, img.height);
        for x in 0..w {
            let (x0, x1, tx) = src(x, img.width);
            let top = img.at(x0, y0) * (1.0 - tx) + img.at(x1, y0) * tx;
            let bot = img.at(x0, y1) * (1.0 - tx) + img.at(x1, y1) * tx;
            px.push(top * (1.0 - ty) + bot * ty);
        }
    }
    Image {
        width: w,
        height: h,
        pixels: px,
    }
}

/// A `k × k` box kernel with every weight `gain / k²`.
pub fn box_kernel(k: usize, gain: f64) -> Image {
    Image::constant(k, k, gain / (k * k) as f64)
}

/// Transposed convolution with stride `s` and no padding: each input pixel adds
/// `pixel × kernel` to the output block whose corner is at `s` times its position.
/// Output size `((w-1)·s + k) × ((h-1)·s + k)`.
pub fn transposed_conv(img: &Image, kernel: &Image, s: usize) -> Image {
    let (kw, kh) = (kernel.width, kernel.height);
    let (w, h) = ((img.width - 1) * s + kw, (img.height - 1) * s + kh);
    let mut px = vec![0.0; w * h];
    for iy in 0..img.height {
        for ix in 0..img.width {
            let v = img.at(ix, iy);
            for u in 0..kh {
                for t in 0..kw {
                    px[(iy * s + u) * w + ix * s + t] += v * kernel.at(t, u);
                }
            }
        }
    }
    Image {
        width: w,
        height: h,
        pixels: px,
    }
}

/// Convolution with stride 1 and the same output size, repeating the edge pixels beyond
/// the border (the kernel's centre is at `(k-1)/2`).
pub fn conv_same(img: &Image, kernel: &Image) -> Image {
    let (cx, cy) = ((kernel.width - 1) / 2, (kernel.height - 1) / 2);
    let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    let mut px = Vec::with_capacity(img.pixels.len());
    for y in 0..img.height {
        for x in 0..img.width {
            let mut acc = 0.0;
            for u in 0..kernel.height {
                for t in 0..kernel.width {
                    let sx = clamp(x as isize + t as isize - cx as isize, img.width);
                    let sy = clamp(y as isize + u as isize - cy as isize, img.height);
                    acc += img.at(sx, sy) * kernel.at(t, u);
                }
            }
            px.push(acc);
        }
    }
    Image {
        width: img.width,
        height: img.height,
        pixels: px,
    }
}

/// The resize-then-convolve fix: nearest upsampling by `s`, then a `k × k` box convolution.
pub fn resize_conv(img: &Image, k: usize, s: usize) -> Image {
    conv_same(&nearest(img, s), &box_kernel(k, 1.0))
}

/// How many kernel taps land on each output pixel of a transposed convolution: the
/// response of a box kernel of ones to an image of ones.
pub fn overlap_counts(width: usize, height: usize, k: usize, s: usize) -> Image {
    transposed_conv(
        &Image::constant(width, height, 1.0),
        &Image::constant(k, k, 1.0),
        s,
    )
}

/// A periodic pattern in the interior of an image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pattern {
    /// The smallest horizontal period (1: no pattern; 0: none found up to 16).
    pub period_x: usize,
    /// The smallest vertical period.
    pub period_y: usize,
    /// The contrast `(max − min) / (max + min)` over the interior: 0 for a flat image, 1
    /// where some pixels get nothing (a stride larger than the kernel).
    pub contrast: f64,
    /// The interior's smallest value.
    pub min: f64,
    /// The interior's largest value.
    pub max: f64,
}

/// The pattern of `img` inside a border of `margin` pixels.
///
/// # Examples
///
/// ```
/// use gradsheet_concepts::upsampling::{overlap_counts, pattern};
/// let p = pattern(&overlap_counts(10, 10, 3, 2), 3);
/// assert_eq!((p.period_x, p.period_y, p.min, p.max), (2, 2, 1.0, 4.0));
/// ```
pub fn pattern(img: &Image, margin: usize) -> Pattern {
    let (x0, x1) = (margin.min(img.width), img.width.saturating_sub(margin));
    let (y0, y1) = (margin.min(img.height), img.height.saturating_sub(margin));
    let vals: Vec<f64> = (y0..y1)
        .flat_map(|y| (x0..x1).map(move |x| (x, y)))
        .map(|(x, y)| img.at(x, y))
        .collect();
    let (min, max) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |a, &v| {
            (a.0.min(v), a.1.max(v))
        });
    let tol = 1e-9 * max.abs().max(1.0);
    let period = |dx: usize, dy: usize| -> usize {
        (1..=16)
            .find(|&p| {
                (y0..y1.saturating_sub(p * dy)).all(|y| {
                    (x0..x1.saturating_sub(p * dx))
                        .all(|x| (img.at(x, y) - img.at(x + p * dx, y + p * dy)).abs() <= tol)
                })
            })
            .unwrap_or(0)
    };
    Pattern {
        period_x: period(1, 0),
        period_y: period(0, 1),
        contrast: if max + min != 0.0 {
            (max - min) / (max + min).abs()
        } else {
            0.0
        },
        min,
        max,
    }
}

/// The whole lab's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Upsampling {
    /// Kernel size.
    pub k: usize,
    /// Stride = factor.
    pub s: usize,
    /// The input image.
    pub input: Image,
    /// `(method, output of the input, output of a constant image)`.
    pub methods: Vec<(String, Image, Image)>,
    /// The pattern each method leaves on a constant image.
    pub patterns: Vec<Pattern>,
    /// `(k, s, pattern)` of transposed convolutions over k = 1..=7, s = 1..=3.
    pub sweep: Vec<(usize, usize, Pattern)>,
}

/// Runs the lab on `input` (the built-in digit if `None`).
///
/// # Errors
///
/// [`LabError::Invalid`] for an image larger than [`MAX_SIDE`] on a side.
pub fn run(p: &Params, input: Option<&Image>) -> Result<Upsampling, LabError> {
    let (k, s) = (p.int("kernel"), p.int("stride"));
    let input = input.cloned().unwrap_or_else(digit7);
    if input.width > MAX_SIDE || input.height > MAX_SIDE {
        return Err(LabError::Invalid(format!(
            "the image is {}×{}; the lab takes at most {MAX_SIDE}×{MAX_SIDE}",
            input.width, input.height
        )));
    }
    let flat = Image::constant(input.width, input.height, 1.0);
    // The box kernel of the transposed convolution has gain s² so that its average output
    // on a constant image is the image's value ((k/s)² taps per pixel on average).
    let tk = box_kernel(k, (s * s) as f64);
    let methods = vec![
        ("nearest".to_string(), nearest(&input, s), nearest(&flat, s)),
        (
            "bilinear".to_string(),
            bilinear(&input, s),
            bilinear(&flat, s),
        ),
        (
            format!("transposed conv k={k} s={s}"),
            transposed_conv(&input, &tk, s),
            transposed_conv(&flat, &tk, s),
        ),
        (
            format!("resize-conv (nearest ×{s}, then {k}×{k} conv)"),
            resize_conv(&input, k, s),
            resize_conv(&flat, k, s),
        ),
    ];
    let margin = k + s;
    let patterns = methods.iter().map(|m| pattern(&m.2, margin)).collect();
    let mut sweep = Vec::new();
    for kk in 1..=7 {
        for ss in 1..=3 {
            sweep.push((kk, ss, pattern(&overlap_counts(12, 12, kk, ss), kk + ss)));
        }
    }
    Ok(Upsampling {
        k,
        s,
        input,
        methods,
        patterns,
        sweep,
    })
}

/// The registry's entry point.
///
/// # Errors
///
/// As [`run`].
pub fn run_lab(p: &Params, image: Option<&Image>) -> Result<Output, LabError> {
    Ok(run(p, image)?.output())
}

impl Upsampling {
    /// Tables, figures, images and notes.
    pub fn output(&self) -> Output {
        let mut methods = Table::new(
            "methods",
            "each method on a constant image of ones (interior): a checkerboard shows as a period > 1",
            &["method", "width", "height", "min", "max", "period x", "period y", "contrast"],
        );
        for ((name, out, _), p) in self.methods.iter().zip(&self.patterns) {
            methods.push(vec![
                name.as_str().into(),
                out.width.into(),
                out.height.into(),
                p.min.into(),
                p.max.into(),
                p.period_x.into(),
                p.period_y.into(),
                p.contrast.into(),
            ]);
        }
        let mut sweep = Table::new(
            "sweep",
            "transposed convolution of a constant image: kernel size against stride",
            &["kernel", "stride", "k divisible by s", "period", "contrast"],
        );
        for (k, s, p) in &self.sweep {
            sweep.push(vec![
                (*k).into(),
                (*s).into(),
                Value::Text(if k % s == 0 { "yes" } else { "no" }.into()),
                p.period_x.into(),
                p.contrast.into(),
            ]);
        }
        let counts = overlap_counts(6, 6, self.k, self.s);
        let mut count_table = Table::new(
            "overlaps",
            "taps of the transposed convolution landing on each output pixel (top-left corner)",
            &[],
        );
        let n = counts.width.min(10);
        count_table.headers = std::iter::once("row".to_string())
            .chain((0..n).map(|x| format!("x{x}")))
            .collect();
        for y in 0..counts.height.min(10) {
            let mut row: Vec<Value> = vec![y.into()];
            row.extend((0..n).map(|x| Value::Num(counts.at(x, y))));
            count_table.push(row);
        }
        let tp = &self.patterns[2];
        let mut notes = vec![if tp.period_x > 1 {
            format!(
                "kernel {} is not divisible by stride {}: the transposed convolution turns a constant image into a checkerboard of period {} (values {} to {})",
                self.k, self.s, tp.period_x, fmt(tp.min), fmt(tp.max)
            )
        } else {
            format!("kernel {} with stride {}: the transposed convolution leaves a constant image flat inside its border", self.k, self.s)
        }];
        notes.push(format!(
            "resize-then-convolve: interior {} to {} on the constant image (flat)",
            fmt(self.patterns[3].min),
            fmt(self.patterns[3].max)
        ));
        let mut images = vec![("input".to_string(), self.input.clone())];
        let slug = ["nearest", "bilinear", "transposed", "resize-conv"];
        for ((_, out, flat), name) in self.methods.iter().zip(slug) {
            images.push((name.to_string(), out.clone()));
            images.push((format!("{name}-constant"), flat.clone()));
        }
        Output {
            lab: "upsampling".into(),
            notes,
            tables: vec![methods, sweep, count_table],
            figures: self.figures(&counts),
            images,
        }
    }

    fn figures(&self, counts: &Image) -> Vec<Figure> {
        let gray = |title: String, img: &Image| {
            Heatmap::new(
                title,
                (img.height, img.width),
                img.pixels.clone(),
                ColorMap::Gray,
            )
        };
        let mut panels = vec![gray(
            format!("input {}×{}", self.input.width, self.input.height),
            &self.input,
        )];
        for (name, out, _) in &self.methods {
            panels.push(gray(short(name), out));
        }
        // The constant image's outputs share one scale from 0, so that flat means flat.
        let top = self
            .methods
            .iter()
            .flat_map(|m| m.2.pixels.iter().copied())
            .fold(1.0, f64::max);
        for (name, _, flat) in &self.methods[2..] {
            let mut hm = gray(format!("ones → {}", short(name)), flat);
            hm.range = Some((0.0, top));
            panels.push(hm);
        }
        let (rows, cols) = (counts.height.min(10), counts.width.min(10));
        let values: Vec<f64> = (0..rows)
            .flat_map(|y| (0..cols).map(move |x| counts.at(x, y)))
            .collect();
        let mut hm = Heatmap::new(
            format!("taps per pixel, k={} s={}", self.k, self.s),
            (rows, cols),
            values,
            ColorMap::Blues,
        );
        hm.range = Some((0.0, hm.values.iter().copied().fold(1.0, f64::max)));
        hm.annotate = true;
        panels.push(hm);
        vec![
            Figure::heatmaps(
                "images",
                &format!(
                    "Upsampling ×{}: kernel {}, stride {}",
                    self.s, self.k, self.s
                ),
                panels,
                5,
            ),
            self.profile_figure(),
        ]
    }

    /// A row of each method's output of the constant image.
    fn profile_figure(&self) -> Figure {
        let mut prof = Lines::new(
            "a row of the constant image's output (first 24 columns)",
            "output column",
            "value",
        );
        let row = |img: &Image| -> Vec<(f64, f64)> {
            let y = img.height / 2;
            (0..img.width.min(24))
                .map(|x| (x as f64, img.at(x, y)))
                .collect()
        };
        // Nearest, bilinear and resize-conv all give exactly 1 here: one line stands for them.
        prof.series.push(Series::new(
            "the others (all 1)",
            row(&self.methods[3].2),
            Style::Line,
            colour::BLUE,
        ));
        prof.series.push(Series::new(
            format!("transposed k={} s={}", self.k, self.s),
            row(&self.methods[2].2),
            Style::LinePoints,
            colour::VERMILLION,
        ));
        let top = self.methods[2].2.pixels.iter().copied().fold(1.0, f64::max);
        prof.y_range = Some((0.0, top * 1.1));
        Figure::lines(
            "profile",
            "one row of the constant image's output",
            vec![prof],
        )
    }
}

fn short(name: &str) -> String {
    name.split(" (").next().unwrap_or(name).to_string()
}

fn fmt(v: f64) -> String {
    gradsheet_engine::format_number((v * 1e6).round() / 1e6)
}
