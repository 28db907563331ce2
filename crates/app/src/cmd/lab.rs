//! `gradsheet lab`: every lab, by name, with `name=value` settings.
//!
//! A lab is a [`Lab`] (`gradsheet-labs`): its parameters with one set of defaults (the
//! web page's too), and a pure run that returns notes, tables and figures as data. This
//! file parses, prints and writes: the tables to the terminal, CSV and JSON, the
//! workbook of live formulas and the figures through `gradsheet_report::labs`.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gradsheet_concepts::Image;
use gradsheet_labs::{Group, Lab, LabError, Output, Params, Table, Value};
use gradsheet_report::labs::{self, gradsheet_labs};
use serde_json::{json, Map};

use crate::cmd::usage;
use crate::output::{cell, table, write_atomic};

/// Arguments of `gradsheet lab`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  gradsheet lab                                   list the labs and their settings
  gradsheet lab focal gamma=2 train_alpha=0.25
  gradsheet lab upsampling kernel=3 stride=2 --plot out/
  gradsheet lab upsampling --image digit.png --plot out/
  gradsheet lab gradients depth=50 activation=relu init=kaiming --csv layers.csv
  gradsheet lab focal gammas=0,1,2 --xlsx focal.xlsx  (live formulas; every lab)
  gradsheet lab collab train=lbfgs seed=3 --plot out/ (or --train lbfgs --seed 3)")]
pub struct Args {
    /// The lab to run; without one, lists the labs and their settings.
    pub name: Option<String>,
    /// Settings as name=value (`gradsheet lab` lists them with their defaults).
    #[arg(value_name = "NAME=VALUE")]
    pub settings: Vec<String>,
    /// Write the main table as CSV; the other tables go beside it as FILE-STEM-TABLE.csv.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write everything (settings, notes, tables) as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the lab as an xlsx workbook with live formulas.
    #[arg(long, value_name = "FILE")]
    pub xlsx: Option<PathBuf>,
    /// Write the pictures into this directory: LAB-FIGURE.svg and .png, LAB-IMAGE.png.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// A PNG picture for labs that take one (upsampling); scaled down to at most 64×64.
    #[arg(long, value_name = "FILE")]
    pub image: Option<PathBuf>,
    /// Print every row of every table (by default at most 20 rows each).
    #[arg(long)]
    pub all: bool,
    /// The same as the setting version=VERSION (entropy, conv, collab).
    #[arg(long = "version", value_name = "VERSION")]
    pub sheet_version: Option<String>,
    /// The same as the setting train=METHOD (collab).
    #[arg(long, value_name = "METHOD")]
    pub train: Option<String>,
    /// The same as the setting fit=METHOD (titanic).
    #[arg(long, value_name = "METHOD")]
    pub fit: Option<String>,
    /// The same as the setting seed=N.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// The same as the setting epochs=N.
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
}

impl Args {
    /// The settings, with the options that stand for settings appended as `name=value`.
    fn items(&self, lab: &Lab) -> Result<Vec<String>> {
        let mut items = self.settings.clone();
        let flags = [
            ("version", self.sheet_version.clone()),
            ("train", self.train.clone()),
            ("fit", self.fit.clone()),
            ("seed", self.seed.map(|v| v.to_string())),
            ("epochs", self.epochs.map(|v| v.to_string())),
        ];
        for (name, value) in flags {
            let Some(v) = value else { continue };
            if !lab.params.iter().any(|p| p.name == name) {
                let why = if name == "version" {
                    " (it has one version only)"
                } else {
                    ""
                };
                return Err(usage(format!(
                    "the {} lab does not take --{name}{why}",
                    lab.name
                )));
            }
            items.push(format!("{name}={v}"));
        }
        Ok(items)
    }
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let Some(name) = a.name.as_deref() else {
        print!("{}", listing());
        return Ok(());
    };
    let lab = labs::find(name).map_err(usage)?;
    let params =
        Params::parse(lab.params, &a.items(lab)?).map_err(|e| usage(format!("{name}: {e}")))?;
    let image = match &a.image {
        Some(path) if lab.takes_image => Some(read_image(path)?),
        Some(_) => return Err(usage(format!("the {name} lab does not take --image"))),
        None => None,
    };
    let img = image.as_ref().map(|(img, _)| img);
    let out = (lab.run)(&params, img).map_err(|e| lab_error(name, e))?;

