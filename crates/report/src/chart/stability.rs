//! Stability maps: the final error of each run of a grid of two settings, or "diverged".

use plotters::coord::Shift;
use plotters::prelude::*;

use super::contours::sequential;
use super::lines::legend;
use super::{draw_err, span, tick, ChartError, FONT};

/// A stability map (see [`super::Chart::Stability`]).
pub(super) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    (title, x_label, y_label): (&str, &str, &str),
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
