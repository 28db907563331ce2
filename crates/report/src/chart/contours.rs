//! Contour lines of an error surface, with paths drawn over them.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::lines::{legend, line_width};
use super::{colour, draw_err, span, tick, ChartError, Grid, Series, FONT};

/// A colour-blind-safe sequential scale (viridis anchors), `t` in [0, 1].
pub(super) fn sequential(t: f64) -> RGBColor {
    const V: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    } * (V.len() - 1) as f64;
    let i = (t.floor() as usize).min(V.len() - 2);
    let f = t - i as f64;
    let (a, b) = (V[i], V[i + 1]);
    let m = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// The segments where the surface crosses `level`, by marching squares.
pub(super) fn segments(g: &Grid, z: &[f64], level: f64) -> Vec<[(f64, f64); 2]> {
    let (nx, ny) = (g.xs.len(), g.ys.len());
    let mut out = Vec::new();
    for j in 0..ny.saturating_sub(1) {
        for i in 0..nx.saturating_sub(1) {
            let c = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
            let mut cross = Vec::with_capacity(4);
            for e in 0..4 {
                let (a, b) = (c[e], c[(e + 1) % 4]);
                let (za, zb) = (z[a.1 * nx + a.0], z[b.1 * nx + b.0]);
                if !(za.is_finite() && zb.is_finite()) || (za < level) == (zb < level) {
                    continue;
                }
                let t = (level - za) / (zb - za);
                let (xa, ya, xb, yb) = (g.xs[a.0], g.ys[a.1], g.xs[b.0], g.ys[b.1]);
                cross.push((xa + t * (xb - xa), ya + t * (yb - ya)));
            }
            for pair in cross.chunks_exact(2) {
                out.push([pair[0], pair[1]]);
            }
        }
    }
    out
}

/// Contour lines of `g` (levels evenly spaced in log10 of its values) with paths over
/// them: a dot at each start, a cross at each end.
pub(super) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (title, x_label, y_label): (&str, &str, &str),
    g: &Grid,
    paths: &[Series],
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let axis = || ChartError::Empty("a grid axis with no finite range of drawable width".into());
    let (x0, x1) = span(g.xs.iter().copied()).ok_or_else(axis)?;
    let (y0, y1) = span(g.ys.iter().copied()).ok_or_else(axis)?;
    let mut c = ChartBuilder::on(root)
        .caption(title, (FONT, 24))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(draw_err)?;
    let f = |v: &f64| tick(*v);
    c.configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&f)
        .y_label_formatter(&f)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .disable_mesh()
        .draw()
        .map_err(draw_err)?;
    // Levels evenly spaced in log10 of the error (errors are >= 0; 0 maps to the floor).
    let z: Vec<f64> = g.values.iter().map(|v| v.max(1e-300).log10()).collect();
    let (lo, hi) = span(z.iter().copied().filter(|v| v.is_finite())).unwrap_or((0.0, 1.0));
    const LEVELS: usize = 14;
    let mut first = true;
    for k in 1..=LEVELS {
        let t = k as f64 / (LEVELS + 1) as f64;
        let level = lo + (hi - lo) * t;
        let col = sequential(t);
        let segs = segments(g, &z, level);
        let drawn = c
            .draw_series(
                segs.into_iter()
                    .map(|s| PathElement::new(s.to_vec(), col.stroke_width(1))),
            )
            .map_err(draw_err)?;
        if first {
            drawn
                .label("error contours (log-spaced)")
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], sequential(0.5).stroke_width(2))
                });
            first = false;
        }
    }
    for (i, s) in paths.iter().enumerate() {
        let col = colour(if i == 0 { 1 } else { i + 1 });
        let p: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        c.draw_series(LineSeries::new(
            p.iter().copied(),
            col.stroke_width(line_width(p.len())),
        ))
        .map_err(draw_err)?
        .label(s.name.as_str())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], col.stroke_width(3)));
        if let Some(&start) = p.first() {
            c.draw_series(std::iter::once(Circle::new(start, 5, col.filled())))
                .map_err(draw_err)?;
        }
        if let Some(&end) = p.last() {
            c.draw_series(std::iter::once(Cross::new(end, 6, BLACK.stroke_width(2))))
                .map_err(draw_err)?;
        }
    }
    legend(&mut c)
}
