//! `gradsheet surface "a*x+b" --x-axis a=-4..8:512 --y-axis b=-40..80:512`: the error
//! landscape over two parameters, every point the exact mean error over the data.

use anyhow::Result;
use gradsheet_engine::format_number;
use gradsheet_jit::surface::{mean_error_grid_with, Axes};
use gradsheet_report::chart::{Chart, Grid};
use serde_json::json;

use super::common::{parse_range, progress_bar, ModelArgs};
use super::usage;
use crate::output::cell;

/// Most points per axis: 4096² points is 16.8 M mean errors, a few seconds natively.
const MAX_POINTS: usize = 4096;

/// The error landscape over two parameters: the mean error at every point of a grid.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Axes: NAME=LO..HI[:N], NAME a parameter of the model, N points (default 101).
The other parameters stay at their --init values (default 1).

Examples:
  gradsheet surface \"a*x+b\" --x-axis a=-4..8:512 --y-axis b=-40..80:512 --plot surface.png
  gradsheet surface \"c*MAX(a*x+b,0)+d\" --x-axis a=0..3 --y-axis c=0..3 --init b=-12,d=46 --csv s.csv"
)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The horizontal axis, e.g. a=-4..8:512.
    #[arg(long, value_name = "AXIS")]
    pub x_axis: String,
    /// The vertical axis, e.g. b=-40..80:512.
    #[arg(long, value_name = "AXIS")]
    pub y_axis: String,
    /// Write every point as CSV (x, y, mean_error).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<std::path::PathBuf>,
    /// Write the grid as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
    /// Draw the contours: SVG, or PNG when FILE ends in .png.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<std::path::PathBuf>,
}

/// One axis: a parameter and its values.
#[derive(Debug, PartialEq)]
struct Axis {
    name: String,
    values: Vec<f64>,
}

