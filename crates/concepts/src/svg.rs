//! Hand-written SVG: line charts and heatmaps, composed into panels.
//!
//! Small on purpose: polylines, rectangles, axes with "nice" ticks (1, 2, 5 × 10ᵏ, or
//! powers of ten on a log axis), a legend beside the plot so it never hides a curve, and
//! the Okabe–Ito palette, which stays distinguishable under the common colour-vision
//! deficiencies. Non-finite points break a line instead of drawing to infinity.

use std::fmt::Write;

/// The Okabe–Ito colours, in the order series use them (yellow last: it is faint on white).
pub const PALETTE: [&str; 8] = [
    "#0072B2", // blue
    "#D55E00", // vermillion
    "#009E73", // bluish green
    "#E69F00", // orange
    "#CC79A7", // reddish purple
    "#56B4E9", // sky blue
    "#000000", // black
    "#F0E442", // yellow
];

const FONT: &str = "DejaVu Sans, Arial, Helvetica, sans-serif";

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Style {
    /// A solid line.
    Line,
    /// A dashed line.
    Dashed,
    /// A thin, light line (one of many: masked nets, samples).
    Faint,
    /// Dots.
    Points,
    /// Hollow circles, larger than dots (outliers, highlighted points).
    Rings,
    /// A line with dots.
    LinePoints,
}

/// A named series of points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend label; empty for no legend entry.
    pub name: String,
    /// The points, in drawing order.
    pub points: Vec<(f64, f64)>,
    /// How it is drawn.
    pub style: Style,
    /// Index into [`PALETTE`].
    pub color: usize,
}

impl Series {
    /// A series.
    pub fn new(
        name: impl Into<String>,
        points: Vec<(f64, f64)>,
        style: Style,
        color: usize,
    ) -> Series {
        Series {
            name: name.into(),
            points,
            style,
            color,
        }
    }
}

/// A line chart.
///
/// # Examples
///
/// ```
/// use gradsheet_concepts::svg::{Chart, Series, Style};
/// let mut c = Chart::new("squares", "x", "x²");
/// c.series.push(Series::new("x²", (0..5).map(|i| (i as f64, (i * i) as f64)).collect(), Style::Line, 0));
/// let svg = c.to_svg();
/// assert!(svg.starts_with("<svg") && svg.contains("<polyline"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// The title above the plot.
    pub title: String,
    /// The x axis label.
    pub x_label: String,
    /// The y axis label.
    pub y_label: String,
    /// The series.
    pub series: Vec<Series>,
    /// A fixed x range; the data's otherwise.
    pub x_range: Option<(f64, f64)>,
    /// A fixed y range; the data's otherwise.
    pub y_range: Option<(f64, f64)>,
    /// A logarithmic y axis (non-positive values are not drawn).
    pub log_y: bool,
}

