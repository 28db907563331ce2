//! Charts as SVG and PNG, drawn with plotters.
//!
//! Every chart has a title, labelled axes and a legend, and uses the Okabe–Ito palette,
//! which stays distinguishable with the common kinds of colour blindness. Text is drawn
//! with DejaVu Sans, embedded in the crate (its licence is in `fonts/`), so a PNG renders
//! the same on a machine with no fonts installed; an SVG names the font family and leaves
//! the text to the viewer.
//!
//! A chart is described by a plain value ([`Chart`]) and turned into bytes by
//! [`render`]. The functions [`error_by_epoch`], [`params_over_steps`], [`fit`],
//! [`contours`] and [`run_charts`] build the charts of a run; [`compare_runs`],
//! [`fd_error_vs_h`] and [`stability_map`] serve commands that compare several runs.

use std::sync::Once;

use gradsheet_engine::{Dataset, Model};
use gradsheet_jit::surface;
use gradsheet_train::Trace;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The size of every chart, in pixels.
pub const SIZE: (u32, u32) = (900, 600);

/// Okabe–Ito's colour-blind-safe palette (black last: it is kept for the data).
pub const PALETTE: [(u8, u8, u8); 8] = [
    (0, 114, 178),   // blue
    (213, 94, 0),    // vermillion
    (0, 158, 115),   // bluish green
    (204, 121, 167), // reddish purple
    (230, 159, 0),   // orange
    (86, 180, 233),  // sky blue
    (240, 228, 66),  // yellow
    (0, 0, 0),       // black
];

const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The bytes are a valid TrueType file shipped with the crate; should registration
        // fail anyway, drawing text reports the error.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES);
    });
}

fn colour(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// A chart that could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// Drawing failed.
    #[error("cannot draw the chart: {0}")]
    Draw(String),
    /// The chart has nothing to show.
    #[error("nothing to draw: {0}")]
    Empty(String),
}

fn draw_err<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError::Draw(e.to_string())
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Style {
    /// A line through the points.
    #[default]
    Line,
    /// A dot at each point.
    Points,
}

/// A named series of points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend label.
    pub name: String,
    /// The points; non-finite ones (and non-positive ones on a log axis) are skipped.
    pub points: Vec<(f64, f64)>,
    /// Line or dots.
    pub style: Style,
}

impl Series {
    /// A line.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            style: Style::Line,
        }
    }
    /// Dots.
    pub fn points(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            style: Style::Points,
        }
    }
}

/// Values on a grid (`values[j * xs.len() + i]` at `(xs[i], ys[j])`).
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    /// The x positions.
    pub xs: Vec<f64>,
    /// The y positions.
    pub ys: Vec<f64>,
    /// One value per point, row by row.
    pub values: Vec<f64>,
}

/// A chart to draw.
#[derive(Clone, Debug, PartialEq)]
pub enum Chart {
    /// Lines and dots on x/y axes.
    Lines {
        /// The title.
        title: String,
        /// The x axis label.
        x_label: String,
        /// The y axis label.
        y_label: String,
        /// Log scale on x.
        log_x: bool,
        /// Log scale on y.
        log_y: bool,
        /// The series.
        series: Vec<Series>,
    },
    /// Contour lines of a surface with paths drawn over them.
    Contours {
        /// The title.
        title: String,
        /// The x axis label.
        x_label: String,
        /// The y axis label.
        y_label: String,
        /// The surface; contours are drawn at levels evenly spaced in log10 of its values.
        grid: Grid,
        /// Paths over it (a dot marks each start).
        paths: Vec<Series>,
    },
    /// A map of outcomes over a grid of two settings: a colour for the final error where
    /// the run converged, black where it diverged.
    Stability {
        /// The title.
        title: String,
        /// The x axis label.
        x_label: String,
        /// The y axis label.
        y_label: String,
        /// The settings along x and along y; `cells[j * x.len() + i]` is the run at
        /// `(x[i], y[j])`: `Some(final error)` or `None` for a diverged run.
        x: Vec<f64>,
        /// See `x`.
        y: Vec<f64>,
        /// See `x`.
        cells: Vec<Option<f64>>,
    },
}

/// The output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// SVG text.
    Svg,
    /// A PNG image.
    Png,
}

