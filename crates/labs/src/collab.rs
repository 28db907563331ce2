//! collab_filter.xlsx (docs/workbooks.md §5): matrix factorisation, in every workbook version, as a
//! crosstab (dotprod, bias), as embedding lookups (movielens_emb, word_emb) and as
//! one-hot matrix products (movielens_1hot); plus training (SGD, Adam, and L-BFGS
//! standing in for Excel Solver), a seeded MovieLens-100k-shaped generator and a
//! parser for MovieLens `u.data`.

use crate::data::{cells, embed, matrix, opt_matrix};
use crate::excel::{average, match_sorted, match_text, sum, sumproduct};
use crate::optim::{lbfgs, AdamConfig, AdamState, LbfgsConfig};
use crate::LabError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A 2-D block of cells.
pub type Grid = Vec<Vec<f64>>;

/// Which copy of the workbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// fastai/course-v3 (2018): Solver-optimised factors.
    CourseV3,
    /// fastai/courses (2016): random factors; the bias loss has no /COUNT.
    Courses,
    /// fastai/course22 (2022): random factors; the bias sheet uses SINGLE (blanks → 0).
    Course22,
}

/// The dotprod crosstab: 15 users × 15 movies, 206 ratings and 19 blanks.
#[derive(Clone, Debug, PartialEq)]
pub struct Crosstab {
    /// User ids (G2:G16), ascending.
    pub users: Vec<f64>,
    /// Movie ids (H1:V1), ascending.
    pub movies: Vec<f64>,
    /// Ratings (H2:V16), `None` = blank.
    pub ratings: Vec<Vec<Option<f64>>>,
}

impl Crosstab {
    /// The observed ratings as (user index, movie index, rating), row-major.
    pub fn triples(&self) -> Vec<(usize, usize, f64)> {
        self.ratings
            .iter()
            .enumerate()
            .flat_map(|(u, r)| {
                r.iter()
                    .enumerate()
                    .filter_map(move |(m, v)| v.map(|v| (u, m, v)))
            })
            .collect()
    }
}

fn src(v: Version, what: &str) -> &'static str {
    use Version::*;
    match (v, what) {
        (CourseV3, "ratings") => embed!("collab_v3_ratings"),
        (CourseV3, "dot_m") => embed!("collab_v3_dotprod_movies"),
        (CourseV3, "dot_u") => embed!("collab_v3_dotprod_users"),
        (CourseV3, "bias_m") => embed!("collab_v3_bias_movies"),
        (CourseV3, "bias_u") => embed!("collab_v3_bias_users"),
        (CourseV3, "emb_r") => embed!("collab_v3_emb_records"),
        (CourseV3, "emb_u") => embed!("collab_v3_emb_users"),
        (CourseV3, "emb_m") => embed!("collab_v3_emb_movies"),
        (CourseV3, "vocab") => embed!("collab_v3_word_vocab"),
        (CourseV3, "text") => embed!("collab_v3_word_text"),
        (Courses, "ratings") => embed!("collab_c16_ratings"),
        (Courses, "dot_m") => embed!("collab_c16_dotprod_movies"),
        (Courses, "dot_u") => embed!("collab_c16_dotprod_users"),
        (Courses, "bias_m") => embed!("collab_c16_bias_movies"),
        (Courses, "bias_u") => embed!("collab_c16_bias_users"),
        (Courses, "emb_r") => embed!("collab_c16_emb_records"),
        (Courses, "emb_u") => embed!("collab_c16_emb_users"),
        (Courses, "emb_m") => embed!("collab_c16_emb_movies"),
        (Courses, "vocab") => embed!("collab_c16_word_vocab"),
        (Courses, "text") => embed!("collab_c16_word_text"),
        // Not shipped (crate::material): empty without the user's copy, which
        // `Version::available` reports before a lab reads anything.
        (Course22, what) => course22(what),
        _ => "",
    }
}

fn course22(what: &str) -> &'static str {
    let key = match what {
        "ratings" => "collab_c22_ratings",
        "dot_m" => "collab_c22_dotprod_movies",
        "dot_u" => "collab_c22_dotprod_users",
        "bias_m" => "collab_c22_bias_movies",
        "bias_u" => "collab_c22_bias_users",
        "emb_r" => "collab_c22_emb_records",
        "emb_u" => "collab_c22_emb_users",
        "emb_m" => "collab_c22_emb_movies",
        "vocab" => "collab_c22_word_vocab",
        "text" => "collab_c22_word_text",
        _ => return "",
    };
    crate::material::get(key).unwrap_or("")
}