impl Chart {
    /// An empty chart.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Chart {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            x_range: None,
            y_range: None,
            log_y: false,
        }
    }

    /// Adds a series (builder style).
    pub fn with(mut self, s: Series) -> Chart {
        self.series.push(s);
        self
    }

    /// The chart alone as an SVG document.
    pub fn to_svg(&self) -> String {
        compose("", vec![Panel::Chart(self.clone())], 1)
    }

    fn render(&self, out: &mut String, w: f64, h: f64, id: usize) {
        let legend = self.series.iter().any(|s| !s.name.is_empty());
        let (ml, mr, mt, mb) = (64.0, if legend { 185.0 } else { 16.0 }, 30.0, 46.0);
        let (pw, ph) = (w - ml - mr, h - mt - mb);
        let ty = |v: f64| if self.log_y { v.log10() } else { v };
        let ok = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite() && (!self.log_y || p.1 > 0.0);
        let pts = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter())
                .filter(|p| ok(p))
        };
        let (x0, x1) = self.x_range.unwrap_or_else(|| extent(pts().map(|p| p.0)));
        let (y0, y1) = match self.y_range {
            Some((a, b)) => (ty(a), ty(b)),
            None => extent(pts().map(|p| ty(p.1))),
        };
        let (x0, x1) = widen(x0, x1);
        let (y0, y1) = widen(y0, y1);
        let sx = |x: f64| ml + (x - x0) / (x1 - x0) * pw;
        let sy = |y: f64| mt + ph - (ty(y) - y0) / (y1 - y0) * ph;
        let sy_raw = |y: f64| mt + ph - (y - y0) / (y1 - y0) * ph;

        title(out, &self.title, w / 2.0, 18.0, 14.0);
        // Grid and ticks.
        for t in nice_ticks(x0, x1, 6) {
            let x = sx(t);
            let _ = write!(
                out,
                r##"<line x1="{x:.1}" y1="{mt:.1}" x2="{x:.1}" y2="{:.1}" stroke="#e4e4e4"/>"##,
                mt + ph
            );
            text(
                out,
                &tick_label(t),
                x,
                mt + ph + 16.0,
                11.0,
                "middle",
                "#333",
            );
        }
        let yticks: Vec<(f64, String)> = if self.log_y {
            log_ticks(y0, y1)
        } else {
            nice_ticks(y0, y1, 6)
                .into_iter()
                .map(|t| (t, tick_label(t)))
                .collect()
        };
        for (t, label) in yticks {
            let y = sy_raw(t);
            let _ = write!(
                out,
                r##"<line x1="{ml:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e4e4e4"/>"##,
                ml + pw
            );
            text(out, &label, ml - 6.0, y + 4.0, 11.0, "end", "#333");
        }
        if !self.log_y && y0 < 0.0 && y1 > 0.0 {
            let y = sy_raw(0.0);
            let _ = write!(
                out,
                r##"<line x1="{ml:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#999"/>"##,
                ml + pw
            );
        }
        let _ = write!(
            out,
            r##"<rect x="{ml:.1}" y="{mt:.1}" width="{pw:.1}" height="{ph:.1}" fill="none" stroke="#555"/>"##
        );
        text(
            out,
            &self.x_label,
            ml + pw / 2.0,
            h - 10.0,
            12.0,
            "middle",
            "#111",
        );
        let (lx, ly) = (16.0, mt + ph / 2.0);
        let _ = write!(
            out,
            r##"<text x="{lx}" y="{ly:.1}" font-family="{FONT}" font-size="12" fill="#111" text-anchor="middle" transform="rotate(-90 {lx} {ly:.1})">{}</text>"##,
            esc(&self.y_label)
        );
        // Series, clipped to the plot area.
        let _ = write!(
            out,
            r#"<clipPath id="c{id}"><rect x="{ml:.1}" y="{mt:.1}" width="{pw:.1}" height="{ph:.1}"/></clipPath><g clip-path="url(#c{id})">"#
        );
        for s in &self.series {
            let col = PALETTE[s.color % PALETTE.len()];
            let line = |out: &mut String, extra: &str, width: f64, opacity: f64| {
                for run in s.points.split(|p| !ok(p)) {
                    if run.len() < 2 {
                        continue;
                    }
                    let coords: Vec<String> = run
                        .iter()
                        .map(|&(x, y)| format!("{:.2},{:.2}", sx(x), sy(y)))
                        .collect();
                    let _ = write!(
                        out,
                        r#"<polyline points="{}" fill="none" stroke="{col}" stroke-width="{width}" stroke-opacity="{opacity}" stroke-linejoin="round"{extra}/>"#,
                        coords.join(" ")
                    );
                }
            };
            match s.style {
                Style::Line => line(out, "", 2.0, 1.0),
                Style::Dashed => line(out, r#" stroke-dasharray="7 4""#, 2.0, 1.0),
                Style::Faint => line(out, "", 1.0, 0.35),
                Style::LinePoints => line(out, "", 2.0, 1.0),
                Style::Points | Style::Rings => {}
            }
            if matches!(s.style, Style::Points | Style::LinePoints | Style::Rings) {
                for p in s.points.iter().filter(|p| ok(p)) {
                    let (cx, cy) = (sx(p.0), sy(p.1));
                    if s.style == Style::Rings {
                        let _ = write!(
                            out,
                            r#"<circle cx="{cx:.2}" cy="{cy:.2}" r="5.5" fill="none" stroke="{col}" stroke-width="2"/>"#
                        );
                    } else {
                        let _ = write!(
                            out,
                            r#"<circle cx="{cx:.2}" cy="{cy:.2}" r="3" fill="{col}"/>"#
                        );
                    }
                }
            }
        }
        out.push_str("</g>");
        // Legend to the right of the plot.
        let mut ly = mt + 8.0;
        for s in self.series.iter().filter(|s| !s.name.is_empty()) {
            let col = PALETTE[s.color % PALETTE.len()];
            let x = ml + pw + 12.0;
            match s.style {
                Style::Points => {
                    let _ = write!(
                        out,
                        r#"<circle cx="{:.1}" cy="{ly:.1}" r="3.5" fill="{col}"/>"#,
                        x + 11.0
                    );
                }
                Style::Rings => {
                    let _ = write!(
                        out,
                        r#"<circle cx="{:.1}" cy="{ly:.1}" r="5" fill="none" stroke="{col}" stroke-width="2"/>"#,
                        x + 11.0
                    );
                }
                _ => {
                    let dash = if s.style == Style::Dashed {
                        r#" stroke-dasharray="7 4""#
                    } else {
                        ""
                    };
                    let (wd, op) = if s.style == Style::Faint {
                        (1.5, 0.6)
                    } else {
                        (2.5, 1.0)
                    };
                    let _ = write!(
                        out,
                        r#"<line x1="{x:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{col}" stroke-width="{wd}" stroke-opacity="{op}"{dash}/>"#,
                        x + 22.0
                    );
                }
            }
            // Long names are cut so that they stay inside the legend's margin.
            let name: String = if s.name.chars().count() > 24 {
                s.name
                    .chars()
                    .take(23)
                    .chain(std::iter::once('…'))
                    .collect()
            } else {
                s.name.clone()
            };
            text(out, &name, x + 28.0, ly + 4.0, 11.5, "start", "#111");
            ly += 18.0;
        }
    }
}