impl Format {
    /// The file extension.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Png => "png",
        }
    }
}

/// Draws a chart as SVG or PNG bytes.
///
/// # Errors
///
/// [`ChartError`] when drawing fails (for example a chart with no finite point).
///
/// # Examples
///
/// ```
/// use gradsheet_report::chart::{render, Chart, Format, Series};
/// let chart = Chart::Lines {
///     title: "Error by epoch".into(),
///     x_label: "epoch".into(),
///     y_label: "mean error".into(),
///     log_x: false,
///     log_y: true,
///     series: vec![Series::line("sgd", vec![(1.0, 100.0), (2.0, 10.0), (3.0, 1.0)])],
/// };
/// let svg = String::from_utf8(render(&chart, Format::Svg).unwrap()).unwrap();
/// assert!(svg.contains("<polyline") && svg.contains("sgd"));
/// let png = render(&chart, Format::Png).unwrap();
/// assert_eq!(&png[1..4], b"PNG");
/// ```
pub fn render(chart: &Chart, format: Format) -> Result<Vec<u8>, ChartError> {
    register_font();
    match format {
        Format::Svg => {
            let mut s = String::new();
            {
                let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
                draw(&root, chart)?;
                root.present().map_err(draw_err)?;
            }
            Ok(s.into_bytes())
        }
        Format::Png => {
            let (w, h) = SIZE;
            let mut buf = vec![255u8; (w * h * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area();
                draw(&root, chart)?;
                root.present().map_err(draw_err)?;
            }
            let mut out = Vec::new();
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut wr = enc.write_header().map_err(draw_err)?;
            wr.write_image_data(&buf).map_err(draw_err)?;
            wr.finish().map_err(draw_err)?;
            Ok(out)
        }
    }
}

/// A number for an axis label: up to 4 significant digits.
fn tick(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.2e}");
        return s.replace(".00e", "e").replace("0e", "e");
    }
    let digits = (3 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The padded range of the finite values, or `None` when there are none or the range
/// is wider than an `f64` can hold (plotters cannot lay out ticks on an infinite axis).
fn span(vals: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    let (a, b) = if lo == hi {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - d, hi + d)
    } else {
        let pad = (hi - lo) * 0.04;
        (lo - pad, hi + pad)
    };
    (a.is_finite() && b.is_finite()).then_some((a, b))
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(draw_err)?;
    match chart {
        Chart::Lines {
            title,
            x_label,
            y_label,
            log_x,
            log_y,
            series,
        } => draw_lines(root, title, x_label, y_label, *log_x, *log_y, series),
        Chart::Contours {
            title,
            x_label,
            y_label,
            grid,
            paths,
        } => draw_contours(root, title, x_label, y_label, grid, paths),
        Chart::Stability {
            title,
            x_label,
            y_label,
            x,
            y,
            cells,
        } => draw_stability(root, title, x_label, y_label, x, y, cells),
    }
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    log_x: bool,
    log_y: bool,
    series: &[Series],
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    // Log axes are drawn as linear axes of log10 values, labelled with the values.
    let tx = |v: f64| if log_x { v.log10() } else { v };
    let ty = |v: f64| if log_y { v.log10() } else { v };
    let pts: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .map(|&(x, y)| (tx(x), ty(y)))
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect()
        })
        .collect();
    let all = || pts.iter().flatten();
    let (x0, x1) = span(all().map(|p| p.0)).ok_or_else(|| {
        ChartError::Empty(format!(
            "{title}: no finite point, or a range too wide to draw"
        ))
    })?;
    let (y0, y1) = span(all().map(|p| p.1)).ok_or_else(|| {
        ChartError::Empty(format!(
            "{title}: no finite point, or a range too wide to draw"
        ))
    })?;
    let mut c = ChartBuilder::on(root)
        .caption(title, (FONT, 24))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(draw_err)?;
    let fx = |v: &f64| tick(if log_x { 10f64.powf(*v) } else { *v });
    let fy = |v: &f64| tick(if log_y { 10f64.powf(*v) } else { *v });
    let xd = if log_x {
        format!("{x_label} (log scale)")
    } else {
        x_label.to_string()
    };
    let yd = if log_y {
        format!("{y_label} (log scale)")
    } else {
        y_label.to_string()
    };
    c.configure_mesh()
        .x_desc(xd)
        .y_desc(yd)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(draw_err)?;
    for (i, (s, p)) in series.iter().zip(&pts).enumerate() {
        let col = colour(i);
        match s.style {
            Style::Line => {
                c.draw_series(LineSeries::new(
                    p.iter().copied(),
                    col.stroke_width(line_width(p.len())),
                ))
                .map_err(draw_err)?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], col.stroke_width(3))
                });
            }
            Style::Points => {
                c.draw_series(p.iter().map(|&q| Circle::new(q, 4, col.filled())))
                    .map_err(draw_err)?
                    .label(s.name.as_str())
                    .legend(move |(x, y)| Circle::new((x + 12, y), 4, col.filled()));
            }
        }
    }
    legend(&mut c)
}