impl Version {
    /// Whether this copy's numbers are here: course-v3's and courses' ship with
    /// gradsheet; course22's are read from the user's copy ([`crate::material`]), and
    /// without it every function of this module sees blank sheets.
    ///
    /// # Errors
    ///
    /// [`LabError::Missing`] for course22 without its material.
    pub fn available(self) -> Result<(), LabError> {
        if self == Version::Course22 {
            for r in crate::material::COURSE22 {
                if r.key.starts_with("collab_c22") {
                    crate::material::get(r.key)?;
                }
            }
        }
        Ok(())
    }
}

/// The embedded crosstab of a version.
pub fn crosstab(v: Version) -> Crosstab {
    let m = opt_matrix(src(v, "ratings"));
    let movies = m
        .first()
        .map(|r| r.iter().skip(1).flatten().copied().collect())
        .unwrap_or_default();
    let users = m
        .iter()
        .skip(1)
        .map(|r| r.first().copied().flatten().unwrap_or(0.0))
        .collect();
    let ratings = m
        .iter()
        .skip(1)
        .map(|r| r.iter().skip(1).copied().collect())
        .collect();
    Crosstab {
        users,
        movies,
        ratings,
    }
}

/// The saved factors of the dotprod sheet: (user factors 15×5 from B25:F39, movie
/// factors 5×15 from H19:V23).
pub fn dotprod_factors(v: Version) -> (Grid, Grid) {
    (matrix(src(v, "dot_u")), matrix(src(v, "dot_m")))
}

/// The saved parameters of the bias sheet: (user bias A26:A40, user factors B26:F40,
/// movie bias H19:V19, movie factors H20:V24).
pub fn bias_params(v: Version) -> (Vec<f64>, Grid, Vec<f64>, Grid) {
    let u = matrix(src(v, "bias_u"));
    let m = matrix(src(v, "bias_m"));
    let ub = u.iter().map(|r| r[0]).collect();
    let uf = u.iter().map(|r| r[1..].to_vec()).collect();
    let mb = m.first().cloned().unwrap_or_default();
    let mf = m.iter().skip(1).cloned().collect();
    (ub, uf, mb, mf)
}

/// A sheet's predictions and loss.
#[derive(Clone, Debug, PartialEq)]
pub struct Predictions {
    /// The prediction block (15×15): dotprod H25:V39, bias H26:V40.
    pub preds: Grid,
    /// The loss cell: dotprod V41, bias V42.
    pub loss: f64,
}

fn check_shapes(t: &Crosstab, users: &[Vec<f64>], movies: &[Vec<f64>]) -> Result<usize, LabError> {
    let k = movies.len();
    if users.len() != t.ratings.len() || users.iter().any(|r| r.len() != k) {
        return Err(LabError::Shape(format!(
            "user factors must be {}×{k}",
            t.ratings.len()
        )));
    }
    let n = t.ratings.first().map_or(0, |r| r.len());
    if movies.iter().any(|r| r.len() != n) || t.ratings.iter().any(|r| r.len() != n) {
        return Err(LabError::Shape(format!("movie factors must be {k}×{n}")));
    }
    Ok(k)
}

/// `MMULT(user row, movie column)`: Σₖ u[k]·m[k][j], accumulated over k.
fn dot_col(u: &[f64], movies: &[Vec<f64>], j: usize) -> f64 {
    sum(u.iter().zip(movies).map(|(a, m)| a * m[j]))
}

/// `SUMXMY2(ratings, preds)`: Σ (r − p)² over the pairs whose rating is not blank,
/// row-major.
fn sumxmy2(t: &Crosstab, preds: &[Vec<f64>]) -> f64 {
    sum(t.ratings.iter().zip(preds).flat_map(|(r, p)| {
        r.iter()
            .zip(p)
            .filter_map(|(r, p)| r.map(|r| (r - p) * (r - p)))
    }))
}

fn count(t: &Crosstab) -> f64 {
    t.ratings.iter().flatten().flatten().count() as f64
}

/// The dotprod sheet: `IF(r="",0,MMULT(user,movie))` and
/// `SQRT(SUMXMY2(ratings,preds)/COUNT(ratings))`.
///
/// # Errors
///
/// [`LabError::Shape`] when the factor shapes do not fit the crosstab.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::collab::{crosstab, dotprod, dotprod_factors, Version};
/// let v = Version::CourseV3;
/// let (u, m) = dotprod_factors(v);
/// let p = dotprod(&crosstab(v), &u, &m).unwrap();
/// assert!((p.loss - 0.3930154712865702).abs() < 1e-15);
/// ```
pub fn dotprod(
    t: &Crosstab,
    users: &[Vec<f64>],
    movies: &[Vec<f64>],
) -> Result<Predictions, LabError> {
    check_shapes(t, users, movies)?;
    let preds: Grid = t
        .ratings
        .iter()
        .zip(users)
        .map(|(r, u)| {
            r.iter()
                .enumerate()
                .map(|(j, v)| {
                    if v.is_none() {
                        0.0
                    } else {
                        dot_col(u, movies, j)
                    }
                })
                .collect()
        })
        .collect();
    let loss = (sumxmy2(t, &preds) / count(t)).sqrt();
    Ok(Predictions { preds, loss })
}