    println!("lab {name}: {}", lab.about);
    if !params.pairs().is_empty() {
        let settings: Vec<String> = params
            .pairs()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!("settings: {}", settings.join(" "));
    }
    if let Some((_, note)) = &image {
        println!("{note}");
    }
    for n in &out.notes {
        println!("{n}");
    }
    for t in &out.tables {
        println!("\n{}:", t.title);
        print!("{}", render(t, a.all));
    }
    write_files(&a, lab, &params, img, &out)
}

/// The files asked for: CSV, JSON, the workbook and the pictures.
fn write_files(
    a: &Args,
    lab: &Lab,
    params: &Params,
    image: Option<&Image>,
    out: &Output,
) -> Result<()> {
    let name = lab.name;
    if let Some(path) = &a.csv {
        write_csvs(path, out)?;
    }
    if let Some(path) = &a.json {
        let text = serde_json::to_string_pretty(&to_json(out, params))?;
        write_atomic(path, text.as_bytes())?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &a.xlsx {
        let book = labs::workbook(lab, params, image).map_err(|e| lab_error(name, e))?;
        let bytes = book
            .to_xlsx(false)
            .map_err(|e| anyhow::anyhow!("cannot build the {name} workbook: {e}"))?;
        write_atomic(path, &bytes)?;
        println!(
            "wrote {} ({} live formulas)",
            path.display(),
            book.formulas().count()
        );
    }
    if let Some(dir) = &a.plot {
        let files = labs::files(out, true).with_context(|| format!("the {name} lab's pictures"))?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (file, bytes) in &files {
            let p = dir.join(file);
            write_atomic(&p, bytes)?;
            println!("wrote {}", p.display());
        }
    }
    Ok(())
}

/// A setting the user can fix stays a usage error (exit status 2); a computation that
/// failed is an ordinary error.
fn lab_error(name: &str, e: LabError) -> anyhow::Error {
    if e.is_usage() {
        usage(format!("{name}: {e}"))
    } else {
        anyhow::anyhow!("{name}: {e}")
    }
}

/// The labs and their settings, as `gradsheet lab` prints them.
fn listing() -> String {
    let mut s = String::from("labs (run one with: gradsheet lab NAME [NAME=VALUE ...]):\n");
    for (group, title) in [
        (Group::Concept, "concept labs"),
        (Group::Workbook, "fast.ai workbooks"),
    ] {
        s.push_str(&format!("\n{title}:\n"));
        for l in labs::all().into_iter().filter(|l| l.group == group) {
            s.push_str(&format!("\n  {:<12} {}\n", l.name, l.about));
            for p in l.params {
                let setting = format!("{}={}", p.name, p.default);
                s.push_str(&format!(
                    "      {setting:<26} {} [{}]\n",
                    p.help,
                    p.kind.describe()
                ));
            }
        }
    }
    s.push_str("\n  --version, --train, --fit, --seed and --epochs stand for the settings of the same names\n");
    s
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Num(x) => cell(*x, 6),
        Value::Text(t) => t.clone(),
    }
}

/// A table for the terminal, cut to 20 rows unless `all`.
fn render(t: &Table, all: bool) -> String {
    let limit = if all { usize::MAX } else { 20 };
    let rows: Vec<Vec<String>> = t
        .rows
        .iter()
        .take(limit)
        .map(|r| r.iter().map(text_of).collect())
        .collect();
    let mut s = table(&t.headers, &rows);
    if t.rows.len() > limit {
        s.push_str(&format!(
            "… {} more rows (--all, or --csv for every number)\n",
            t.rows.len() - limit
        ));
    }
    s
}