/// The legend of the series drawn on `c`, in the upper right corner.
fn legend<'a, DB: DrawingBackend + 'a>(
    c: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(120, 120, 120))
        .label_font((FONT, 14))
        .draw()
        .map_err(draw_err)
}

/// The stroke width of a line through `n` points. Plotters joins the segments of a wide
/// line with unlimited mitres, which turn the sharp reversals of a long, zigzagging
/// training path into spikes across the PNG; a one-pixel line has no joins.
fn line_width(n: usize) -> u32 {
    if n > 60 {
        1
    } else {
        2
    }
}

/// A colour-blind-safe sequential scale (viridis anchors), `t` in [0, 1].
fn sequential(t: f64) -> RGBColor {
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
fn contour_segments(g: &Grid, z: &[f64], level: f64) -> Vec<[(f64, f64); 2]> {
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

fn draw_contours<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
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
        let segs = contour_segments(g, &z, level);
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

fn draw_stability<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    xs: &[f64],
    ys: &[f64],
    cells: &[Option<f64>],
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    let (nx, ny) = (xs.len(), ys.len());
    if nx == 0 || ny == 0 || cells.len() != nx * ny {
        return Err(ChartError::Empty(format!(
            "{title}: the grid needs {nx}×{ny} cells, got {}",
            cells.len()
        )));
    }
    let mut c = ChartBuilder::on(root)
        .caption(title, (FONT, 24))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..nx as f64, 0.0..ny as f64)
        .map_err(draw_err)?;
    // Axes count cells; labels show the setting at each cell's centre.
    let fx = |v: &f64| {
        xs.get(v.floor() as usize)
            .map(|x| tick(*x))
            .unwrap_or_default()
    };
    let fy = |v: &f64| {
        ys.get(v.floor() as usize)
            .map(|y| tick(*y))
            .unwrap_or_default()
    };
    c.configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_labels(nx.min(12))
        .y_labels(ny.min(12))
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 16))
        .disable_mesh()
        .draw()
        .map_err(draw_err)?;
    let logs: Vec<f64> = cells
        .iter()
        .flatten()
        .map(|v| v.max(1e-300).log10())
        .collect();
    let (lo, hi) = span(logs.iter().copied().filter(|v| v.is_finite())).unwrap_or((0.0, 1.0));
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for j in 0..ny {
        for i in 0..nx {
            let r = [(i as f64, j as f64), (i as f64 + 1.0, j as f64 + 1.0)];
            match cells[j * nx + i] {
                Some(v) if v.is_finite() => {
                    let t = (v.max(1e-300).log10() - lo) / (hi - lo);
                    ok.push(Rectangle::new(r, sequential(t).filled()));
                }
                _ => bad.push(Rectangle::new(r, BLACK.filled())),
            }
        }
    }
    c.draw_series(ok)
        .map_err(draw_err)?
        .label(format!(
            "converged: final error {} (dark) … {} (light)",
            tick(10f64.powf(lo)),
            tick(10f64.powf(hi))
        ))
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], sequential(0.5).filled()));
    c.draw_series(bad)
        .map_err(draw_err)?
        .label("diverged")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], BLACK.filled()));
    legend(&mut c)
}

// ---------------------------------------------------------------------------------------
// The charts of a run.