/// The bias sheet: `IF(r="",0,MMULT(..))+movie_bias+user_bias` and its loss, with the
/// version quirks:
/// * course-v3 and courses add the biases to **blank** cells too (harmless: SUMXMY2
///   skips them); course22's `SINGLE(IF(r="",0,…))` leaves blanks at 0.
/// * courses' loss is `SQRT(SUMXMY2(..))` **without /COUNT** (≈ 28.96).
///
/// # Errors
///
/// [`LabError::Shape`] when the shapes do not fit the crosstab.
pub fn bias(
    t: &Crosstab,
    user_bias: &[f64],
    users: &[Vec<f64>],
    movie_bias: &[f64],
    movies: &[Vec<f64>],
    v: Version,
) -> Result<Predictions, LabError> {
    check_shapes(t, users, movies)?;
    let n = t.ratings.first().map_or(0, |r| r.len());
    if user_bias.len() != users.len() || movie_bias.len() != n {
        return Err(LabError::Shape("one bias per user and per movie".into()));
    }
    let preds: Grid = t
        .ratings
        .iter()
        .zip(users.iter().zip(user_bias))
        .map(|(r, (u, ub))| {
            r.iter()
                .enumerate()
                .map(|(j, cell)| match (cell, v) {
                    (None, Version::Course22) => 0.0,
                    (None, _) => 0.0 + movie_bias[j] + ub,
                    (Some(_), _) => dot_col(u, movies, j) + movie_bias[j] + ub,
                })
                .collect()
        })
        .collect();
    let s = sumxmy2(t, &preds);
    let loss = if v == Version::Courses {
        s.sqrt()
    } else {
        (s / count(t)).sqrt()
    };
    Ok(Predictions { preds, loss })
}

/// The dotprod sheet of a version, from its saved factors.
pub fn dotprod_sheet(v: Version) -> Predictions {
    let (u, m) = dotprod_factors(v);
    dotprod(&crosstab(v), &u, &m).unwrap_or(Predictions {
        preds: Vec::new(),
        loss: f64::NAN,
    })
}

/// The bias sheet of a version, from its saved parameters.
pub fn bias_sheet(v: Version) -> Predictions {
    let (ub, uf, mb, mf) = bias_params(v);
    bias(&crosstab(v), &ub, &uf, &mb, &mf, v).unwrap_or(Predictions {
        preds: Vec::new(),
        loss: f64::NAN,
    })
}

/// An id → embedding table (movielens_emb B:G, word_emb B:G).
#[derive(Clone, Debug, PartialEq)]
pub struct EmbTable<K> {
    /// Keys, ascending (MATCH does a binary search).
    pub keys: Vec<K>,
    /// One embedding row per key.
    pub emb: Grid,
}

/// One record of movielens_emb (I:Y) or movielens_1hot.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbRow {
    /// userId, movieId, rating.
    pub record: (f64, f64, f64),
    /// `MATCH(userId, user ids)` (1-based).
    pub user_idx: usize,
    /// The user's embedding (`OFFSET`).
    pub user_emb: Vec<f64>,
    /// `MATCH(movieId, movie ids)`.
    pub movie_idx: usize,
    /// The movie's embedding.
    pub movie_emb: Vec<f64>,
    /// `SUMPRODUCT(user_emb, movie_emb)`.
    pub pred: f64,
    /// (rating − pred)².
    pub err2: f64,
}

/// movielens_emb: the same model as dotprod, as a table of lookups.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbSheet {
    /// The 206 records.
    pub rows: Vec<EmbRow>,
    /// `SQRT(AVERAGE(err²))`.
    pub rmse: f64,
}

