//! `gradsheet collab --ratings ml-100k/u.data`: matrix factorisation (collaborative
//! filtering) on a ratings file of any size, trained through the general engine — the
//! collab workbook's model at MovieLens scale.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use gradsheet_jit::collab::{self, CollabConfig, Ratings, Tables};
use std::io::BufRead;

use super::common::{install_ctrlc, interrupted, progress_bar};
use super::usage;
use crate::output::cell;

/// Most factors: MovieLens-100k's 2,625 users and items at 1,024 factors take 86 MB of
/// tables, gradients and Adam state.
const MAX_K: usize = 1024;

/// Bytes of tables, gradients and Adam state per factor per user and item.
const TABLE_BYTES_PER_FACTOR: usize = 32;

/// The most memory the factor tables may take: 1 GiB (MovieLens-25M's 221,588 users and
/// items at 150 factors).
const MAX_TABLE_BYTES: usize = 1 << 30;

/// The most ratings read: 30 million (MovieLens-25M has 25 million), 16 bytes each, held
/// twice while they are split into training and held-out ratings.
const MAX_RATINGS: usize = 30_000_000;

/// Matrix factorisation on a ratings file (MovieLens's u.data, ratings.dat or ratings.csv).
#[derive(clap::Args, Debug)]
#[command(
    after_help = "The file: one rating a line as USER ITEM RATING [...], separated by tabs (MovieLens
100k's u.data), commas (ratings.csv, with or without a header) or '::' (MovieLens 1M). Users and
items may be any text; they are numbered in order of appearance.

The model is the collab workbook's: rating = user·item factors + user bias + item bias, trained with
mini-batches and torch.optim.Adam over the whole tables. Without --ratings, 100,000 synthetic
ratings shaped like MovieLens-100k (943 users, 1,682 items), seeded.