/// The mean error of each epoch, one line per run (named).
pub fn error_by_epoch(runs: &[(&str, &Trace)]) -> Chart {
    Chart::Lines {
        title: "Error by epoch".into(),
        x_label: "epoch".into(),
        y_label: "mean error".into(),
        log_x: false,
        log_y: true,
        series: runs
            .iter()
            .map(|(name, t)| {
                Series::line(
                    *name,
                    t.epochs
                        .iter()
                        .map(|e| (e.epoch as f64, e.mean_error))
                        .collect(),
                )
            })
            .collect(),
    }
}

/// Several runs (optimizers) on one chart: the error by epoch of each.
pub fn compare_runs(runs: &[(&str, &Trace)]) -> Chart {
    match error_by_epoch(runs) {
        Chart::Lines {
            x_label,
            y_label,
            log_x,
            log_y,
            series,
            ..
        } => Chart::Lines {
            title: "Optimizers compared: error by epoch".into(),
            x_label,
            y_label,
            log_x,
            log_y,
            series,
        },
        other => other,
    }
}

/// Each parameter after each step (recorded steps only).
pub fn params_over_steps(trace: &Trace) -> Chart {
    let series = trace
        .layout
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Series::line(
                p.as_str(),
                trace
                    .steps()
                    .map(|s| (s.step as f64, s.new_params[i]))
                    .collect(),
            )
        })
        .collect();
    Chart::Lines {
        title: "Parameters over steps".into(),
        x_label: "step".into(),
        y_label: "value after the step".into(),
        log_x: false,
        log_y: false,
        series,
    }
}

/// The data and the model's prediction at `params`, against the first input column the
/// prediction uses; `None` when the data has no `y` column or the model no input.
pub fn fit(model: &Model, data: &Dataset, params: &[f64]) -> Option<Chart> {
    let yi = data.column_index("y")?;
    let xname = model
        .columns
        .iter()
        .find(|c| c.as_str() != "y" && model.prediction.mentions(c))?;
    let xi = data.column_index(xname)?;
    let compiled = model.compile();
    let mut ws = compiled.workspace();
    let proj = data.project(&model.columns).ok()?;
    let nc = model.columns.len();
    let mut pts = Vec::new();
    let mut pred = Vec::new();
    for r in 0..data.len() {
        let row = data.row(r);
        pts.push((row[xi], row[yi]));
        let (p, _) = compiled.row(&mut ws, &proj[r * nc..(r + 1) * nc], params);
        pred.push((row[xi], p));
    }
    pred.sort_by(|a, b| a.0.total_cmp(&b.0));
    let single_input = model.columns.iter().filter(|c| c.as_str() != "y").count() == 1;
    let fitted = if single_input {
        Series::line("prediction at the final parameters", pred)
    } else {
        Series::points("prediction at the final parameters", pred)
    };
    Some(Chart::Lines {
        title: "Fit against data".into(),
        x_label: xname.clone(),
        y_label: "y".into(),
        log_x: false,
        log_y: false,
        series: vec![Series::points("data", pts), fitted],
    })
}

/// The exact mean error over the data on a `n`×`n` grid of parameters `i` and `j`, the
/// others held at `at`, over the given ranges.
pub fn error_surface(
    model: &Model,
    data: &Dataset,
    at: &[f64],
    (i, j): (usize, usize),
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    n: usize,
) -> Grid {
    let proj = data.project(&model.columns).unwrap_or_default();
    let lin = |a: f64, b: f64, k: usize| a + (b - a) * k as f64 / (n - 1).max(1) as f64;
    let xs: Vec<f64> = (0..n).map(|k| lin(x0, x1, k)).collect();
    let ys: Vec<f64> = (0..n).map(|k| lin(y0, y1, k)).collect();
    let axes = surface::Axes {
        x: (i, &xs),
        y: (j, &ys),
    };
    // (Invalid axes draw an empty surface: the callers pass two different parameters.)
    let values = surface::mean_error_grid(&model.compile(), &proj, at, axes)
        .unwrap_or_else(|_| vec![f64::NAN; n * n]);
    Grid { xs, ys, values }
}