/// Looks each record up (`MATCH` then `OFFSET` = an embedding lookup) and predicts.
///
/// # Errors
///
/// [`LabError::Invalid`] when an id is not in its table (`#N/A` in Excel).
///
/// # Examples
///
/// ```
/// use gradsheet_labs::collab::{movielens_emb, EmbTable};
/// let users = EmbTable { keys: vec![1.0, 2.0], emb: vec![vec![1.0, 0.0], vec![0.0, 2.0]] };
/// let movies = EmbTable { keys: vec![7.0], emb: vec![vec![3.0, 1.0]] };
/// let s = movielens_emb(&[(2.0, 7.0, 2.0)], &users, &movies).unwrap();
/// assert_eq!(s.rows[0].pred, 2.0);
/// assert_eq!(s.rmse, 0.0);
/// ```
pub fn movielens_emb(
    records: &[(f64, f64, f64)],
    users: &EmbTable<f64>,
    movies: &EmbTable<f64>,
) -> Result<EmbSheet, LabError> {
    let look = |t: &EmbTable<f64>, k: f64, what: &str| -> Result<(usize, Vec<f64>), LabError> {
        match_sorted(&t.keys, k)
            .filter(|i| t.keys[i - 1] == k)
            .and_then(|i| t.emb.get(i - 1).map(|e| (i, e.clone())))
            .ok_or_else(|| LabError::Invalid(format!("{what} {k} is not in the table")))
    };
    let mut rows = Vec::with_capacity(records.len());
    for &(u, m, r) in records {
        let (user_idx, user_emb) = look(users, u, "user")?;
        let (movie_idx, movie_emb) = look(movies, m, "movie")?;
        let pred = sumproduct(&user_emb, &movie_emb);
        rows.push(EmbRow {
            record: (u, m, r),
            user_idx,
            user_emb,
            movie_idx,
            movie_emb,
            pred,
            err2: (r - pred) * (r - pred),
        });
    }
    let errs: Vec<f64> = rows.iter().map(|r| r.err2).collect();
    Ok(EmbSheet {
        rmse: average(&errs).sqrt(),
        rows,
    })
}

fn table(srcs: &str) -> EmbTable<f64> {
    let m = matrix(srcs);
    EmbTable {
        keys: m.iter().map(|r| r[0]).collect(),
        emb: m.iter().map(|r| r[1..].to_vec()).collect(),
    }
}

fn records(srcs: &str) -> Vec<(f64, f64, f64)> {
    matrix(srcs)
        .into_iter()
        .map(|r| (r[0], r[1], r[2]))
        .collect()
}

/// The movielens_emb sheet of a version, from its embedded records and tables.
pub fn movielens_emb_sheet(v: Version) -> EmbSheet {
    movielens_emb(
        &records(src(v, "emb_r")),
        &table(src(v, "emb_u")),
        &table(src(v, "emb_m")),
    )
    .unwrap_or(EmbSheet {
        rows: Vec::new(),
        rmse: f64::NAN,
    })
}

/// One record of movielens_1hot: the one-hot vectors and their products.
#[derive(Clone, Debug, PartialEq)]
pub struct OneHotRow {
    /// userId, movieId, user idx, movie idx, rating (I:M).
    pub record: (f64, f64, usize, usize, f64),
    /// O:AC, `IF(idx=k,1,0)`.
    pub user_1hot: Vec<f64>,
    /// AE:AI, `MMULT(one-hot, user table)`: the embedding, as a matrix product.
    pub user_emb: Vec<f64>,
    /// AK:AY.
    pub movie_1hot: Vec<f64>,
    /// BA:BE.
    pub movie_emb: Vec<f64>,
    /// BG, `SUMPRODUCT`.
    pub pred: f64,
    /// BH, (pred − rating)².
    pub err2: f64,
}

/// `MMULT(row vector, matrix)` over k, sequentially.
fn vec_mat(x: &[f64], m: &[Vec<f64>]) -> Vec<f64> {
    let cols = m.first().map_or(0, |r| r.len());
    (0..cols)
        .map(|j| {
            sum(x
                .iter()
                .zip(m)
                .map(|(a, r)| a * r.get(j).copied().unwrap_or(0.0)))
        })
        .collect()
}