impl Axis {
    /// Parses `NAME=LO..HI[:N]`.
    fn parse(flag: &str, s: &str) -> Result<Axis> {
        let (name, spec) = s.split_once('=').ok_or_else(|| {
            usage(format!(
                "{flag} '{s}' must look like NAME=LO..HI[:N], e.g. a=-4..8:512"
            ))
        })?;
        let (range, n) = match spec.rsplit_once(':') {
            Some((r, n)) => {
                let n = n.trim().parse::<usize>().map_err(|_| {
                    usage(format!(
                        "in {flag} '{s}', '{}' is not a number of points",
                        n.trim()
                    ))
                })?;
                (r, n)
            }
            None => (spec, 101),
        };
        if !(2..=MAX_POINTS).contains(&n) {
            return Err(usage(format!(
                "in {flag} '{s}', {n} points: an axis has 2 to {MAX_POINTS}"
            )));
        }
        let (lo, hi) = parse_range(range)?;
        if lo.is_finite() && hi.is_finite() && !(hi - lo).is_finite() {
            return Err(usage(format!(
                "in {flag} '{s}', the range is wider than an f64 holds (HI - LO overflows)"
            )));
        }
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(usage(format!(
                "in {flag} '{s}', the range must go from a smaller to a larger finite number"
            )));
        }
        let values = (0..n)
            .map(|k| lo + (hi - lo) * k as f64 / (n - 1) as f64)
            .collect();
        Ok(Axis {
            name: name.trim().to_string(),
            values,
        })
    }
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let x = Axis::parse("--x-axis", &a.x_axis)?;
    let y = Axis::parse("--y-axis", &a.y_axis)?;
    let data = a.model.dataset()?;
    let model = a.model.model(&data)?;
    let at = a.model.init(&model)?;
    let index = |axis: &Axis, flag: &str| {
        model
            .params
            .iter()
            .position(|p| *p == axis.name)
            .ok_or_else(|| {
                usage(format!(
                    "{flag} names '{}', which is not a parameter (the parameters are {})",
                    axis.name,
                    model.params.join(", ")
                ))
            })
    };
    let (ix, iy) = (index(&x, "--x-axis")?, index(&y, "--y-axis")?);
    let rows = data.project(&model.columns).map_err(usage)?;
    let start = std::time::Instant::now();
    let axes = Axes {
        x: (ix, &x.values),
        y: (iy, &y.values),
    };
    // A bar on a terminal when the grid takes more than a moment (about 10⁹ row
    // evaluations a second on two cores).
    let work = x.values.len() * y.values.len() * data.len();
    let bar = (work > 500_000_000)
        .then(|| {
            progress_bar(
                y.values.len() as u64,
                "surface [{bar:40}] {pos}/{len} lines ({eta} left)",
            )
        })
        .flatten();
    let tick = || {
        if let Some(b) = &bar {
            b.inc(1);
        }
    };
    let values = mean_error_grid_with(&model.compile(), &rows, &at, axes, &tick).map_err(usage)?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let took = start.elapsed();
    let grid = Grid {
        xs: x.values.clone(),
        ys: y.values.clone(),
        values,
    };
    if let Some(path) = &a.csv {
        crate::output::write_atomic_with(path, |w| write_csv(w, &x.name, &y.name, &grid))?;
    }
    if let Some(path) = &a.json {
        let fixed: serde_json::Map<String, serde_json::Value> = model
            .params
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != ix && *k != iy)
            .map(|(k, p)| (p.clone(), json!(at[k])))
            .collect();
        let head = json!({
            "model": a.model.model,
            "loss": a.model.loss,
            "x": { "param": x.name, "values": grid.xs },
            "y": { "param": y.name, "values": grid.ys },
            "fixed": fixed,
        });
        crate::output::write_atomic_with(path, |w| write_json(w, &head, &grid))?;
    }
    if let Some(path) = &a.plot {
        let ch = Chart::Contours {
            title: format!("Mean error of {}", a.model.model),
            x_label: x.name.clone(),
            y_label: y.name.clone(),
            grid: grid.clone(),
            paths: vec![],
        };
        crate::output::write_chart(path, &ch, "surface")?;
    }
    print!(
        "{}",
        summary(&model.params, &at, (ix, iy), &grid, data.len())
    );
    println!(
        "{} × {} points × {} rows in {:.3} s",
        grid.xs.len(),
        grid.ys.len(),
        data.len(),
        took.as_secs_f64()
    );
    Ok(())
}

/// The lowest point, the other parameters, and the grid seen through a 9 × 9 sample.
fn summary(
    params: &[String],
    at: &[f64],
    (ix, iy): (usize, usize),
    g: &Grid,
    rows: usize,
) -> String {
    let nx = g.xs.len();
    let best = g
        .values
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .min_by(|a, b| a.1.total_cmp(b.1));
    let mut out = String::new();
    match best {
        Some((k, v)) => out.push_str(&format!(
            "lowest mean error {} at {} = {}, {} = {} (over {rows} rows)\n",
            cell(*v, 6),
            params[ix],
            cell(g.xs[k % nx], 6),
            params[iy],
            cell(g.ys[k / nx], 6)
        )),
        None => out.push_str("every point's mean error is NaN\n"),
    }
    let others: Vec<String> = params
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != ix && *k != iy)
        .map(|(k, p)| format!("{p} = {}", cell(at[k], 6)))
        .collect();
    if !others.is_empty() {
        out.push_str(&format!("other parameters held at {}\n", others.join(", ")));
    }
    let pick = |n: usize| -> Vec<usize> {
        let m = n.min(9);
        (0..m).map(|k| k * (n - 1) / (m - 1).max(1)).collect()
    };
    let (cols, lines) = (pick(nx), pick(g.ys.len()));
    let mut headers = vec![format!("{} \\ {}", params[iy], params[ix])];
    headers.extend(cols.iter().map(|&j| cell(g.xs[j], 4)));
    // The top row is the largest y, as on the chart.
    let rows: Vec<Vec<String>> = lines
        .iter()
        .rev()
        .map(|&k| {
            let mut r = vec![cell(g.ys[k], 4)];
            r.extend(cols.iter().map(|&j| cell(g.values[k * nx + j], 4)));
            r
        })
        .collect();
    out.push_str(&crate::output::table(&headers, &rows));
    out
}

