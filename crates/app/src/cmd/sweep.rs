//! `gradsheet sweep "<model>" --x-axis lr=1e-6..1e-3:40:log --y-axis beta1=0.5..0.99:20`:
//! a stability map of two settings, every cell a run, classified.

use anyhow::Result;
use gradsheet_diagnose::sweep::{sweep_on, Axis, Class, Map};
use gradsheet_report::chart;
use gradsheet_train::{Record, Trainer};
use serde_json::json;

use super::common::{ModelArgs, TrainArgs};
use super::usage;
use crate::output::cell;

/// Sweep a grid of two settings and print the stability map.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Axes: NAME=LO..HI:N[:log] or NAME=V1,V2,...; NAME is lr, beta1, beta2, init (a factor \
on every initial value), batch or epochs.

Classes: # converged (mean error fell tenfold), + slow (stable, not tenfold), ~ oscillating (the
epoch error went back up), x diverged.

Example:
  gradsheet sweep \"a*x+b\" --optimizer momentum --epochs 100 --x-axis lr=1e-6..1e-3:40:log --y-axis beta1=0.5..0.99:20"
)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub train: TrainArgs,
    /// The horizontal axis, e.g. lr=1e-6..1e-2:100:log.
    #[arg(long, value_name = "AXIS")]
    pub x_axis: String,
    /// The vertical axis, e.g. beta1=0.5..0.99:100 or batch=1,2,4,8,29.
    #[arg(long, value_name = "AXIS")]
    pub y_axis: String,
    /// Threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the table of final errors instead of the map of classes.
    #[arg(long)]
    pub errors: bool,
    /// Write every cell as CSV.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<std::path::PathBuf>,
    /// Write the map as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
    /// Draw the map as a chart: SVG, or PNG when FILE ends in .png.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<std::path::PathBuf>,
}

/// The most threads `--threads` starts (each has its own stack and run state).
const MAX_THREADS: usize = 256;

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    if let Some(t) = a.threads {
        if !(1..=MAX_THREADS).contains(&t) {
            return Err(usage(format!(
                "--threads {t}: from 1 to {MAX_THREADS} (default: every core)"
            )));
        }
    }
    let x = Axis::parse(&a.x_axis).map_err(usage)?;
    let y = Axis::parse(&a.y_axis).map_err(usage)?;
    let data = a.model.dataset()?;
    let model = a.model.model(&data)?;
    let init = a.model.init(&model)?;
    let cfg = a.train.config(a.model.seed, Record::Final)?;
    let trainer = Trainer::new(&model, &data).map_err(usage)?;
    let start = std::time::Instant::now();
    let map = sweep_on(a.threads, &trainer, &init, &cfg, &x, &y).map_err(usage)?;
    let took = start.elapsed();
    if let Some(path) = &a.csv {
        crate::output::write_atomic(path, map_csv(&map).as_bytes())?;
    }
    if let Some(path) = &a.json {
        crate::output::write_atomic(
            path,
            serde_json::to_string_pretty(&map_json(&map, &cfg.optimizer.to_string()))?.as_bytes(),
        )?;
    }
    if let Some(path) = &a.plot {
        let ch = chart::stability_map(
            map.x.setting.name(),
            map.y.setting.name(),
            x.values.clone(),
            y.values.clone(),
            map.drawn_errors(),
        );
        crate::output::write_chart(path, &ch, "map")?;
    }
    if a.errors {
        print!("{}", error_table(&map));
    } else {
        print!("{}", map_text(&map));
    }
    let c = map.counts();
    let said = format!(
        "{} runs of {} in {:.2} s: {} converged, {} slow, {} oscillating, {} diverged",
        map.cells.len(),
        cfg.optimizer,
        took.as_secs_f64(),
        c[Class::Converged as usize],
        c[Class::Slow as usize],
        c[Class::Oscillating as usize],
        c[Class::Diverged as usize]
    );
    println!("{}", crate::output::term::para(&said, ""));
    Ok(())
}

/// The map as characters: one row per y value (first at the top), one column per x value.
fn map_text(m: &Map) -> String {
    let ylab: Vec<String> = m.y.values.iter().map(|v| cell(*v, 4)).collect();
    let w = ylab
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(1)
        .max(m.y.setting.name().len());
    let mut out = format!(
        "{:>w$}  {} → ({} .. {})\n",
        m.y.setting.name(),
        m.x.setting.name(),
        cell(m.x.values[0], 4),
        cell(*m.x.values.last().unwrap_or(&0.0), 4)
    );
    for (j, lab) in ylab.iter().enumerate() {
        let row: String = (0..m.x.values.len())
            .map(|i| m.cell(i, j).class.symbol())
            .collect();
        out.push_str(&format!("{lab:>w$}  {row}\n"));
    }
    out.push_str("(# converged, + slow, ~ oscillating, x diverged)\n");
    out
}

fn error_table(m: &Map) -> String {
    let mut headers = vec![format!("{} \\ {}", m.y.setting.name(), m.x.setting.name())];
    headers.extend(m.x.values.iter().map(|v| cell(*v, 3)));
    let rows: Vec<Vec<String>> = (0..m.y.values.len())
        .map(|j| {
            let mut r = vec![cell(m.y.values[j], 4)];
            r.extend((0..m.x.values.len()).map(|i| {
                let c = m.cell(i, j);
                if c.class == Class::Diverged {
                    "diverged".to_string()
                } else {
                    cell(c.final_error, 3)
                }
            }));
            r
        })
        .collect();
    crate::output::table(&headers, &rows)
}

fn map_csv(m: &Map) -> String {
    let mut out = format!(
        "{},{},class,final_error,diverged_at\n",
        m.x.setting.name(),
        m.y.setting.name()
    );
    for c in &m.cells {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            c.x,
            c.y,
            c.class.name(),
            gradsheet_engine::format_number(c.final_error),
            c.diverged_at.map(|s| s.to_string()).unwrap_or_default()
        ));
    }
    out
}

fn map_json(m: &Map, optimizer: &str) -> serde_json::Value {
    json!({
        "optimizer": optimizer,
        "x": { "setting": m.x.setting.name(), "values": m.x.values },
        "y": { "setting": m.y.setting.name(), "values": m.y.values },
        "cells": m.cells.iter().map(|c| json!({
            "x": c.x, "y": c.y, "class": c.class.name(), "final_error": c.final_error, "diverged_at": c.diverged_at,
        })).collect::<Vec<_>>(),
    })
}