/// movielens_1hot (course-v3): one-hot × embedding matrix = embedding lookup.
///
/// # Errors
///
/// [`LabError::Invalid`] when an index is outside 1..=rows of its table.
pub fn movielens_1hot(
    records: &[(f64, f64, usize, usize, f64)],
    users: &[Vec<f64>],
    movies: &[Vec<f64>],
) -> Result<(Vec<OneHotRow>, f64), LabError> {
    let onehot = |i: usize, n: usize, what: &str| -> Result<Vec<f64>, LabError> {
        if i == 0 || i > n {
            return Err(LabError::Invalid(format!(
                "{what} index {i} outside 1..={n}"
            )));
        }
        Ok((1..=n).map(|k| if k == i { 1.0 } else { 0.0 }).collect())
    };
    let mut rows = Vec::with_capacity(records.len());
    for &rec in records {
        let user_1hot = onehot(rec.2, users.len(), "user")?;
        let movie_1hot = onehot(rec.3, movies.len(), "movie")?;
        let user_emb = vec_mat(&user_1hot, users);
        let movie_emb = vec_mat(&movie_1hot, movies);
        let pred = sumproduct(&user_emb, &movie_emb);
        rows.push(OneHotRow {
            record: rec,
            user_1hot,
            user_emb,
            movie_1hot,
            movie_emb,
            pred,
            err2: (pred - rec.4) * (pred - rec.4),
        });
    }
    let errs: Vec<f64> = rows.iter().map(|r| r.err2).collect();
    Ok((rows, average(&errs).sqrt()))
}

/// The course-v3 movielens_1hot sheet. The user and movie indices are
/// `MATCH`ed against the ascending ids of the crosstab.
pub fn movielens_1hot_sheet() -> (Vec<OneHotRow>, f64) {
    let t = crosstab(Version::CourseV3);
    let recs: Vec<(f64, f64, usize, usize, f64)> = matrix(embed!("collab_v3_1hot_records"))
        .into_iter()
        .map(|r| {
            // The records are the crosstab's non-blank cells: their ids are its labels.
            let ui = match_sorted(&t.users, r[0]).expect("a user of the crosstab");
            let mi = match_sorted(&t.movies, r[1]).expect("a movie of the crosstab");
            (r[0], r[1], ui, mi, r[4])
        })
        .collect();
    movielens_1hot(
        &recs,
        &matrix(embed!("collab_v3_1hot_users")),
        &matrix(embed!("collab_v3_1hot_movies")),
    )
    .unwrap_or((Vec::new(), f64::NAN))
}

/// word_emb: each token of *Green Eggs and Ham* looked up in a 14-word vocabulary.
#[derive(Clone, Debug, PartialEq)]
pub struct WordEmb {
    /// The vocabulary (B4:B17, sorted case-insensitively) and embeddings (C4:G17).
    pub vocab: EmbTable<String>,
    /// (token, `MATCH` position, embedding) for I3:O50.
    pub tokens: Vec<(String, usize, Vec<f64>)>,
}

/// Looks tokens up in a vocabulary with Excel's case-insensitive `MATCH`.
///
/// # Errors
///
/// [`LabError::Invalid`] for a token that is not in the vocabulary.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::collab::{word_emb, EmbTable};
/// let vocab = EmbTable { keys: vec!["am".to_string(), "Sam".to_string()], emb: vec![vec![1.0], vec![2.0]] };
/// let w = word_emb(&vocab, &["sam", "am"]).unwrap();
/// assert_eq!(w.tokens[0].1, 2);
/// ```
pub fn word_emb(vocab: &EmbTable<String>, text: &[&str]) -> Result<WordEmb, LabError> {
    let tokens = text
        .iter()
        .map(|w| {
            let i = match_text(&vocab.keys, w)
                .filter(|i| vocab.keys[i - 1].eq_ignore_ascii_case(w))
                .ok_or_else(|| LabError::Invalid(format!("{w:?} is not in the vocabulary")))?;
            let e = vocab
                .emb
                .get(i - 1)
                .cloned()
                .ok_or_else(|| LabError::Shape(format!("no embedding row for {w:?}")))?;
            Ok((w.to_string(), i, e))
        })
        .collect::<Result<_, LabError>>()?;
    Ok(WordEmb {
        vocab: vocab.clone(),
        tokens,
    })
}

/// The word_emb sheet of a version.
pub fn word_emb_sheet(v: Version) -> WordEmb {
    let c = cells(src(v, "vocab"));
    let vocab = EmbTable {
        keys: c.iter().map(|r| r[0].to_string()).collect(),
        emb: c
            .iter()
            .map(|r| r[1..].iter().map(|x| x.parse().unwrap_or(0.0)).collect())
            .collect(),
    };
    let text: Vec<&str> = src(v, "text").lines().collect();
    word_emb(&vocab, &text).unwrap_or(WordEmb {
        vocab,
        tokens: Vec::new(),
    })
}

// ---------------------------------------------------------------------------------
// Training

/// The factor model `r̂ = uᵤ·mᵢ (+ bᵤ + bᵢ)`.
///
/// Parameters are one flat vector: user factors (n_users·k), item factors (n_items·k),
/// then, with `bias`, user biases (n_users) and item biases (n_items).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FactorModel {
    /// Number of users.
    pub n_users: usize,
    /// Number of items.
    pub n_items: usize,
    /// Latent factors per user/item.
    pub k: usize,
    /// Whether the model has a bias per user and per item.
    pub bias: bool,
}

