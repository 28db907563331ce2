//! Line charts: the series of a [`Lines`] in their styles, on linear or log axes, with
//! fixed or fitted ranges, and a legend.

use gradsheet_labs::figure::{Lines, Series, Style};
use plotters::chart::SeriesAnno;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::{colour, draw_err, span, tick, ChartError, FONT};

type Ctx<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws `c` on `root`, its title in `caption` px.
pub(super) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    c: &Lines,
    caption: u32,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    // Log axes are drawn as linear axes of log10 values, labelled with the values.
    let tx = |v: f64| if c.log_x { v.log10() } else { v };
    let ty = |v: f64| if c.log_y { v.log10() } else { v };
    let runs: Vec<Vec<Vec<(f64, f64)>>> = c
        .series
        .iter()
        .map(|s| finite_runs(s.points.iter().map(|&(x, y)| (tx(x), ty(y)))))
        .collect();
    let all = || runs.iter().flatten().flatten();
    let empty = || {
        ChartError::Empty(format!(
            "{}: no finite point, or a range too wide to draw",
            c.title
        ))
    };
    let fixed = |r: Option<(f64, f64)>, t: &dyn Fn(f64) -> f64| {
        r.map(|(a, b)| (t(a), t(b)))
            .filter(|(a, b)| a.is_finite() && b.is_finite() && a < b)
    };
    let xr = fixed(c.x_extent(), &tx);
    let yr = fixed(c.y_extent(), &ty);
    let (x0, x1) = xr.or_else(|| span(all().map(|p| p.0))).ok_or_else(empty)?;
    let (y0, y1) = yr.or_else(|| span(all().map(|p| p.1))).ok_or_else(empty)?;
    let mut ctx = ChartBuilder::on(root)
        .caption(&c.title, (FONT, caption))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(draw_err)?;
    // Categories name the whole positions 1…n; the ticks between them stay blank.
    let fx = |v: &f64| {
        if c.categories.is_empty() {
            return tick(if c.log_x { 10f64.powf(*v) } else { *v });
        }
        let k = v.round();
        if (v - k).abs() < 1e-9 && k >= 1.0 {
            c.categories
                .get(k as usize - 1)
                .cloned()
                .unwrap_or_default()
        } else {
            String::new()
        }
    };
    let fy = |v: &f64| tick(if c.log_y { 10f64.powf(*v) } else { *v });
    let scaled = |label: &str, log: bool| {
        if log {
            format!("{label} (log scale)")
        } else {
            label.to_string()
        }
    };
    ctx.configure_mesh()
        .x_desc(scaled(&c.x_label, c.log_x))
        .y_desc(scaled(&c.y_label, c.log_y))
        .x_label_formatter(&fx)
        .x_labels(if c.categories.is_empty() {
            10
        } else {
            2 * c.categories.len() + 1
        })
        .y_label_formatter(&fy)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(draw_err)?;
    // Only a fixed range can leave points outside the plot: cut the lines at its edges.
    let clip = (xr.is_some() || yr.is_some()).then_some(((x0, x1), (y0, y1)));
    let bars: Vec<usize> = (0..c.series.len())
        .filter(|&i| c.series[i].style == Style::Bars)
        .collect();
    for (i, (s, r)) in c.series.iter().zip(&runs).enumerate() {
        if s.style == Style::Bars {
            let k = bars.iter().position(|&b| b == i).unwrap_or(0);
            let col = colour(s.color_index(i));
            let base = 0f64.clamp(y0, y1);
            let rects = r.iter().flatten().map(|&(x, y)| {
                let (cx, w) = Lines::bar(x, k, bars.len());
                Rectangle::new([(cx - w / 2.0, base), (cx + w / 2.0, y)], col.filled())
            });
            let anno = ctx.draw_series(rects).map_err(draw_err)?;
            if !s.name.is_empty() {
                name(anno, s, col);
            }
            continue;
        }
        let r = match clip {
            Some(rect) => clip_runs(r, rect),
            None => r.clone(),
        };
        series(&mut ctx, s, &r, colour(s.color_index(i)))?;
    }
    if c.series.iter().any(|s| !s.name.is_empty()) {
        let corner = emptiest_corner(runs.iter().flatten().flatten().copied(), (x0, x1), (y0, y1));
        let corner = [
            SeriesLabelPosition::UpperRight,
            SeriesLabelPosition::UpperLeft,
            SeriesLabelPosition::LowerRight,
            SeriesLabelPosition::LowerLeft,
        ][corner]
            .clone();
        legend_at(&mut ctx, corner)?;
    }
    Ok(())
}