/// How a heatmap maps values to colours.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ColorMap {
    /// Black (low) to white (high): images.
    Gray,
    /// Blue (negative) through white (0) to vermillion (positive), symmetric about 0.
    Diverging,
    /// White (low) to blue (high): counts and masks.
    Blues,
}

/// A grid of values drawn as coloured cells.
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    /// The title above it.
    pub title: String,
    /// Columns.
    pub cols: usize,
    /// Rows.
    pub rows: usize,
    /// `rows × cols` values, row after row.
    pub values: Vec<f64>,
    /// The colours.
    pub map: ColorMap,
    /// The value range mapped to the colour range; the data's otherwise.
    pub range: Option<(f64, f64)>,
    /// Write each value in its cell (for small grids).
    pub annotate: bool,
    /// Labels under the grid and beside it (x, y).
    pub labels: (String, String),
}

impl Heatmap {
    /// A heatmap with the data's range and no annotations.
    pub fn new(
        title: impl Into<String>,
        cols: usize,
        rows: usize,
        values: Vec<f64>,
        map: ColorMap,
    ) -> Heatmap {
        Heatmap {
            title: title.into(),
            cols,
            rows,
            values,
            map,
            range: None,
            annotate: false,
            labels: (String::new(), String::new()),
        }
    }

    fn render(&self, out: &mut String, w: f64, h: f64) {
        title(out, &self.title, w / 2.0, 18.0, 13.0);
        let (mt, mb, ml) = (28.0, 34.0, 30.0);
        let cell = ((w - 2.0 * ml) / self.cols.max(1) as f64)
            .min((h - mt - mb) / self.rows.max(1) as f64)
            .max(0.5);
        let gw = cell * self.cols as f64;
        let gh = cell * self.rows as f64;
        let x0 = (w - gw) / 2.0;
        let y0 = mt + (h - mt - mb - gh) / 2.0;
        let (lo, hi) = self
            .range
            .unwrap_or_else(|| extent(self.values.iter().copied().filter(|v| v.is_finite())));
        if self.map == ColorMap::Gray && !self.annotate {
            // An image is embedded as a PNG drawn with sharp pixels: one element instead
            // of a rectangle per pixel, and no hairline seams between the rectangles.
            let px: Vec<u8> = self
                .values
                .iter()
                .map(|&v| {
                    if hi > lo {
                        to8((v - lo) / (hi - lo))
                    } else {
                        128
                    }
                })
                .collect();
            let _ = write!(
                out,
                r#"<image x="{x0:.2}" y="{y0:.2}" width="{gw:.2}" height="{gh:.2}" preserveAspectRatio="none" style="image-rendering:pixelated" href="data:image/png;base64,{}"/>"#,
                base64(&gray_png(self.cols, self.rows, &px))
            );
        }
        for r in 0..self.rows {
            for c in 0..self.cols {
                if self.map == ColorMap::Gray && !self.annotate {
                    break;
                }
                let v = self.values[r * self.cols + c];
                let fill = color(self.map, v, lo, hi);
                let _ = write!(
                    out,
                    r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{fill}"/>"#,
                    x0 + c as f64 * cell,
                    y0 + r as f64 * cell,
                    cell + 0.05,
                    cell + 0.05
                );
                if self.annotate && cell >= 14.0 && v.is_finite() {
                    let light = luminance(&fill) < 0.45;
                    text(
                        out,
                        &tick_label(round_to(v, 3)),
                        x0 + (c as f64 + 0.5) * cell,
                        y0 + (r as f64 + 0.5) * cell + 3.5,
                        (cell * 0.32).min(11.0),
                        "middle",
                        if light { "#fff" } else { "#111" },
                    );
                }
            }
        }
        let _ = write!(
            out,
            r##"<rect x="{x0:.2}" y="{y0:.2}" width="{gw:.2}" height="{gh:.2}" fill="none" stroke="#555"/>"##
        );
        let scale = format!(
            "{} … {}",
            tick_label(round_to(lo, 3)),
            tick_label(round_to(hi, 3))
        );
        let cap = if self.labels.0.is_empty() {
            scale
        } else {
            format!("{}   ({scale})", self.labels.0)
        };
        text(out, &cap, w / 2.0, y0 + gh + 18.0, 11.0, "middle", "#333");
        if !self.labels.1.is_empty() {
            let (lx, ly) = (x0 - 8.0, y0 + gh / 2.0);
            let _ = write!(
                out,
                r##"<text x="{lx:.1}" y="{ly:.1}" font-family="{FONT}" font-size="11" fill="#333" text-anchor="middle" transform="rotate(-90 {lx:.1} {ly:.1})">{}</text>"##,
                esc(&self.labels.1)
            );
        }
    }
}