impl FactorModel {
    /// Length of the parameter vector.
    pub fn n_params(&self) -> usize {
        (self.n_users + self.n_items) * (self.k + usize::from(self.bias))
    }

    fn predict(&self, p: &[f64], u: usize, i: usize) -> f64 {
        let k = self.k;
        let iu = u * k;
        let ii = (self.n_users + i) * k;
        let mut r = sum((0..k).map(|d| p[iu + d] * p[ii + d]));
        if self.bias {
            let b = (self.n_users + self.n_items) * k;
            // Same order as the sheet: (dot + movie bias) + user bias.
            r = r + p[b + self.n_users + i] + p[b + u];
        }
        r
    }

    fn check(&self, p: &[f64], data: &[(usize, usize, f64)]) -> Result<(), LabError> {
        if p.len() != self.n_params() {
            return Err(LabError::Shape(format!(
                "{} parameters, expected {}",
                p.len(),
                self.n_params()
            )));
        }
        if let Some(&(u, i, _)) = data
            .iter()
            .find(|(u, i, _)| *u >= self.n_users || *i >= self.n_items)
        {
            return Err(LabError::Invalid(format!(
                "rating ({u}, {i}) outside the model"
            )));
        }
        Ok(())
    }

    /// Mean squared error over the ratings and its hand-derived gradient:
    /// with e = r̂ − r, ∂/∂uᵤ = (2/n)·Σ e·mᵢ, ∂/∂mᵢ = (2/n)·Σ e·uᵤ and ∂/∂b = (2/n)·Σ e.
    ///
    /// # Errors
    ///
    /// [`LabError::Shape`] for a parameter vector of the wrong length,
    /// [`LabError::Invalid`] for a rating outside the model.
    pub fn mse_grad(
        &self,
        p: &[f64],
        data: &[(usize, usize, f64)],
    ) -> Result<(f64, Vec<f64>), LabError> {
        self.check(p, data)?;
        Ok(self.mse_grad_unchecked(p, data))
    }

    fn mse_grad_unchecked(&self, p: &[f64], data: &[(usize, usize, f64)]) -> (f64, Vec<f64>) {
        let n = data.len().max(1) as f64;
        let k = self.k;
        let mut g = vec![0.0; p.len()];
        let mut loss = 0.0;
        for &(u, i, r) in data {
            let e = self.predict(p, u, i) - r;
            loss += e * e;
            let s = 2.0 * e / n;
            let (iu, ii) = (u * k, (self.n_users + i) * k);
            for d in 0..k {
                g[iu + d] += s * p[ii + d];
                g[ii + d] += s * p[iu + d];
            }
            if self.bias {
                let b = (self.n_users + self.n_items) * k;
                g[b + u] += s;
                g[b + self.n_users + i] += s;
            }
        }
        (loss / n, g)
    }

    /// Root mean squared error (the sheets' loss).
    ///
    /// # Errors
    ///
    /// As for [`FactorModel::mse_grad`].
    pub fn rmse(&self, p: &[f64], data: &[(usize, usize, f64)]) -> Result<f64, LabError> {
        self.check(p, data)?;
        let errs: Vec<f64> = data
            .iter()
            .map(|&(u, i, r)| (r - self.predict(p, u, i)).powi(2))
            .collect();
        Ok(average(&errs).sqrt())
    }

    /// A seeded random start, uniform in [0, scale) like the sheets' `RAND()`.
    pub fn init(&self, seed: u64, scale: f64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..self.n_params())
            .map(|_| rng.gen::<f64>() * scale)
            .collect()
    }
}

/// The model and data of a sheet: dotprod (`bias = false`) or bias, with the saved
/// parameters laid out as [`FactorModel`] expects.
pub fn sheet_problem(
    v: Version,
    with_bias: bool,
) -> (FactorModel, Vec<(usize, usize, f64)>, Vec<f64>) {
    let t = crosstab(v);
    let data = t.triples();
    let (ub, uf, mb, mf) = if with_bias {
        bias_params(v)
    } else {
        let (u, m) = dotprod_factors(v);
        (Vec::new(), u, Vec::new(), m)
    };
    let k = mf.len();
    let model = FactorModel {
        n_users: uf.len(),
        n_items: t.movies.len(),
        k,
        bias: with_bias,
    };
    let mut p: Vec<f64> = uf.concat();
    for i in 0..model.n_items {
        p.extend(mf.iter().map(|r| r[i]));
    }
    p.extend(ub);
    p.extend(mb);
    (model, data, p)
}

