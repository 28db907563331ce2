//! Figures as data: line charts and heatmaps, grouped into panels.
//!
//! A lab describes what to draw, never how: `gradsheet_report::chart` draws a
//! [`Figure`] as SVG and PNG files, and the web page draws the same figure, sent as
//! JSON, in the browser (where it can follow the screen's width and show a value under
//! the pointer). Colours are indices into [`PALETTE`], Okabe–Ito's colour-blind-safe
//! palette, shared by both.
//!
//! ```
//! use gradsheet_labs::figure::{Figure, Lines, Series, Style};
//!
//! let chart = Lines::new("squares", "x", "x²")
//!     .with(Series::line("x²", (0..5).map(|i| (i as f64, (i * i) as f64)).collect()))
//!     .with(Series::new("data", vec![(2.0, 4.0)], Style::Points, 1));
//! let fig = Figure::lines("squares", "x and its square", vec![chart]);
//! assert_eq!(fig.panels.len(), 1);
//! ```

/// Okabe–Ito's colour-blind-safe palette as RGB (black last but one: kept for data and
/// references, yellow last: faint on white).
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

/// Names for the palette's indices, for code that picks a colour on purpose.
pub mod colour {
    /// Blue.
    pub const BLUE: usize = 0;
    /// Vermillion.
    pub const VERMILLION: usize = 1;
    /// Bluish green.
    pub const GREEN: usize = 2;
    /// Reddish purple.
    pub const PURPLE: usize = 3;
    /// Orange.
    pub const ORANGE: usize = 4;
    /// Sky blue.
    pub const SKY: usize = 5;
    /// Yellow.
    pub const YELLOW: usize = 6;
    /// Black.
    pub const BLACK: usize = 7;
}

/// A palette colour as `#rrggbb`.
pub fn hex(i: usize) -> String {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Style {
    /// A solid line.
    #[default]
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
    /// A bar from 0 to each point (with [`Lines::categories`], one bar per class; several
    /// bar series share each class's place side by side).
    Bars,
}

impl Style {
    /// `line`, `dashed`, `faint`, `points`, `rings`, `line-points` or `bars`.
    pub fn name(self) -> &'static str {
        match self {
            Style::Line => "line",
            Style::Dashed => "dashed",
            Style::Faint => "faint",
            Style::Points => "points",
            Style::Rings => "rings",
            Style::LinePoints => "line-points",
            Style::Bars => "bars",
        }
    }

    /// Whether a line joins the points.
    pub fn has_line(self) -> bool {
        matches!(
            self,
            Style::Line | Style::Dashed | Style::Faint | Style::LinePoints
        )
    }

    /// Whether each point gets a mark.
    pub fn has_marks(self) -> bool {
        matches!(self, Style::Points | Style::Rings | Style::LinePoints)
    }
}

/// A named series of points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend label; empty for no legend entry.
    pub name: String,
    /// The points, in drawing order; non-finite ones (and non-positive ones on a log
    /// axis) break a line.
    pub points: Vec<(f64, f64)>,
    /// How it is drawn.
    pub style: Style,
    /// Index into [`PALETTE`]; `None` for the series' own position in its chart.
    pub color: Option<usize>,
}

impl Series {
    /// A series with its style and colour.
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
            color: Some(color),
        }
    }

    /// A line in the next colour.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            style: Style::Line,
            color: None,
        }
    }

    /// Dots in the next colour.
    pub fn points(name: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            style: Style::Points,
            ..Series::line(name, points)
        }
    }

    /// The palette index it is drawn with, being the `i`-th series of its chart.
    pub fn color_index(&self, i: usize) -> usize {
        self.color.unwrap_or(i) % PALETTE.len()
    }
}

/// Lines and dots on x/y axes.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Lines {
    /// The title above the plot.
    pub title: String,
    /// The x axis label.
    pub x_label: String,
    /// The y axis label.
    pub y_label: String,
    /// A logarithmic x axis.
    pub log_x: bool,
    /// A logarithmic y axis.
    pub log_y: bool,
    /// A fixed x range; the data's otherwise.
    pub x_range: Option<(f64, f64)>,
    /// A fixed y range; the data's otherwise.
    pub y_range: Option<(f64, f64)>,
    /// Names for the x positions 1, 2, …, n (classes): the x axis is labelled with them
    /// instead of numbers, and spans 0.5 to n + 0.5.
    pub categories: Vec<String>,
    /// The series.
    pub series: Vec<Series>,
}

impl Lines {
    /// The x range drawn: the fixed one, or around the categories when there are some.
    pub fn x_extent(&self) -> Option<(f64, f64)> {
        self.x_range.or_else(|| {
            (!self.categories.is_empty()).then_some((0.5, self.categories.len() as f64 + 0.5))
        })
    }

    /// The y range drawn: the fixed one; with bars, the data's stretched to take in 0
    /// (a bar starts there); `None` to fit the data.
    pub fn y_extent(&self) -> Option<(f64, f64)> {
        if self.y_range.is_some() {
            return self.y_range;
        }
        if !self.series.iter().any(|s| s.style == Style::Bars) {
            return None;
        }
        let ys = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1));
        let (lo, hi) = ys
            .filter(|v| v.is_finite())
            .fold((0.0f64, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
        let pad = (hi - lo).max(1e-12) * 0.06;
        Some((if lo < 0.0 { lo - pad } else { 0.0 }, hi + pad))
    }

    /// Where the `k`-th of `n` bar series puts the bar of the point at `x`: its centre
    /// and its width, in x units (the bars of a place share 0.7 of it, side by side).
    pub fn bar(x: f64, k: usize, n: usize) -> (f64, f64) {
        let width = 0.7 / n.max(1) as f64;
        (x - 0.35 + width * (k as f64 + 0.5), width)
    }
    /// An empty chart.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Lines {
        Lines {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            ..Lines::default()
        }
    }

    /// Adds a series (builder style).
    pub fn with(mut self, s: Series) -> Lines {
        self.series.push(s);
        self
    }
}