/// The corner of the plot (0 upper right, 1 upper left, 2 lower right, 3 lower left) with
/// the fewest points in its corner box, the upper right first on a tie: where a legend
/// covers no data (emb_sizing's points climb to the upper right).
fn emptiest_corner(
    points: impl Iterator<Item = (f64, f64)>,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> usize {
    let (w, h) = (x1 - x0, y1 - y0);
    let mut counts = [0usize; 4];
    for (x, y) in points {
        let (fx, fy) = ((x - x0) / w, (y - y0) / h);
        let right = fx >= 0.6;
        let left = fx <= 0.4;
        let top = fy >= 0.7;
        let bottom = fy <= 0.3;
        for (i, inside) in [top && right, top && left, bottom && right, bottom && left]
            .into_iter()
            .enumerate()
        {
            counts[i] += usize::from(inside);
        }
    }
    (0..4).min_by_key(|&i| (counts[i], i)).unwrap_or(0)
}

/// One series, in its style: `runs` are its unbroken stretches of drawable points.
fn series<'a, DB: DrawingBackend + 'a>(
    ctx: &mut Ctx<'a, DB>,
    s: &Series,
    runs: &[Vec<(f64, f64)>],
    col: RGBColor,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let n: usize = runs.iter().map(Vec::len).sum();
    let line = match s.style {
        Style::Faint => col.mix(0.35).stroke_width(1),
        _ => col.stroke_width(line_width(n)),
    };
    // The legend names a series once, on the first element drawn.
    let mut named = s.name.is_empty();
    if s.style.has_line() {
        for r in runs.iter().filter(|r| r.len() > 1) {
            let anno = if s.style == Style::Dashed {
                ctx.draw_series(DashedLineSeries::new(r.iter().copied(), 7, 4, line))
            } else {
                ctx.draw_series(LineSeries::new(r.iter().copied(), line))
            }
            .map_err(draw_err)?;
            if !named {
                name(anno, s, col);
                named = true;
            }
        }
    }
    if s.style.has_marks() {
        let marks = runs.iter().flatten().map(|&p| match s.style {
            Style::Rings => Circle::new(p, 5, col.stroke_width(2)),
            Style::LinePoints => Circle::new(p, 3, col.filled()),
            _ => Circle::new(p, 4, col.filled()),
        });
        let anno = ctx.draw_series(marks).map_err(draw_err)?;
        if !named {
            name(anno, s, col);
        }
    }
    Ok(())
}

/// Gives the series drawn last its legend entry.
fn name<'a, DB: DrawingBackend + 'a>(anno: &mut SeriesAnno<'a, DB>, s: &Series, col: RGBColor) {
    let style = s.style;
    anno.label(s.name.as_str())
        .legend(move |(x, y)| legend_mark(style, col, (x, y)));
}

/// The legend's sample of a series' style, at the legend's `(x, y)`.
fn legend_mark<'b, DB: DrawingBackend>(
    style: Style,
    col: RGBColor,
    (x, y): (i32, i32),
) -> DynElement<'b, DB, (i32, i32)> {
    let path =
        |w: u32, c: ShapeStyle| PathElement::new(vec![(x, y), (x + 24, y)], c.stroke_width(w));
    match style {
        Style::Points | Style::LinePoints => Circle::new((x + 12, y), 4, col.filled()).into_dyn(),
        Style::Rings => Circle::new((x + 12, y), 5, col.stroke_width(2)).into_dyn(),
        Style::Faint => path(2, col.mix(0.6).into()).into_dyn(),
        Style::Dashed => {
            DashedPathElement::new(vec![(x, y), (x + 24, y)], 7, 4, col.stroke_width(3)).into_dyn()
        }
        Style::Line => path(3, col.into()).into_dyn(),
        Style::Bars => Rectangle::new([(x + 6, y - 5), (x + 18, y + 5)], col.filled()).into_dyn(),
    }
}

/// The legend of the series drawn on `c`, in the upper right corner.
pub(super) fn legend<'a, DB: DrawingBackend + 'a>(
    c: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    legend_at(c, SeriesLabelPosition::UpperRight)
}

