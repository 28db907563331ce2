//! Heatmaps: grids of values as coloured cells. The SVG is written directly, one `<rect>`
//! per cell with the value in its `<title>` (a browser shows it under the pointer); the
//! PNG of one panel has a block of pixels per cell.

use std::fmt::Write;

use gradsheet_labs::figure::{ColorMap, Heatmap};
use gradsheet_labs::Image;

use super::{draw_err, rgb_png, ChartError};

/// One panel of a heatmap: a title and a layer (rows of cells).
pub type Panel<'a> = (&'a str, &'a [Vec<f64>]);

/// Layers drawn side by side as grey-level heatmaps (each panel scaled from its own
/// minimum, black, to its maximum, white), one `<rect>` per cell with the value in its
/// `<title>`, so that a browser shows the number under the pointer.
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
/// // One rectangle per cell, each with its value as a title (and a colour scale below).
/// assert_eq!(svg.matches("<title>").count(), 4);
/// assert_eq!(svg.matches("<rect").count(), 1 + 4 + 16);
/// ```
pub fn heatmap_svg(title: &str, panels: &[Panel<'_>], cell: usize) -> Result<String, ChartError> {
    let maps: Vec<Heatmap> = panels.iter().map(|(n, g)| Heatmap::grid(*n, g)).collect();
    let refs: Vec<&Heatmap> = maps.iter().collect();
    svg(title, &refs, refs.len(), cell as f64)
}

/// Heatmaps in rows of `columns` under a title, each cell `cell` px square.
///
/// # Errors
///
/// [`ChartError::Empty`] when there is no panel or a panel has no cell.
pub(super) fn svg(
    title: &str,
    maps: &[&Heatmap],
    columns: usize,
    cell: f64,
) -> Result<String, ChartError> {
    if maps.is_empty() || maps.iter().any(|m| m.rows * m.cols == 0) {
        return Err(ChartError::Empty(
            "a heatmap needs at least one cell".into(),
        ));
    }
    let columns = columns.max(1);
    let (pad, head, name_band, caption_band) = (12.0, 30.0, 18.0, 34.0);
    let side = |m: &Heatmap| if m.labels.1.is_empty() { 0.0 } else { 16.0 };
    let width = |m: &Heatmap| side(m) + m.cols as f64 * cell;
    let rows: Vec<&[&Heatmap]> = maps.chunks(columns).collect();
    let row_h: Vec<f64> = rows
        .iter()
        .map(|r| {
            r.iter().map(|m| m.rows as f64 * cell).fold(0.0, f64::max) + name_band + caption_band
        })
        .collect();
    let w = rows
        .iter()
        .map(|r| r.iter().map(|m| width(m) + pad).sum::<f64>() + pad)
        .fold(0.0, f64::max);
    let h = head + row_h.iter().map(|h| h + pad).sum::<f64>();
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\">\n\
         <rect x=\"0\" y=\"0\" width=\"{w:.0}\" height=\"{h:.0}\" fill=\"#ffffff\"/>\n"
    );
    text(&mut s, (pad, 20.0), 16.0, "start", title);
    let mut y0 = head;
    for (r, rh) in rows.iter().zip(&row_h) {
        let mut x0 = pad;
        for m in r.iter() {
            panel(&mut s, m, (x0, y0), cell, name_band);
            x0 += width(m) + pad;
        }
        y0 += rh + pad;
    }
    s.push_str("</svg>\n");
    Ok(s)
}