/// The loss after each epoch of a training run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainResult {
    /// The final parameters.
    pub params: Vec<f64>,
    /// RMSE at the start and after each epoch/iteration.
    pub rmse: Vec<f64>,
}

/// Full-batch gradient descent with momentum `beta` (0 = plain SGD).
///
/// # Errors
///
/// As for [`FactorModel::mse_grad`].
pub fn train_sgd(
    m: &FactorModel,
    data: &[(usize, usize, f64)],
    p0: &[f64],
    lr: f64,
    beta: f64,
    epochs: usize,
) -> Result<TrainResult, LabError> {
    m.check(p0, data)?;
    let mut p = p0.to_vec();
    let mut vel = vec![0.0; p.len()];
    let mut rmse = vec![m.mse_grad_unchecked(&p, data).0.sqrt()];
    for _ in 0..epochs {
        let (_, g) = m.mse_grad_unchecked(&p, data);
        for ((pi, vi), gi) in p.iter_mut().zip(&mut vel).zip(&g) {
            *vi = beta * *vi + gi;
            *pi -= lr * *vi;
        }
        rmse.push(m.mse_grad_unchecked(&p, data).0.sqrt());
    }
    Ok(TrainResult { params: p, rmse })
}

/// Full-batch Adam.
///
/// # Errors
///
/// As for [`FactorModel::mse_grad`].
pub fn train_adam(
    m: &FactorModel,
    data: &[(usize, usize, f64)],
    p0: &[f64],
    cfg: &AdamConfig,
    epochs: usize,
) -> Result<TrainResult, LabError> {
    m.check(p0, data)?;
    let mut p = p0.to_vec();
    let mut st = AdamState::new(p.len());
    let mut rmse = vec![m.mse_grad_unchecked(&p, data).0.sqrt()];
    for _ in 0..epochs {
        let (_, g) = m.mse_grad_unchecked(&p, data);
        st.step(cfg, &mut p, &g);
        rmse.push(m.mse_grad_unchecked(&p, data).0.sqrt());
    }
    Ok(TrainResult { params: p, rmse })
}

/// The Solver stand-in: L-BFGS on the mean squared error (same minimiser as the
/// sheets' RMSE, but smooth at 0).
///
/// # Errors
///
/// As for [`FactorModel::mse_grad`].
pub fn train_lbfgs(
    m: &FactorModel,
    data: &[(usize, usize, f64)],
    p0: &[f64],
    cfg: &LbfgsConfig,
) -> Result<TrainResult, LabError> {
    m.check(p0, data)?;
    let r = lbfgs(|p| m.mse_grad_unchecked(p, data), p0, cfg);
    Ok(TrainResult {
        params: r.x,
        rmse: r.history.iter().map(|f| f.sqrt()).collect(),
    })
}

// ---------------------------------------------------------------------------------
// MovieLens data

/// One MovieLens rating (a line of `u.data`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rating {
    /// User id (1-based in MovieLens).
    pub user: u32,
    /// Item id (1-based).
    pub item: u32,
    /// The rating, 1–5.
    pub rating: f64,
    /// Unix seconds.
    pub timestamp: u64,
}

/// Parses MovieLens `u.data`: one rating a line, `user<TAB>item<TAB>rating<TAB>timestamp`.
/// Empty lines are skipped; a trailing `\r` is tolerated.
///
/// # Errors
///
/// [`LabError::Parse`] with the 1-based line and field of the first bad value: a
/// missing or extra field, a non-numeric id, a rating outside 1..=5 or a bad timestamp.
///
/// # Examples
///
/// ```
/// use gradsheet_labs::collab::parse_u_data;
/// let r = parse_u_data("196\t242\t3\t881250949\n186\t302\t3\t891717742\n").unwrap();
/// assert_eq!((r[0].user, r[0].item, r[0].rating), (196, 242, 3.0));
/// let e = parse_u_data("1\t2\tx\t3").unwrap_err();
/// assert_eq!(e.to_string(), "line 1, field 3 (rating): expected a number, found \"x\"");
/// ```
pub fn parse_u_data(text: &str) -> Result<Vec<Rating>, LabError> {
    const NAMES: [&str; 4] = ["user", "item", "rating", "timestamp"];
    let mut out = Vec::new();
    for (ln, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let err = |field: usize, message: String| LabError::Parse {
            line: ln + 1,
            field: field + 1,
            name: NAMES.get(field).copied().unwrap_or("extra"),
            message,
        };
        if fields.len() < 4 {
            return Err(err(
                fields.len(),
                "missing field (expected 4 tab-separated fields)".into(),
            ));
        }
        if fields.len() > 4 {
            return Err(err(4, format!("unexpected field {:?}", fields[4])));
        }
        let int = |f: usize| -> Result<u64, LabError> {
            fields[f].trim().parse::<u64>().map_err(|_| {
                err(
                    f,
                    format!("expected a non-negative integer, found {:?}", fields[f]),
                )
            })
        };
        let user = int(0)?;
        let item = int(1)?;
        let rating: f64 = fields[2]
            .trim()
            .parse()
            .map_err(|_| err(2, format!("expected a number, found {:?}", fields[2])))?;
        if !(1.0..=5.0).contains(&rating) {
            return Err(err(2, format!("rating {rating} outside 1..=5")));
        }
        let timestamp = int(3)?;
        let id =
            |v: u64, f: usize| u32::try_from(v).map_err(|_| err(f, format!("id {v} too large")));
        out.push(Rating {
            user: id(user, 0)?,
            item: id(item, 1)?,
            rating,
            timestamp,
        });
    }
    Ok(out)
}