/// The grid as one JSON object: `head`'s fields, then `mean_error`, one array per y
/// value. Written line by line: the largest grid (4096² points) would otherwise be held
/// as a tree of 16.8 M JSON values, about 1 GB.
fn write_json(
    w: &mut dyn std::io::Write,
    head: &serde_json::Value,
    g: &Grid,
) -> std::io::Result<()> {
    let head = serde_json::to_string(head)?;
    // `head` is an object: reopen it to append the last field.
    let open = head.strip_suffix('}').unwrap_or(&head);
    write!(w, "{open},\"mean_error\":[")?;
    for (k, line) in g.values.chunks(g.xs.len()).enumerate() {
        if k > 0 {
            w.write_all(b",")?;
        }
        serde_json::to_writer(&mut *w, line)?;
    }
    w.write_all(b"]}")
}

/// `x,y,mean_error`, a line per point, with the parameters' names as headers.
fn write_csv(
    w: &mut dyn std::io::Write,
    xname: &str,
    yname: &str,
    g: &Grid,
) -> std::io::Result<()> {
    writeln!(w, "{xname},{yname},mean_error")?;
    for (k, &y) in g.ys.iter().enumerate() {
        let y = format_number(y);
        for (j, &x) in g.xs.iter().enumerate() {
            let e = g.values[k * g.xs.len() + j];
            writeln!(w, "{},{y},{}", format_number(x), format_number(e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streamed_json_is_the_document() {
        let g = Grid {
            xs: vec![0.0, 1.0, 2.0],
            ys: vec![-1.0, 1.0],
            values: vec![1.5, f64::NAN, 3.0, 4.0, 5.0, 6.25],
        };
        let head = json!({ "model": "a*x+b", "x": { "values": g.xs } });
        let mut out = Vec::new();
        write_json(&mut out, &head, &g).unwrap();
        let got: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let want = json!({
            "model": "a*x+b",
            "x": { "values": g.xs },
            "mean_error": g.values.chunks(3).collect::<Vec<_>>(),
        });
        assert_eq!(got, want);
        assert_eq!(got["mean_error"][0][1], serde_json::Value::Null);
    }

    #[test]
    fn axes_parse_with_and_without_a_count() {
        let a = Axis::parse("--x-axis", "a=-1..1:3").unwrap();
        assert_eq!(a.name, "a");
        assert_eq!(a.values, vec![-1.0, 0.0, 1.0]);
        assert_eq!(
            Axis::parse("--x-axis", "b=0..100").unwrap().values.len(),
            101
        );
    }

    #[test]
    fn bad_axes_say_what_is_wrong() {
        let e = |s: &str| Axis::parse("--y-axis", s).unwrap_err().to_string();
        assert_eq!(
            e("b"),
            "--y-axis 'b' must look like NAME=LO..HI[:N], e.g. a=-4..8:512"
        );
        assert_eq!(
            e("b=0..1:x"),
            "in --y-axis 'b=0..1:x', 'x' is not a number of points"
        );
        assert_eq!(
            e("b=0..1:1"),
            "in --y-axis 'b=0..1:1', 1 points: an axis has 2 to 4096"
        );
        assert_eq!(
            e("b=1..0"),
            "in --y-axis 'b=1..0', the range must go from a smaller to a larger finite number"
        );
        assert_eq!(e("b=0..z"), "in the range '0..z', 'z' is not a number");
        assert_eq!(
            e("b=-1e308..1e308"),
            "in --y-axis 'b=-1e308..1e308', the range is wider than an f64 holds (HI - LO overflows)"
        );
    }
}