/// One panel at `(x0, y0)`: its title, its cells, and a caption with the colour range.
fn panel(s: &mut String, m: &Heatmap, (x0, y0): (f64, f64), cell: f64, name_band: f64) {
    text(s, (x0, y0 + name_band - 5.0), 12.0, "start", &m.title);
    let left = x0 + if m.labels.1.is_empty() { 0.0 } else { 16.0 };
    let top = y0 + name_band;
    let (lo, hi) = m.extent();
    for i in 0..m.rows {
        for j in 0..m.cols {
            let v = m.at(i, j);
            let (r, g, b) = m.map.rgb(v, lo, hi);
            let (x, y) = (left + j as f64 * cell, top + i as f64 * cell);
            let _ = writeln!(
                s,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{cell}\" height=\"{cell}\" fill=\"#{r:02x}{g:02x}{b:02x}\"><title>{v}</title></rect>"
            );
            if m.annotate && cell >= 14.0 && v.is_finite() {
                let luma = 0.2126 * r as f64 + 0.7152 * g as f64 + 0.0722 * b as f64;
                let light = luma < 115.0;
                let _ = writeln!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-family=\"sans-serif\" font-size=\"{:.1}\" text-anchor=\"middle\" fill=\"{}\">{}</text>",
                    x + cell / 2.0,
                    y + cell / 2.0 + 3.5,
                    (cell * 0.32).min(11.0),
                    if light { "#ffffff" } else { "#111111" },
                    short(v)
                );
            }
        }
    }
    let bottom = top + m.rows as f64 * cell;
    // The colour scale: a strip from the lowest value's colour to the highest's.
    let strip = (m.cols as f64 * cell).clamp(60.0, 160.0);
    for k in 0..STRIP {
        let v = lo + (hi - lo) * (k as f64 + 0.5) / STRIP as f64;
        let (r, g, b) = m.map.rgb(v, lo, hi);
        let w = strip / STRIP as f64;
        let _ = writeln!(
            s,
            "<rect class=\"scale\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.2}\" height=\"8\" fill=\"#{r:02x}{g:02x}{b:02x}\"/>",
            left + k as f64 * w,
            bottom + 4.0,
            w + 0.3
        );
    }
    let bottom = bottom + 12.0;
    let scale = format!("{} … {}", short(lo), short(hi));
    let caption = if m.labels.0.is_empty() {
        scale
    } else {
        format!("{}   ({scale})", m.labels.0)
    };
    text(s, (left, bottom + 15.0), 11.0, "start", &caption);
    if !m.labels.1.is_empty() {
        let (lx, ly) = (x0 + 11.0, top + m.rows as f64 * cell / 2.0);
        let _ = writeln!(
            s,
            "<text x=\"{lx:.1}\" y=\"{ly:.1}\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(-90 {lx:.1} {ly:.1})\">{}</text>",
            esc(&m.labels.1)
        );
    }
}

fn text(s: &mut String, (x, y): (f64, f64), size: f64, anchor: &str, t: &str) {
    let _ = writeln!(
        s,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" font-family=\"sans-serif\" font-size=\"{size}\" text-anchor=\"{anchor}\">{}</text>",
        esc(t)
    );
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Steps of a colour scale's strip.
const STRIP: usize = 16;

/// A value to three significant digits, for captions and cells.
fn short(v: f64) -> String {
    gradsheet_labs::cell(v, 3)
}

/// A layer as a grey-level PNG, each cell a `scale`×`scale` square (scaled like
/// [`heatmap_svg`]).
///
/// # Errors
///
/// [`ChartError::Empty`] for a layer with no cell; [`ChartError::Draw`] if encoding fails.
pub fn heatmap_png(layer: &[Vec<f64>], scale: usize) -> Result<Vec<u8>, ChartError> {
    if scale == 0 {
        return Err(ChartError::Empty(
            "a heatmap needs at least one cell".into(),
        ));
    }
    pixels_png(&Heatmap::grid("", layer), scale)
}

/// One heatmap panel as a PNG at its own resolution: a block of up to 24×24 pixels per
/// cell, about 240 pixels on its longer side. Gray maps are written as grayscale.
///
/// # Errors
///
/// [`ChartError::Empty`] for a panel with no cell; [`ChartError::Draw`] if encoding fails.
pub fn heatmap_png_of(h: &Heatmap) -> Result<Vec<u8>, ChartError> {
    let scale = (240 / h.rows.max(h.cols).max(1)).clamp(1, 24);
    pixels_png(h, scale)
}

fn pixels_png(h: &Heatmap, scale: usize) -> Result<Vec<u8>, ChartError> {
    if h.rows == 0 || h.cols == 0 {
        return Err(ChartError::Empty(
            "a heatmap needs at least one cell".into(),
        ));
    }
    let (lo, hi) = h.extent();
    let (w, ht) = (h.cols * scale, h.rows * scale);
    let gray = h.map == ColorMap::Gray;
    let channels = if gray { 1 } else { 3 };
    let mut px = Vec::with_capacity(w * ht * channels);
    for y in 0..ht {
        for x in 0..w {
            let (r, g, b) = h.map.rgb(h.at(y / scale, x / scale), lo, hi);
            if gray {
                px.push(r);
            } else {
                px.extend([r, g, b]);
            }
        }
    }
    if gray {
        gray_png(w as u32, ht as u32, &px)
    } else {
        rgb_png(w as u32, ht as u32, &px)
    }
}

/// A lab's grayscale image as an 8-bit PNG (scaled as [`Image::to_gray8`]).
///
/// # Errors
///
/// [`ChartError::Draw`] if encoding fails.
pub fn image_png(img: &Image) -> Result<Vec<u8>, ChartError> {
    gray_png(img.width as u32, img.height as u32, &img.to_gray8())
}

fn gray_png(w: u32, h: u32, px: &[u8]) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header().map_err(draw_err)?;
        wr.write_image_data(px).map_err(draw_err)?;
        wr.finish().map_err(draw_err)?;
    }
    Ok(out)
}