fn write_csvs(path: &Path, out: &Output) -> Result<()> {
    for (i, t) in out.tables.iter().enumerate() {
        let p = if i == 0 {
            path.to_path_buf()
        } else {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| out.lab.clone());
            path.with_file_name(format!("{stem}-{}.csv", t.name))
        };
        write_atomic(&p, &labs::table_csv(t))?;
        println!("wrote {}", p.display());
    }
    Ok(())
}

fn to_json(out: &Output, params: &Params) -> serde_json::Value {
    let settings: Map<String, serde_json::Value> = params
        .pairs()
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let tables: Vec<serde_json::Value> = out
        .tables
        .iter()
        .map(|t| {
            let rows: Vec<Vec<serde_json::Value>> = t
                .rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|v| match v {
                            // JSON has no NaN or infinity: they become null.
                            Value::Num(x) => serde_json::Number::from_f64(*x)
                                .map_or(serde_json::Value::Null, serde_json::Value::Number),
                            Value::Text(s) => json!(s),
                        })
                        .collect()
                })
                .collect();
            json!({ "name": t.name, "title": t.title, "headers": t.headers, "rows": rows })
        })
        .collect();
    json!({
        "lab": out.lab,
        "settings": settings,
        "notes": out.notes,
        "tables": tables,
        "figures": out.figures.iter().map(|f| json!({ "name": f.name, "title": f.title })).collect::<Vec<_>>(),
    })
}

/// Reads a PNG as grayscale in [0, 1] (luma of RGB, alpha over black), box-filtered down
/// by a whole factor until it fits the lab's limit. Returns a note when it was shrunk.
fn read_image(path: &Path) -> Result<(Image, String)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let bad =
        |e: png::DecodingError| usage(format!("{}: not a readable PNG ({e})", path.display()));
    let mut dec = png::Decoder::new(Cursor::new(bytes));
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec.read_info().map_err(bad)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| usage(format!("{}: the image is too large", path.display())))?;
    let mut buf = vec![0u8; size];
    let info = reader.next_frame(&mut buf).map_err(bad)?;
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = info.color_type.samples();
    let mut gray = Vec::with_capacity(w * h);
    for y in 0..h {
        let line = &buf[y * info.line_size..];
        for x in 0..w {
            let px = &line[x * channels..(x + 1) * channels];
            let v = |i: usize| px[i] as f64 / 255.0;
            let (luma, alpha) = match channels {
                1 => (v(0), 1.0),
                2 => (v(0), v(1)),
                3 => (0.299 * v(0) + 0.587 * v(1) + 0.114 * v(2), 1.0),
                _ => (0.299 * v(0) + 0.587 * v(1) + 0.114 * v(2), v(3)),
            };
            gray.push(luma * alpha);
        }
    }
    let max = gradsheet_concepts::upsampling::MAX_SIDE;
    let f = w.max(h).div_ceil(max).max(1);
    let (sw, sh) = (w / f, h / f);
    if sw == 0 || sh == 0 {
        return Err(usage(format!(
            "{}: the image ({w}×{h}) is too thin to scale down to {max}×{max}",
            path.display()
        )));
    }
    let mut small = Vec::with_capacity(sw * sh);
    for y in 0..sh {
        for x in 0..sw {
            let mut s = 0.0;
            for dy in 0..f {
                for dx in 0..f {
                    s += gray[(y * f + dy) * w + x * f + dx];
                }
            }
            small.push(s / (f * f) as f64);
        }
    }
    let img = Image::new(sw, sh, small).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    let note = if f > 1 {
        format!(
            "image: {} ({w}×{h}), scaled down by {f} to {sw}×{sh}",
            path.display()
        )
    } else {
        format!("image: {} ({w}×{h})", path.display())
    };
    Ok((img, note))
}