/// The legend of the series drawn on `c`, in `corner`.
fn legend_at<'a, DB: DrawingBackend + 'a>(
    c: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    corner: SeriesLabelPosition,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    c.configure_series_labels()
        .position(corner)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(120, 120, 120))
        .label_font((FONT, 14))
        .draw()
        .map_err(draw_err)
}

/// The stroke width of a line through `n` points. Plotters joins the segments of a wide
/// line with unlimited mitres, which turn the sharp reversals of a long, zigzagging
/// training path into spikes across the PNG; a one-pixel line has no joins.
pub(super) fn line_width(n: usize) -> u32 {
    if n > 60 {
        1
    } else {
        2
    }
}

/// The stretches of finite points, in order: a NaN or an infinity (a value that blew up,
/// or a non-positive one on a log axis) breaks a line rather than bending it.
fn finite_runs(points: impl Iterator<Item = (f64, f64)>) -> Vec<Vec<(f64, f64)>> {
    let mut runs = vec![Vec::new()];
    for (x, y) in points {
        if x.is_finite() && y.is_finite() {
            if let Some(r) = runs.last_mut() {
                r.push((x, y));
            }
        } else if runs.last().is_some_and(|r| !r.is_empty()) {
            runs.push(Vec::new());
        }
    }
    runs.retain(|r| !r.is_empty());
    runs
}

/// The stretches cut to the rectangle `((x0, x1), (y0, y1))`: each segment clipped to it
/// (Liang–Barsky), a stretch broken where it leaves. A lone point outside is dropped.
fn clip_runs(runs: &[Vec<(f64, f64)>], rect: ((f64, f64), (f64, f64))) -> Vec<Vec<(f64, f64)>> {
    let ((x0, x1), (y0, y1)) = rect;
    let inside = |p: (f64, f64)| p.0 >= x0 && p.0 <= x1 && p.1 >= y0 && p.1 <= y1;
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    for r in runs {
        if r.len() == 1 {
            if inside(r[0]) {
                out.push(r.clone());
            }
            continue;
        }
        let mut cur: Vec<(f64, f64)> = Vec::new();
        for w in r.windows(2) {
            match clip_segment(w[0], w[1], rect) {
                Some((a, b)) => {
                    if cur.last() != Some(&a) {
                        if !cur.is_empty() {
                            out.push(std::mem::take(&mut cur));
                        }
                        cur.push(a);
                    }
                    cur.push(b);
                }
                None => {
                    if !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                }
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
    }
    out
}

/// The part of the segment `a`–`b` inside the rectangle, if any.
fn clip_segment(
    a: (f64, f64),
    b: (f64, f64),
    ((x0, x1), (y0, y1)): ((f64, f64), (f64, f64)),
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x0),
        (dx, x1 - a.0),
        (-dy, a.1 - y0),
        (dy, y1 - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    let at = |t: f64| {
        if t == 0.0 {
            a
        } else if t == 1.0 {
            b
        } else {
            (a.0 + t * dx, a.1 + t * dy)
        }
    };
    Some((at(t0), at(t1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_at_the_edges_of_a_fixed_range() {
        let rect = ((0.0, 1.0), (0.0, 1.0));
        // Up through the top edge, then back down from above it: two stretches, the
        // second entering where y = 1 on the way from (0.5, 2) to (0.75, 0.5).
        let runs = vec![vec![(0.5, 0.5), (0.5, 2.0), (0.75, 0.5)]];
        let got = clip_runs(&runs, rect);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], [(0.5, 0.5), (0.5, 1.0)]);
        let entry = 0.5 + 0.25 * (1.0 / 1.5);
        assert!((got[1][0].0 - entry).abs() < 1e-15 && got[1][0].1 == 1.0);
        assert_eq!(got[1][1], (0.75, 0.5));
        assert_eq!(clip_segment((2.0, 2.0), (3.0, 3.0), rect), None);
    }

    #[test]
    fn the_legend_goes_where_there_are_no_points() {
        // A curve climbing to the upper right leaves the upper left free.
        let rising = (0..20).map(|i| (i as f64, (i * i) as f64));
        assert_eq!(emptiest_corner(rising, (0.0, 19.0), (0.0, 361.0)), 1);
        // No points: the upper right, as before.
        assert_eq!(
            emptiest_corner(std::iter::empty(), (0.0, 1.0), (0.0, 1.0)),
            0
        );
        assert_eq!(
            finite_runs([(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0)].into_iter()),
            [vec![(0.0, 1.0)], vec![(2.0, 3.0)]]
        );
    }
}
