//! Charts as SVG and PNG, drawn with plotters.
//!
//! Every chart has a title, labelled axes and a legend, and uses the Okabe–Ito palette,
//! which stays distinguishable with the common kinds of colour blindness. Text is drawn
//! with DejaVu Sans, embedded in the crate (its licence is in `fonts/`), so a PNG renders
//! the same on a machine with no fonts installed; an SVG names the font family and leaves
//! the text to the viewer.
//!
//! A chart is described by a plain value and turned into bytes here, in one place for
//! every file gradsheet writes:
//!
//! - a run's charts ([`Chart`], drawn by [`render`]): [`error_by_epoch`],
//!   [`params_over_steps`], [`fit`], [`contours`] and [`run_charts`] build them;
//!   [`compare_runs`], [`fd_error_vs_h`] and [`stability_map`] serve commands that
//!   compare several runs;
//! - a lab's figures ([`gradsheet_labs::Figure`], drawn by [`figure()`]): line charts and
//!   heatmaps in panels. The web page draws the same figures from their data, in the
//!   browser.
//!
//! Line charts, contours and maps are drawn with plotters (`lines`, `contours`,
//! `stability`). Heatmaps are written as SVG directly (`heatmap`), one `<rect>` per cell
//! with the value in its `<title>`, so that a browser opening the file shows the number
//! under the pointer, which plotters cannot do; their PNGs are drawn by plotters.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

pub use gradsheet_labs::figure::{Series, Style};

mod contours;
mod figure;
mod heatmap;
mod lines;
mod run;
mod stability;

pub use figure::{figure, file_part};
pub use heatmap::{heatmap_png, heatmap_png_of, heatmap_svg, image_png, Panel};
pub use run::{
    compare_runs, contours, error_by_epoch, error_surface, fd_error_vs_h, fit, params_over_steps,
    run_charts, stability_map,
};

/// The size of every chart, in pixels.
pub const SIZE: (u32, u32) = (900, 600);

/// Okabe–Ito's colour-blind-safe palette, the one the labs' figures name colours in.
pub const PALETTE: [(u8, u8, u8); 8] = gradsheet_labs::figure::PALETTE;

pub(crate) const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The bytes are a valid TrueType file shipped with the crate; should registration
        // fail anyway, drawing text reports the error.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES);
    });
}

pub(crate) fn colour(i: usize) -> RGBColor {
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

pub(crate) fn draw_err<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError::Draw(e.to_string())
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
    encode(chart, format, SIZE)
}

/// Something plotters draws on an area of either backend.
trait Drawable {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError>
    where
        DB::ErrorType: 'static;
}

impl Drawable for Chart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError>
    where
        DB::ErrorType: 'static,
    {
        draw(root, self)
    }
}

/// Draws `item` on a white `size` canvas as SVG text or PNG bytes.
fn encode(item: &impl Drawable, format: Format, size: (u32, u32)) -> Result<Vec<u8>, ChartError> {
    register_font();
    match format {
        Format::Svg => {
            let mut s = String::new();
            {
                let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
                root.fill(&WHITE).map_err(draw_err)?;
                item.draw(&root)?;
                root.present().map_err(draw_err)?;
            }
            Ok(namespace_first(&s).into_bytes())
        }
        Format::Png => {
            let (w, h) = size;
            let mut buf = vec![255u8; (w * h * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
                root.fill(&WHITE).map_err(draw_err)?;
                item.draw(&root)?;
                root.present().map_err(draw_err)?;
            }
            rgb_png(w, h, &buf)
        }
    }
}

/// The document with its namespace as the root element's first attribute, as the
/// heatmaps and most editors write it, so that every SVG file gradsheet writes opens
/// with `<svg xmlns="http://www.w3.org/2000/svg"`.
fn namespace_first(svg: &str) -> String {
    const NS: &str = " xmlns=\"http://www.w3.org/2000/svg\"";
    match svg.find('>') {
        Some(end) if svg.starts_with("<svg") && svg[..end].contains(NS) => {
            let attrs = svg[4..end].replacen(NS, "", 1);
            format!("<svg{NS}{attrs}{}", &svg[end..])
        }
        _ => svg.to_string(),
    }
}

/// RGB pixels, row by row, as PNG bytes.
fn rgb_png(w: u32, h: u32, rgb: &[u8]) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut wr = enc.write_header().map_err(draw_err)?;
    wr.write_image_data(rgb).map_err(draw_err)?;
    wr.finish().map_err(draw_err)?;
    Ok(out)
}

/// A number for an axis label: up to 4 significant digits.
pub(crate) fn tick(v: f64) -> String {
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
pub(crate) fn span(vals: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
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
    match chart {
        Chart::Lines {
            title,
            x_label,
            y_label,
            log_x,
            log_y,
            series,
        } => {
            let lines = gradsheet_labs::figure::Lines {
                title: title.clone(),
                x_label: x_label.clone(),
                y_label: y_label.clone(),
                log_x: *log_x,
                log_y: *log_y,
                x_range: None,
                y_range: None,
                categories: Vec::new(),
                series: series.clone(),
            };
            lines::draw(root, &lines, 24)
        }
        Chart::Contours {
            title,
            x_label,
            y_label,
            grid,
            paths,
        } => contours::draw(root, (title, x_label, y_label), grid, paths),
        Chart::Stability {
            title,
            x_label,
            y_label,
            x,
            y,
            cells,
        } => stability::draw(root, (title, x_label, y_label), x, y, cells),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_opens_with_its_namespace() {
        let s = r#"<svg width="2" height="1" xmlns="http://www.w3.org/2000/svg">
<rect/></svg>"#;
        assert_eq!(
            namespace_first(s),
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="2" height="1">
<rect/></svg>"#
        );
    }

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
        let segs = contours::segments(&g, &z, 0.25);
        assert!(segs.len() > 10);
        for s in segs {
            for (x, y) in s {
                assert!(((x * x + y * y).sqrt() - 0.5).abs() < 0.02);
            }
        }
    }
}