/// One cell of a composed figure.
#[derive(Clone, Debug, PartialEq)]
pub enum Panel {
    /// A line chart (660 × 380).
    Chart(Chart),
    /// A heatmap (330 × 330).
    Heatmap(Heatmap),
}

impl Panel {
    fn size(&self) -> (f64, f64) {
        match self {
            Panel::Chart(_) => (660.0, 380.0),
            Panel::Heatmap(_) => (330.0, 330.0),
        }
    }
}

/// Panels laid out in rows of `cols`, under an optional title, as one SVG document.
pub fn compose(title_text: &str, panels: Vec<Panel>, cols: usize) -> String {
    let cols = cols.max(1);
    let top = if title_text.is_empty() { 0.0 } else { 34.0 };
    let mut rows: Vec<Vec<Panel>> = Vec::new();
    for p in panels {
        match rows.last_mut() {
            Some(r) if r.len() < cols => r.push(p),
            _ => rows.push(vec![p]),
        }
    }
    let width = rows
        .iter()
        .map(|r| r.iter().map(|p| p.size().0).sum::<f64>())
        .fold(0.0, f64::max);
    let height = top
        + rows
            .iter()
            .map(|r| r.iter().map(|p| p.size().1).fold(0.0, f64::max))
            .sum::<f64>();
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}">"#
    );
    let _ = write!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    if !title_text.is_empty() {
        title(&mut out, title_text, width / 2.0, 23.0, 17.0);
    }
    let mut y = top;
    let mut id = 0;
    for row in &rows {
        let mut x = 0.0;
        let mut row_h: f64 = 0.0;
        for p in row {
            let (w, h) = p.size();
            let _ = write!(out, r#"<g transform="translate({x:.0},{y:.0})">"#);
            match p {
                Panel::Chart(c) => c.render(&mut out, w, h, id),
                Panel::Heatmap(m) => m.render(&mut out, w, h),
            }
            out.push_str("</g>");
            id += 1;
            x += w;
            row_h = row_h.max(h);
        }
        y += row_h;
    }
    out.push_str("</svg>\n");
    out
}

fn title(out: &mut String, s: &str, x: f64, y: f64, size: f64) {
    if !s.is_empty() {
        let _ = write!(
            out,
            r##"<text x="{x:.1}" y="{y:.1}" font-family="{FONT}" font-size="{size}" font-weight="bold" fill="#111" text-anchor="middle">{}</text>"##,
            esc(s)
        );
    }
}

fn text(out: &mut String, s: &str, x: f64, y: f64, size: f64, anchor: &str, fill: &str) {
    let _ = write!(
        out,
        r#"<text x="{x:.1}" y="{y:.1}" font-family="{FONT}" font-size="{size:.1}" fill="{fill}" text-anchor="{anchor}">{}</text>"#,
        esc(s)
    );
}

/// Escapes text for XML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn extent(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        (0.0, 1.0)
    } else {
        (lo, hi)
    }
}

fn widen(lo: f64, hi: f64) -> (f64, f64) {
    if hi - lo > 1e-12 * (lo.abs() + hi.abs()).max(1e-300) {
        (lo, hi)
    } else {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - d, hi + d)
    }
}