/// How a heatmap maps values to colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ColorMap {
    /// Black (low) to white (high): images and layers.
    #[default]
    Gray,
    /// Blue (negative) through white (0) to vermillion (positive), symmetric about 0.
    Diverging,
    /// White (low) to blue (high): counts and masks.
    Blues,
}

impl ColorMap {
    /// `gray`, `diverging` or `blues`.
    pub fn name(self) -> &'static str {
        match self {
            ColorMap::Gray => "gray",
            ColorMap::Diverging => "diverging",
            ColorMap::Blues => "blues",
        }
    }

    /// The colour of `v` on the range `lo..=hi`, as RGB; magenta for a value that is not
    /// finite.
    pub fn rgb(self, v: f64, lo: f64, hi: f64) -> (u8, u8, u8) {
        if !v.is_finite() {
            return (255, 0, 255);
        }
        let to8 = |t: f64| (t.clamp(0.0, 1.0) * 255.0).round() as u8;
        let unit = || {
            if hi > lo {
                ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
            } else {
                0.5
            }
        };
        // From white towards a palette colour by t.
        let towards = |t: f64, (r, g, b): (u8, u8, u8)| {
            let m = |c: u8| to8(1.0 - t * (1.0 - c as f64 / 255.0));
            (m(r), m(g), m(b))
        };
        match self {
            ColorMap::Gray => {
                let g = to8(unit());
                (g, g, g)
            }
            ColorMap::Blues => towards(unit(), PALETTE[colour::BLUE]),
            ColorMap::Diverging => {
                let m = lo.abs().max(hi.abs()).max(1e-300);
                let t = (v / m).clamp(-1.0, 1.0);
                if t < 0.0 {
                    towards(-t, PALETTE[colour::BLUE])
                } else {
                    towards(t, PALETTE[colour::VERMILLION])
                }
            }
        }
    }
}

/// A grid of values drawn as coloured cells.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Heatmap {
    /// The title above it (also its name in file names).
    pub title: String,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows × cols` values, row after row (NaN where a ragged grid has no cell).
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
    /// A heatmap of `rows × cols` values.
    pub fn new(
        title: impl Into<String>,
        (rows, cols): (usize, usize),
        values: Vec<f64>,
        map: ColorMap,
    ) -> Heatmap {
        Heatmap {
            title: title.into(),
            rows,
            cols,
            values,
            map,
            ..Heatmap::default()
        }
    }

    /// A gray heatmap of a grid given row by row (short rows padded with NaN).
    pub fn grid(title: impl Into<String>, g: &[Vec<f64>]) -> Heatmap {
        let cols = g.iter().map(Vec::len).max().unwrap_or(0);
        let values = g
            .iter()
            .flat_map(|r| (0..cols).map(move |j| r.get(j).copied().unwrap_or(f64::NAN)))
            .collect();
        Heatmap::new(title, (g.len(), cols), values, ColorMap::Gray)
    }

    /// The value at row `r`, column `c`.
    pub fn at(&self, r: usize, c: usize) -> f64 {
        self.values
            .get(r * self.cols + c)
            .copied()
            .unwrap_or(f64::NAN)
    }

    /// The range colours are drawn over: the fixed one, or the finite values' (0..1 when
    /// there are none).
    pub fn extent(&self) -> (f64, f64) {
        if let Some(r) = self.range {
            return r;
        }
        let (lo, hi) = self
            .values
            .iter()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        if lo > hi {
            (0.0, 1.0)
        } else {
            (lo, hi)
        }
    }
}

/// One panel of a [`Figure`].
#[derive(Clone, Debug, PartialEq)]
pub enum Panel {
    /// A line chart.
    Lines(Lines),
    /// A heatmap.
    Heatmap(Heatmap),
}

/// A figure: panels laid out in rows of `columns`, under a title.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// A short machine name, used in file names (`curves` → `focal-curves.svg`; a figure
    /// named like its lab is `<lab>.svg`).
    pub name: String,
    /// A human title.
    pub title: String,
    /// Panels per row.
    pub columns: usize,
    /// The panels.
    pub panels: Vec<Panel>,
}

impl Figure {
    /// Line charts side by side.
    pub fn lines(name: &str, title: &str, charts: Vec<Lines>) -> Figure {
        Figure {
            name: name.into(),
            title: title.into(),
            columns: charts.len().max(1),
            panels: charts.into_iter().map(Panel::Lines).collect(),
        }
    }

    /// Heatmaps in rows of `columns`.
    pub fn heatmaps(name: &str, title: &str, maps: Vec<Heatmap>, columns: usize) -> Figure {
        Figure {
            name: name.into(),
            title: title.into(),
            columns: columns.max(1),
            panels: maps.into_iter().map(Panel::Heatmap).collect(),
        }
    }

    /// The figure's file stem for a lab: `<lab>-<name>`, or `<lab>` for a figure named
    /// like its lab.
    pub fn stem(&self, lab: &str) -> String {
        if self.name == lab {
            lab.to_string()
        } else {
            format!("{lab}-{}", self.name)
        }
    }
}