Examples:
  gradsheet collab --ratings ml-100k/u.data --epochs 5
  gradsheet collab --k 20 --batch 256 --lr 0.005 --csv epochs.csv"
)]
pub struct Args {
    /// The ratings file (default: synthetic MovieLens-100k-shaped ratings).
    #[arg(long, value_name = "FILE")]
    pub ratings: Option<std::path::PathBuf>,
    /// Factors per user and per item.
    #[arg(long, default_value_t = 50)]
    pub k: usize,
    /// Ratings per mini-batch.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Epochs.
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 0.01)]
    pub lr: f64,
    /// Adam's weight decay (L2 on every factor and bias, as torch.optim.Adam).
    #[arg(long, default_value_t = 0.0)]
    pub wd: f64,
    /// torch.optim.SparseAdam instead of Adam: only the users' and items' rows a batch
    /// touched move, so a step costs the batch and not the whole tables (MovieLens-1M
    /// and larger: an epoch of 1M ratings in under a second). No --wd.
    #[arg(long)]
    pub sparse: bool,
    /// Seed of the initial factors, the shuffles, the validation split and synthetic data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Fraction of the ratings held out to measure the error on ratings not trained on.
    #[arg(long, default_value_t = 0.2)]
    pub valid: f64,
    /// Write the epochs as CSV (epoch, train_mse, valid_mse, seconds).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<std::path::PathBuf>,
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    if a.k == 0 || a.batch == 0 || a.epochs == 0 {
        return Err(usage("--k, --batch and --epochs must be at least 1"));
    }
    if a.k > MAX_K {
        return Err(usage(format!(
            "--k {}: at most {MAX_K} factors (the tables, their gradients and Adam's state take 32 bytes per factor per user and item)",
            a.k
        )));
    }
    if !(a.lr.is_finite() && a.lr > 0.0) {
        return Err(usage(format!("--lr {} must be a positive number", a.lr)));
    }
    if !(a.wd.is_finite() && a.wd >= 0.0) {
        return Err(usage(format!(
            "--wd {} must be 0 or a positive number",
            a.wd
        )));
    }
    if a.sparse && a.wd != 0.0 {
        return Err(usage(format!(
            "--wd {} with --sparse: SparseAdam has no weight decay (torch's neither); drop one",
            a.wd
        )));
    }
    if !(0.0..1.0).contains(&a.valid) {
        return Err(usage(format!(
            "--valid {} must be a fraction from 0 up to (not including) 1",
            a.valid
        )));
    }
    let (data, source) = match &a.ratings {
        Some(path) => (read_ratings(path)?, path.display().to_string()),
        None => (
            Ratings::movielens_100k_shaped(a.seed),
            "synthetic MovieLens-100k-shaped ratings".to_string(),
        ),
    };
    let tables =
        a.k.saturating_mul(data.n_users + data.n_items)
            .saturating_mul(TABLE_BYTES_PER_FACTOR);
    if tables > MAX_TABLE_BYTES {
        return Err(usage(format!(
            "--k {} with {} users and {} items needs {} MiB of factor tables; the most is {} MiB (use a smaller --k)",
            a.k,
            data.n_users,
            data.n_items,
            tables >> 20,
            MAX_TABLE_BYTES >> 20
        )));
    }
    let (train, valid) = data.split(a.valid, a.seed);
    if train.triples.is_empty() {
        return Err(usage("no ratings left to train on"));
    }
    println!(
        "{source}: {} users, {} items; {} ratings to train on, {} held out",
        data.n_users,
        data.n_items,
        train.triples.len(),
        valid.triples.len()
    );
    let model = format!(
        "rating = u·m ({} factors) + user bias + item bias; batches of {}, torch {} lr {}{}",
        a.k,
        a.batch,
        if a.sparse { "SparseAdam" } else { "Adam" },
        a.lr,
        if a.wd > 0.0 {
            format!(", weight decay {}", a.wd)
        } else {
            String::new()
        }
    );
    println!("{}", crate::output::term::para(&model, ""));
    let cfg = CollabConfig {
        k: a.k,
        batch: a.batch,
        epochs: a.epochs,
        lr: a.lr,
        weight_decay: a.wd,
        seed: a.seed,
        sparse: a.sparse,
    };
    install_ctrlc();
    let bar = progress_bar(
        a.epochs as u64,
        "training [{bar:40}] epoch {pos}/{len} ({eta} left)",
    );
    let mut rows: Vec<[f64; 4]> = Vec::new();
    let mut last = Instant::now();
    let mut after_epoch = |epoch: usize, train_mse: f64, tables: &Tables| {
        let seconds = last.elapsed().as_secs_f64();
        let valid_mse = tables.mse(&valid);
        rows.push([epoch as f64, train_mse, valid_mse, seconds]);
        if let Some(b) = &bar {
            b.set_position(epoch as u64);
        }
        last = Instant::now();
        !interrupted()
    };
    collab::train_engine_with(&train, &cfg, &mut after_epoch)
        .map_err(|e| anyhow::anyhow!("cannot compile the model: {e}"))?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if rows.len() < a.epochs {
        println!(
            "interrupted after {} of {} epochs (Ctrl-C)",
            rows.len(),
            a.epochs
        );
    }
    let headers = ["epoch", "train mse", "valid mse", "seconds"].map(String::from);
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                format!("{}", r[0]),
                cell(r[1], 6),
                cell(r[2], 6),
                format!("{:.3}", r[3]),
            ]
        })
        .collect();
    print!("{}", crate::output::table(&headers, &table));
    println!(
        "{}",
        crate::output::term::para(
            "(train mse: the mean of the batches' errors during the epoch; valid mse: at its end)",
            ""
        )
    );
    if let Some(path) = &a.csv {
        let mut out = String::from("epoch,train_mse,valid_mse,seconds\n");
        for r in &rows {
            out.push_str(&format!(
                "{},{},{},{}\n",
                r[0],
                gradsheet_engine::format_number(r[1]),
                gradsheet_engine::format_number(r[2]),
                r[3]
            ));
        }
        crate::output::write_atomic(path, out.as_bytes())?;
    }
    Ok(())
}

/// Reads `USER ITEM RATING [...]` lines (tabs, commas or `::`), numbering users and items
/// in order of appearance. A first line whose rating is not a number is a header.
fn read_ratings(path: &Path) -> Result<Ratings> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    // Room for the ratings the file holds at most lines of 16 bytes each (MovieLens's
    // are 20 to 30): one allocation, on large pages where the system gives them (see
    // `Ratings::room`); room the file does not fill costs no memory.
    let room = f.metadata().map_or(0, |m| m.len() / 16);
    let room = usize::try_from(room)
        .unwrap_or(MAX_RATINGS)
        .min(MAX_RATINGS);
    parse_ratings_from(std::io::BufReader::new(f), MAX_RATINGS, room).map_err(|e| match e {
        ReadError::Io(e) => {
            anyhow::Error::new(e).context(format!("cannot read {}", path.display()))
        }
        ReadError::Bad(e) => usage(format!("{}: {e}", path.display())),
    })
}

enum ReadError {
    Io(std::io::Error),
    Bad(String),
}

impl From<String> for ReadError {
    fn from(e: String) -> Self {
        ReadError::Bad(e)
    }
}

#[cfg(test)]
fn parse_ratings(text: &str) -> std::result::Result<Ratings, String> {
    parse_ratings_from(text.as_bytes(), MAX_RATINGS, 0).map_err(|e| match e {
        ReadError::Io(e) => e.to_string(),
        ReadError::Bad(e) => e,
    })
}