/// The path of parameters `i` and `j` over the steps of each run, on the contours of the
/// exact mean error (the other parameters held at the first run's final values: a 2-D
/// slice when the model has more than two parameters).
pub fn contours(
    model: &Model,
    data: &Dataset,
    runs: &[(&str, &Trace)],
    (i, j): (usize, usize),
) -> Option<Chart> {
    let (_, first) = runs.first()?;
    let at = first.final_params.clone();
    let mut paths = Vec::new();
    for (name, t) in runs {
        let mut p = vec![(t.step(0).params[i], t.step(0).params[j])];
        p.extend(t.steps().map(|s| (s.new_params[i], s.new_params[j])));
        paths.push(Series::line(format!("path of {name}"), p));
    }
    let all = || {
        paths
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    };
    let (mut x0, mut x1) = span(all().map(|p| p.0))?;
    let (mut y0, mut y1) = span(all().map(|p| p.1))?;
    let (dx, dy) = ((x1 - x0) * 0.15, (y1 - y0) * 0.15);
    x0 -= dx;
    x1 += dx;
    y0 -= dy;
    y1 += dy;
    let grid = error_surface(model, data, &at, (i, j), (x0, x1), (y0, y1), 80);
    let names = &model.params;
    let slice = if names.len() > 2 {
        let others: Vec<String> = names
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != i && *k != j)
            .map(|(k, n)| format!("{n} = {}", tick(at[k])))
            .collect();
        format!(" (slice at {})", others.join(", "))
    } else {
        String::new()
    };
    Some(Chart::Contours {
        title: format!("Path on the error contours{slice}"),
        x_label: names[i].clone(),
        y_label: names[j].clone(),
        grid,
        paths,
    })
}

/// The error of a finite-difference estimate against its step `h`, one line per scheme
/// (log-log): the points are `(h, |estimate - exact|)`.
pub fn fd_error_vs_h(series: Vec<Series>) -> Chart {
    Chart::Lines {
        title: "Finite-difference error against h".into(),
        x_label: "h".into(),
        y_label: "|estimate − exact derivative|".into(),
        log_x: true,
        log_y: true,
        series,
    }
}

/// A stability map over two settings (see [`Chart::Stability`]).
pub fn stability_map(
    x_label: &str,
    y_label: &str,
    x: Vec<f64>,
    y: Vec<f64>,
    cells: Vec<Option<f64>>,
) -> Chart {
    Chart::Stability {
        title: "Stability map".into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        x,
        y,
        cells,
    }
}

/// The charts of one run, each as a file name (without extension) and a chart: the error
/// by epoch, the parameters over steps, the fit against the data, and the path on the
/// error contours (for a two-parameter model; 2-D slices of adjacent parameter pairs for
/// more).
pub fn run_charts(
    model: &Model,
    data: &Dataset,
    name: &str,
    trace: &Trace,
) -> Vec<(String, Chart)> {
    let mut out = Vec::new();
    if !trace.epochs.is_empty() {
        out.push((
            "error_by_epoch".to_string(),
            error_by_epoch(&[(name, trace)]),
        ));
    }
    if trace.is_empty() {
        return out;
    }
    out.push(("params_over_steps".into(), params_over_steps(trace)));
    let last = trace.step(trace.len() - 1).new_params.to_vec();
    let final_params = if last.iter().all(|v| v.is_finite()) {
        last
    } else {
        trace.final_params.clone()
    };
    if let Some(c) = fit(model, data, &final_params) {
        out.push(("fit".into(), c));
    }
    let np = model.params.len();
    for k in 0..np.saturating_sub(1) {
        if let Some(c) = contours(model, data, &[(name, trace)], (k, k + 1)) {
            let file = if np == 2 {
                "contours".to_string()
            } else {
                format!("contours_{}_{}", model.params[k], model.params[k + 1])
            };
            out.push((file, c));
        }
    }
    out
}

/// One panel of a heatmap: a title and a layer (rows of cells).
pub type Panel<'a> = (&'a str, &'a [Vec<f64>]);

