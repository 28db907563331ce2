//! A lab's figure as a file: its panels in rows of `columns` under the figure's title.

use gradsheet_labs::figure::{Figure, Heatmap, Panel};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{draw_err, encode, heatmap, lines, ChartError, Drawable, Format, FONT, SIZE};

/// The size of one line-chart panel of a figure with several, in pixels.
const PANEL: (u32, u32) = (700, 460);
/// The size of one heatmap panel of a figure's PNG, in pixels.
const HEAT_PANEL: (u32, u32) = (320, 340);
/// The band above the panels that holds a figure's title.
const TITLE_BAND: u32 = 40;

/// Draws a lab's figure as SVG or PNG bytes. Line charts are drawn with plotters, one
/// panel per chart (a figure of one chart is the size of a run's charts); a figure of
/// heatmaps is written as SVG with one `<rect>` per cell, the value in its `<title>`.
///
/// # Errors
///
/// [`ChartError`] when a panel cannot be drawn (no finite point, a range too wide, a
/// heatmap with no cell).
///
/// # Examples
///
/// ```
/// use gradsheet_labs::figure::{Figure, Lines, Series};
/// use gradsheet_report::chart::{figure, Format};
///
/// let chart = Lines::new("squares", "x", "x²")
///     .with(Series::line("x²", (0..5).map(|i| (i as f64, (i * i) as f64)).collect()));
/// let f = Figure::lines("squares", "squares", vec![chart]);
/// let svg = String::from_utf8(figure(&f, Format::Svg).unwrap()).unwrap();
/// assert!(svg.contains("<polyline") && svg.contains("squares"));
/// assert_eq!(&figure(&f, Format::Png).unwrap()[1..4], b"PNG");
/// ```
pub fn figure(f: &Figure, format: Format) -> Result<Vec<u8>, ChartError> {
    let maps: Vec<&Heatmap> = f
        .panels
        .iter()
        .filter_map(|p| match p {
            Panel::Heatmap(h) => Some(h),
            Panel::Lines(_) => None,
        })
        .collect();
    let columns = f.columns.clamp(1, f.panels.len().max(1)) as u32;
    let rows = (f.panels.len() as u32).div_ceil(columns).max(1);
    let band = if f.panels.len() > 1 { TITLE_BAND } else { 0 };
    if maps.len() == f.panels.len() && !maps.is_empty() {
        if format == Format::Svg {
            let longest = maps.iter().map(|m| m.rows.max(m.cols)).max().unwrap_or(1);
            // One cell size for every panel, so that their sizes compare.
            let cell = (260 / longest.max(1)).clamp(2, 32) as f64;
            return heatmap::svg(&f.title, &maps, f.columns, cell).map(String::into_bytes);
        }
        let (pw, ph) = HEAT_PANEL;
        return encode(f, format, (pw * columns, ph * rows + band));
    }
    let size = if f.panels.len() == 1 {
        SIZE
    } else {
        (PANEL.0 * columns, PANEL.1 * rows + band)
    };
    encode(f, format, size)
}

impl Drawable for Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), ChartError>
    where
        DB::ErrorType: 'static,
    {
        let area = if self.panels.len() > 1 {
            root.titled(&self.title, (FONT, 22)).map_err(draw_err)?
        } else {
            root.clone()
        };
        let columns = self.columns.clamp(1, self.panels.len().max(1));
        let rows = self.panels.len().div_ceil(columns).max(1);
        let caption = if self.panels.len() > 1 { 18 } else { 24 };
        for (p, a) in self.panels.iter().zip(area.split_evenly((rows, columns))) {
            match p {
                Panel::Lines(c) if c.title.is_empty() && self.panels.len() == 1 => {
                    let titled = gradsheet_labs::figure::Lines {
                        title: self.title.clone(),
                        ..c.clone()
                    };
                    lines::draw(&a, &titled, caption)?
                }
                Panel::Lines(c) => lines::draw(&a, c, caption)?,
                Panel::Heatmap(h) => heatmap_panel(&a, h)?,
            }
        }
        Ok(())
    }
}

/// A heatmap panel fitted to `area`: its title above, a square block per cell.
fn heatmap_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    h: &Heatmap,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    if h.rows * h.cols == 0 {
        return Err(ChartError::Empty(
            "a heatmap needs at least one cell".into(),
        ));
    }
    let inner = area.titled(&h.title, (FONT, 14)).map_err(draw_err)?;
    let (w, ht) = inner.dim_in_pixel();
    // Room under the cells for the colour scale and its range.
    let below = 34;
    let cell = ((w.saturating_sub(16)) as usize / h.cols)
        .min((ht.saturating_sub(16 + below)) as usize / h.rows)
        .max(1) as i32;
    let (x0, y0) = (8, 4);
    let (lo, hi) = h.extent();
    for i in 0..h.rows {
        for j in 0..h.cols {
            let v = h.at(i, j);
            let (r, g, b) = h.map.rgb(v, lo, hi);
            let (x, y) = (x0 + j as i32 * cell, y0 + i as i32 * cell);
            inner
                .draw(&Rectangle::new(
                    [(x, y), (x + cell, y + cell)],
                    RGBColor(r, g, b).filled(),
                ))
                .map_err(draw_err)?;
            if h.annotate && cell >= 18 && v.is_finite() {
                let luma = 0.2126 * r as f64 + 0.7152 * g as f64 + 0.0722 * b as f64;
                let ink = if luma < 115.0 { WHITE } else { BLACK };
                let size = (cell as f64 * 0.3).clamp(10.0, 16.0);
                let style = TextStyle::from((FONT, size).into_font()).color(&ink).pos(
                    plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Center,
                    ),
                );
                inner
                    .draw(&Text::new(
                        gradsheet_labs::cell(v, 3),
                        (x + cell / 2, y + cell / 2),
                        style,
                    ))
                    .map_err(draw_err)?;
            }
        }
    }
    // The colour scale: a strip from the lowest value's colour to the highest's, labelled.
    let top = y0 + h.rows as i32 * cell + 6;
    let strip = (h.cols as i32 * cell).clamp(80, 200);
    let steps = 16;
    for k in 0..steps {
        let v = lo + (hi - lo) * (k as f64 + 0.5) / steps as f64;
        let (r, g, b) = h.map.rgb(v, lo, hi);
        let (a, z) = (x0 + strip * k / steps, x0 + strip * (k + 1) / steps);
        inner
            .draw(&Rectangle::new(
                [(a, top), (z, top + 9)],
                RGBColor(r, g, b).filled(),
            ))
            .map_err(draw_err)?;
    }
    let label = format!(
        "{} … {}",
        gradsheet_labs::cell(lo, 3),
        gradsheet_labs::cell(hi, 3)
    );
    inner
        .draw(&Text::new(label, (x0, top + 12), (FONT, 12).into_font()))
        .map_err(draw_err)?;
    Ok(())
}

/// A title as part of a file name: runs of anything but letters, digits, `_` and `.`
/// become one `-` (`maxpool 2` → `maxpool-2`).
///
/// # Examples
///
/// ```
/// use gradsheet_report::chart::file_part;
/// assert_eq!(file_part("maxpool 2"), "maxpool-2");
/// assert_eq!(file_part("masks, p = 0.5"), "masks-p-0.5");
/// ```
pub fn file_part(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars() {
        if c.is_alphanumeric() || c == '_' || c == '.' {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}