/// The shape of MovieLens 100k.
pub const ML100K_USERS: u32 = 943;
/// Items in MovieLens 100k.
pub const ML100K_ITEMS: u32 = 1682;
/// Ratings in MovieLens 100k.
pub const ML100K_RATINGS: usize = 100_000;

/// A seeded synthetic dataset shaped like MovieLens 100k: 943 users, 1,682 items,
/// 100,000 distinct (user, item) ratings in 1..=5, every user with at least 20 ratings
/// (as in the real set). Ratings come from a hidden 3-factor model with biases and
/// noise, rounded and clipped, so a factor model can learn them. Deterministic given
/// the seed (ChaCha8).
///
/// # Examples
///
/// ```
/// let a = gradsheet_labs::collab::synthetic_movielens(7);
/// assert_eq!(a.len(), 100_000);
/// assert_eq!(a, gradsheet_labs::collab::synthetic_movielens(7));
/// ```
pub fn synthetic_movielens(seed: u64) -> Vec<Rating> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (nu, ni) = (ML100K_USERS as usize, ML100K_ITEMS as usize);
    let normal = |rng: &mut ChaCha8Rng| {
        // Box–Muller: two uniforms → one standard normal.
        let u1: f64 = 1.0 - rng.gen::<f64>();
        let u2: f64 = rng.gen::<f64>();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    };
    let k = 3;
    let uf: Vec<f64> = (0..nu * k).map(|_| 0.6 * normal(&mut rng)).collect();
    let itf: Vec<f64> = (0..ni * k).map(|_| 0.6 * normal(&mut rng)).collect();
    let ub: Vec<f64> = (0..nu).map(|_| 0.4 * normal(&mut rng)).collect();
    let ib: Vec<f64> = (0..ni).map(|_| 0.5 * normal(&mut rng)).collect();
    let mut seen = vec![false; nu * ni];
    let mut pairs = Vec::with_capacity(ML100K_RATINGS);
    let mut add = |u: usize, i: usize, pairs: &mut Vec<(usize, usize)>| {
        if !seen[u * ni + i] {
            seen[u * ni + i] = true;
            pairs.push((u, i));
            true
        } else {
            false
        }
    };
    for u in 0..nu {
        let mut n = 0;
        while n < 20 {
            if add(u, rng.gen_range(0..ni), &mut pairs) {
                n += 1;
            }
        }
    }
    while pairs.len() < ML100K_RATINGS {
        let (u, i) = (rng.gen_range(0..nu), rng.gen_range(0..ni));
        add(u, i, &mut pairs);
    }
    pairs
        .into_iter()
        .map(|(u, i)| {
            let dot: f64 = (0..k).map(|d| uf[u * k + d] * itf[i * k + d]).sum();
            let r = (3.5 + ub[u] + ib[i] + dot + 0.5 * normal(&mut rng))
                .round()
                .clamp(1.0, 5.0);
            Rating {
                user: u as u32 + 1,
                item: i as u32 + 1,
                rating: r,
                timestamp: 874_724_710 + rng.gen_range(0..18_000_000u64),
            }
        })
        .collect()
}

/// Ratings as 0-based (user, item, rating) triples for [`FactorModel`] (ids are
/// 1-based in MovieLens; id 0 maps to index 0 as well).
pub fn to_triples(r: &[Rating]) -> Vec<(usize, usize, f64)> {
    r.iter()
        .map(|r| {
            (
                r.user.saturating_sub(1) as usize,
                r.item.saturating_sub(1) as usize,
                r.rating,
            )
        })
        .collect()
}