/// Tick values at 1, 2 or 5 × 10ᵏ spacing, about `n` of them, inside `lo..=hi`.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![lo];
    }
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= n as f64)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last)
        .map(|i| round_to(i as f64 * step, 12))
        .collect()
}

/// Ticks at powers of ten between `lo` and `hi` (given as log10 values), thinned to at most 8.
fn log_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let (a, b) = (lo.ceil() as i64, hi.floor() as i64);
    if b < a {
        return nice_ticks(lo, hi, 4)
            .into_iter()
            .map(|t| (t, tick_label(round_to(10f64.powf(t), 3))))
            .collect();
    }
    let every = (((b - a) as f64 + 1.0) / 8.0).ceil().max(1.0) as i64;
    let mut ticks: Vec<(f64, String)> = (a..=b)
        .filter(|k| (k - a) % every == 0)
        .map(|k| (k as f64, format!("1e{k}")))
        .collect();
    if b - a < 3 {
        // Few decades: 2 and 5 times each power too, so the axis has enough labels.
        for k in a - 1..=b {
            for m in [2.0f64, 5.0] {
                let t = k as f64 + m.log10();
                if t >= lo && t <= hi {
                    ticks.push((t, format!("{m}e{k}")));
                }
            }
        }
    }
    ticks
}

fn tick_label(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{v:.0e}");
    }
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn round_to(v: f64, sig: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let mag = 10f64.powi(sig - 1 - v.abs().log10().floor() as i32);
    (v * mag).round() / mag
}

fn color(map: ColorMap, v: f64, lo: f64, hi: f64) -> String {
    if !v.is_finite() {
        return "#ff00ff".into();
    }
    let rgb = |r: f64, g: f64, b: f64| format!("#{:02x}{:02x}{:02x}", to8(r), to8(g), to8(b));
    match map {
        ColorMap::Gray => {
            let t = if hi > lo {
                ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
            } else {
                0.5
            };
            rgb(t, t, t)
        }
        ColorMap::Blues => {
            let t = if hi > lo {
                ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
            } else {
                0.5
            };
            // White to Okabe–Ito blue (0, 114, 178).
            rgb(
                1.0 - t,
                1.0 - t * (1.0 - 114.0 / 255.0),
                1.0 - t * (1.0 - 178.0 / 255.0),
            )
        }
        ColorMap::Diverging => {
            let m = lo.abs().max(hi.abs()).max(1e-300);
            let t = (v / m).clamp(-1.0, 1.0);
            if t < 0.0 {
                let t = -t;
                rgb(
                    1.0 - t,
                    1.0 - t * (1.0 - 114.0 / 255.0),
                    1.0 - t * (1.0 - 178.0 / 255.0),
                )
            } else {
                rgb(
                    1.0 - t * (1.0 - 213.0 / 255.0),
                    1.0 - t * (1.0 - 94.0 / 255.0),
                    1.0 - t,
                )
            }
        }
    }
}

fn to8(t: f64) -> u8 {
    (t.clamp(0.0, 1.0) * 255.0).round() as u8
}

fn luminance(hex: &str) -> f64 {
    let c = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0) as f64 / 255.0;
    if hex.len() < 7 {
        return 1.0;
    }
    0.2126 * c(1) + 0.7152 * c(3) + 0.0722 * c(5)
}

/// An 8-bit grayscale PNG of `width × height` pixels (row after row), without
/// compression: deflate's "stored" blocks keep the encoder a few lines long, and the
/// images of a lab are small.
///
/// # Examples
///
/// ```
/// let png = gradsheet_concepts::svg::gray_png(2, 1, &[0, 255]);
/// assert_eq!(&png[1..4], b"PNG");
/// ```
pub fn gray_png(width: usize, height: usize, pixels: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity((width + 1) * height);
    for r in 0..height {
        raw.push(0); // filter type 0: the row as it is
        raw.extend_from_slice(&pixels[r * width..(r + 1) * width]);
    }
    let mut z = vec![0x78, 0x01];
    let mut chunks = raw.chunks(65535).peekable();
    if raw.is_empty() {
        z.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(c) = chunks.next() {
        z.push(u8::from(chunks.peek().is_none()));
        let len = c.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(c);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + byte as u32) % 65521;
        b = (b + a) % 65521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());

    let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    for (kind, data) in [(b"IHDR", &ihdr[..]), (b"IDAT", &z[..]), (b"IEND", &[][..])] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}