/// Layers drawn side by side as grey-level heatmaps (each panel scaled from its own
/// minimum, black, to its maximum, white, as `gradsheet_labs::conv::heatmap` maps it),
/// one `<rect>` per cell with the value in its `<title>`, so that a browser shows the
/// number under the pointer.
///
/// # Errors
///
/// [`ChartError::Empty`] when there is no panel or a panel has no cell.
///
/// # Examples
///
/// ```
/// let g = vec![vec![0.0, 1.0], vec![2.0, 3.0]];
/// let svg = gradsheet_report::chart::heatmap_svg("layers", &[("input", &g)], 10).unwrap();
/// assert_eq!(svg.matches("<rect").count(), 1 + 4);
/// ```
pub fn heatmap_svg(title: &str, panels: &[Panel<'_>], cell: usize) -> Result<String, ChartError> {
    if panels.is_empty() || panels.iter().any(|(_, g)| g.iter().all(Vec::is_empty)) {
        return Err(ChartError::Empty(
            "a heatmap needs at least one cell".into(),
        ));
    }
    let (pad, head) = (12, 40);
    let widths: Vec<usize> = panels
        .iter()
        .map(|(_, g)| g.iter().map(Vec::len).max().unwrap_or(0) * cell)
        .collect();
    let height = panels
        .iter()
        .map(|(_, g)| g.len() * cell)
        .max()
        .unwrap_or(0);
    let w = widths.iter().sum::<usize>() + pad * (panels.len() + 1);
    let h = height + head + 2 * pad;
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n\
         <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n\
         <text x=\"{pad}\" y=\"20\" font-family=\"sans-serif\" font-size=\"16\">{}</text>\n",
        esc(title)
    );
    let mut x0 = pad;
    for ((name, g), pw) in panels.iter().zip(&widths) {
        s.push_str(&format!(
            "<text x=\"{x0}\" y=\"{}\" font-family=\"sans-serif\" font-size=\"12\">{}</text>\n",
            head - 4,
            esc(name)
        ));
        for (i, row) in gradsheet_labs::conv::heatmap(g).iter().enumerate() {
            for (j, level) in row.iter().enumerate() {
                let grey = (level * 255.0).round().clamp(0.0, 255.0) as u8;
                s.push_str(&format!(
                    "<rect x=\"{}\" y=\"{}\" width=\"{cell}\" height=\"{cell}\" fill=\"#{grey:02x}{grey:02x}{grey:02x}\"><title>{}</title></rect>\n",
                    x0 + j * cell,
                    head + i * cell,
                    g[i][j]
                ));
            }
        }
        x0 += pw + pad;
    }
    s.push_str("</svg>\n");
    Ok(s)
}

/// A layer as a grey-level PNG, each cell a `scale`×`scale` square (scaled like
/// [`heatmap_svg`]).
///
/// # Errors
///
/// [`ChartError::Empty`] for a layer with no cell; [`ChartError::Draw`] if encoding fails.
pub fn heatmap_png(layer: &[Vec<f64>], scale: usize) -> Result<Vec<u8>, ChartError> {
    let cols = layer.iter().map(Vec::len).max().unwrap_or(0);
    if layer.is_empty() || cols == 0 || scale == 0 {
        return Err(ChartError::Empty(
            "a heatmap needs at least one cell".into(),
        ));
    }
    let levels = gradsheet_labs::conv::heatmap(layer);
    let (w, h) = (cols * scale, layer.len() * scale);
    let mut pixels = vec![0u8; w * h];
    for (y, line) in pixels.chunks_mut(w).enumerate() {
        let row = &levels[y / scale];
        for (x, p) in line.iter_mut().enumerate() {
            let v = row.get(x / scale).copied().unwrap_or(0.0);
            *p = (v * 255.0).round().clamp(0.0, 255.0) as u8;
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().map_err(draw_err)?;
        wr.write_image_data(&pixels).map_err(draw_err)?;
        wr.finish().map_err(draw_err)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(1234.5678), "1235");
        assert_eq!(tick(1e-7), "1e-7");
        assert_eq!(tick(2.5e9), "2.5e9");
    }

    #[test]
    fn marching_squares_finds_a_circle() {
        let n = 21;
        let xs: Vec<f64> = (0..n)
            .map(|k| -1.0 + 2.0 * k as f64 / (n - 1) as f64)
            .collect();
        let g = Grid {
            xs: xs.clone(),
            ys: xs.clone(),
            values: vec![],
        };
        let z: Vec<f64> = xs
            .iter()
            .flat_map(|y| xs.iter().map(move |x| x * x + y * y))
            .collect();
        let segs = contour_segments(&g, &z, 0.25);
        assert!(segs.len() > 10);
        for s in segs {
            for (x, y) in s {
                assert!(((x * x + y * y).sqrt() - 0.5).abs() < 0.02);
            }
        }
    }
}