/// Parses ratings line by line (the file is never held whole), keeping at most
/// `max_ratings`, with room made for `room` at first; a line is at most
/// [`crate::output::import::MAX_LINE_BYTES`].
fn parse_ratings_from(
    mut r: impl BufRead,
    max_ratings: usize,
    room: usize,
) -> std::result::Result<Ratings, ReadError> {
    use crate::output::import::MAX_LINE_BYTES;
    let mut users = std::collections::HashMap::new();
    let mut items = std::collections::HashMap::new();
    let mut triples = Ratings::room(room);
    let mut sep: Option<&str> = None;
    let mut buf = Vec::new();
    for k in 0.. {
        buf.clear();
        let n = std::io::Read::take(&mut r, MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(ReadError::Io)?;
        if n == 0 {
            break;
        }
        if buf.len() > MAX_LINE_BYTES && buf.last() != Some(&b'\n') {
            return Err(format!(
                "line {} is longer than {} MiB, the most gradsheet reads in one line",
                k + 1,
                MAX_LINE_BYTES >> 20
            )
            .into());
        }
        let line = std::str::from_utf8(&buf)
            .map_err(|_| format!("line {} is not UTF-8 text", k + 1))?
            .trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let sep = *sep.get_or_insert(if line.contains("::") {
            "::"
        } else if line.contains('\t') {
            "\t"
        } else if line.contains(',') {
            ","
        } else {
            return Err(
                "the first line has no tab, comma or '::' between user, item and rating"
                    .to_string()
                    .into(),
            );
        });
        let f: Vec<&str> = line.split(sep).map(str::trim).collect();
        if f.len() < 3 {
            return Err(format!(
                "line {}: expected USER{sep}ITEM{sep}RATING, found '{line}'",
                k + 1,
                sep = if sep == "\t" { "<tab>" } else { sep }
            )
            .into());
        }
        let rating = match f[2].parse::<f64>() {
            Ok(r) if r.is_finite() => r,
            _ if triples.is_empty() && users.is_empty() => continue, // a header
            _ => {
                return Err(
                    format!("line {}, third field: '{}' is not a rating", k + 1, f[2]).into(),
                )
            }
        };
        if triples.len() == max_ratings {
            return Err(format!(
                "more than {max_ratings} ratings, the most gradsheet reads (line {})",
                k + 1
            )
            .into());
        }
        let next = users.len() as u32;
        let u = *users.entry(f[0].to_string()).or_insert(next);
        let next = items.len() as u32;
        let i = *items.entry(f[1].to_string()).or_insert(next);
        triples.push((u, i, rating));
    }
    if triples.is_empty() {
        return Err("no ratings in the file".to_string().into());
    }
    Ok(Ratings {
        n_users: users.len(),
        n_items: items.len(),
        triples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movielens_formats_parse() {
        let r = parse_ratings("196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t1\t1\n")
            .unwrap();
        assert_eq!((r.n_users, r.n_items), (2, 2));
        assert_eq!(r.triples, vec![(0, 0, 3.0), (1, 1, 3.0), (0, 1, 1.0)]);
        let r =
            parse_ratings("userId,movieId,rating,timestamp\n1,31,2.5,1\n1,1029,3.0,1\n").unwrap();
        assert_eq!(r.triples, vec![(0, 0, 2.5), (0, 1, 3.0)]);
        let r = parse_ratings("1::1193::5::978300760\n").unwrap();
        assert_eq!(r.triples, vec![(0, 0, 5.0)]);
    }

    #[test]
    fn ratings_past_the_limits_are_refused_naming_the_limit() {
        let text = "1,2,3\n1,3,4\n2,2,5\n";
        let err = |r: std::result::Result<Ratings, ReadError>| match r {
            Err(ReadError::Bad(e)) => e,
            _ => panic!("expected a refusal"),
        };
        assert!(parse_ratings_from(text.as_bytes(), 3, 0).is_ok());
        assert_eq!(
            err(parse_ratings_from(text.as_bytes(), 2, 0)),
            "more than 2 ratings, the most gradsheet reads (line 3)"
        );
        // A stream that never ends a line (/dev/zero) stops at the line bound.
        let endless = std::io::repeat(b'0');
        assert_eq!(
            err(parse_ratings_from(std::io::BufReader::new(endless), 10, 0)),
            "line 1 is longer than 1 MiB, the most gradsheet reads in one line"
        );
    }

    #[test]
    fn bad_lines_are_named() {
        assert_eq!(
            parse_ratings("1\t2\t3\n1\t2\tfive\n").unwrap_err(),
            "line 2, third field: 'five' is not a rating"
        );
        assert_eq!(
            parse_ratings("1\t2\t3\n1\t2\n").unwrap_err(),
            "line 2: expected USER<tab>ITEM<tab>RATING, found '1\t2'"
        );
        assert_eq!(
            parse_ratings("1 2 3\n").unwrap_err(),
            "the first line has no tab, comma or '::' between user, item and rating"
        );
        assert_eq!(
            parse_ratings("a,b,c\n").unwrap_err(),
            "no ratings in the file"
        );
    }
}
