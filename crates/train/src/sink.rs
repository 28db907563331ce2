//! Where a run's rows go as they are computed: the training loop hands each step and
//! each epoch summary to a [`Sink`] instead of growing a vector, so that a run's memory
//! is what its sinks keep, never what its length is. [`Trace`] is the sink that keeps
//! everything (tests, the web app's small tables); a CSV writer keeps nothing.

use std::ops::ControlFlow;

use crate::trace::{EpochSummary, Layout, Record, StepView, Stop, Trace};

/// What a run is about to do, told to its sinks before the first step.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The layout of step rows.
    pub layout: Layout,
    /// What the run hands on: steps and epochs, epochs, or only the end.
    pub record: Record,
    /// Epochs asked for (the run may stop sooner).
    pub epochs: usize,
    /// Steps per epoch.
    pub steps_per_epoch: usize,
}

impl Plan {
    /// The steps of the whole run if it goes to the end.
    pub fn total_steps(&self) -> usize {
        self.epochs.saturating_mul(self.steps_per_epoch)
    }
}

/// How a run ended: what a sink hears last, and what the loop returns.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RunEnd {
    /// Why it stopped.
    pub stop: Stop,
    /// Steps taken.
    pub steps_taken: usize,
    /// Epochs completed.
    pub epochs_done: usize,
    /// Parameters at the end (the last finite ones if the run diverged).
    pub final_params: Vec<f64>,
    /// The optimizer state at the end.
    pub final_state: Vec<f64>,
    /// The mean error over all rows at the initial parameters (where the divergence
    /// test starts), as the run's backend computed it.
    pub initial_error: f64,
}

/// A consumer of a run as it happens. Every method has a default that ignores its
/// input; a sink answers [`ControlFlow::Break`] to stop the run (its own failure, such
/// as a full disk, which its owner then reports), and the run ends as
/// [`Stop::Interrupted`].
pub trait Sink {
    /// Before the first step.
    fn start(&mut self, _plan: &Plan) {}
    /// Whether the sink reads the names in [`Sink::start`]'s plan ([`Plan::layout`]).
    /// One that does not (a stability map's verdict) answers `false`, and hears a plan
    /// whose layout is empty: a map's thousands of short runs would each build those
    /// names for nothing.
    fn reads_layout(&self) -> bool {
        true
    }
    /// Each step, in order (only when the run records steps: [`Record::Steps`]).
    fn step(&mut self, _step: &StepView<'_>) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    /// Each completed epoch's summary ([`Record::Steps`] or [`Record::Epochs`]).
    fn epoch(&mut self, _epoch: &EpochSummary) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    /// Each completed epoch's mean error, whatever the run records (with
    /// [`Record::Final`] the only thing heard of an epoch): what a stability map's
    /// verdict reads, without the summaries it does not.
    fn epoch_mean(&mut self, _epoch: usize, _mean: f64) {}
    /// The mean errors of several completed epochs in a row, the first being epoch
    /// `first`: what the loop hands on after a span of epochs run in one go (see
    /// [`crate::Backend::epochs`]), in one call where a call per epoch cost a stability
    /// map's short runs a percent or two. By default, [`Sink::epoch_mean`] for each.
    fn epoch_means(&mut self, first: usize, means: &[f64]) {
        for (k, &mean) in means.iter().enumerate() {
            self.epoch_mean(first + k, mean);
        }
    }
    /// Several completed epochs in a row as the loop has them after a span, their sums
    /// of errors (see [`EpochSums`]), the first being epoch `first`: a sink that reads
    /// only some of the means (a stability map's verdict reads the best and the last
    /// few) divides only those. By default, [`Sink::epoch_means`] with every mean.
    fn epoch_sums(&mut self, first: usize, sums: EpochSums<'_>) {
        // (A few hundred at a time, on the stack: a map's runs hear a hundred each.)
        const ROOM: usize = 256;
        let mut room = [0.0; ROOM];
        let records = sums.records;
        for start in (0..records.len()).step_by(ROOM) {
            let means = &mut room[..ROOM.min(records.len() - start)];
            records.sums_into(start, means);
            for m in means.iter_mut() {
                *m = sums.mean_of(*m);
            }
            self.epoch_means(first + start, means);
        }
    }
    /// After the last step, once.
    fn finish(&mut self, _end: &RunEnd) {}
}

/// Epochs' records as a backend hands a span of them to the loop — each epoch's sum of
/// errors and its largest error ([`crate::Backend::epochs`]) — with the steps of an
/// epoch: each epoch's mean error is its sum divided by the steps, computed where it is
/// read ([`EpochSums::mean`]).
///
/// # Examples
///
/// ```
/// use gradsheet_train::sink::EpochSums;
/// let records = [(3.0, 2.0), (1.5, 1.0), (f64::NAN, f64::NAN)];
/// let sums = EpochSums::new(&records, 3);
/// assert_eq!(sums.len(), 3);
/// assert_eq!(sums.mean(1), 0.5);
/// // The least mean passes over a NaN, as `f64::min` does.
/// assert_eq!(sums.least_mean(), 0.5);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct EpochSums<'a> {
    records: Records<'a>,
    steps: f64,
    extremes: Extremes,
}

/// Epochs' records — each epoch's sum of errors and its largest error — where a backend
/// holds them: pairs in a slice (the loop's spans), or read in place out of the block of
/// a backend that trains many runs at once and writes every run's sums and largest
/// errors side by side, epoch after epoch (`gradsheet_jit`'s runs side by side), so that
/// a run's records are not copied out for a reader that looks at a few.
///
/// # Examples
///
/// ```
/// use gradsheet_train::sink::Records;
/// // Two runs' records, epoch after epoch: both sums, then both largest errors.
/// let block = [3.0, 30.0, 2.0, 20.0, 1.5, 15.0, 1.0, 10.0];
/// let second = Records::strided(&block[1..], 2, 4, 2);
/// assert_eq!(second.get(1), (15.0, 10.0));
/// assert!(second.iter().eq([(30.0, 20.0), (15.0, 10.0)]));
/// assert!(Records::pairs(&[(30.0, 20.0), (15.0, 10.0)]).iter().eq(second.iter()));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Records<'a>(Held<'a>);

/// [`Records::iter`]: a slice's pairs, or two strided walks through a block.
enum RecordsIter<'a> {
    Pairs(std::slice::Iter<'a, (f64, f64)>),
    Strided(Walk<'a>),
}

/// The sums' walk and the largest errors' walk through a block, side by side.
type Walk<'a> = std::iter::Take<
    std::iter::Zip<
        std::iter::StepBy<std::slice::Iter<'a, f64>>,
        std::iter::StepBy<std::slice::Iter<'a, f64>>,
    >,
>;

impl Iterator for RecordsIter<'_> {
    type Item = (f64, f64);

    #[inline]
    fn next(&mut self) -> Option<(f64, f64)> {
        match self {
            RecordsIter::Pairs(p) => p.next().copied(),
            RecordsIter::Strided(w) => w.next().map(|(&sum, &largest)| (sum, largest)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            RecordsIter::Pairs(p) => p.size_hint(),
            RecordsIter::Strided(w) => w.size_hint(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Held<'a> {
    Pairs(&'a [(f64, f64)]),
    Strided {
        values: &'a [f64],
        len: usize,
        stride: usize,
        largest_at: usize,
    },
}

impl<'a> Records<'a> {
    /// The records in `pairs`.
    pub fn pairs(pairs: &'a [(f64, f64)]) -> Records<'a> {
        Records(Held::Pairs(pairs))
    }

    /// `len` records read out of `values`: record `k`'s sum at `k · stride`, and its
    /// largest error `largest_at` after that.
    ///
    /// # Panics
    ///
    /// If `stride` is 0 or `values` is too short for them.
    pub fn strided(values: &'a [f64], len: usize, stride: usize, largest_at: usize) -> Records<'a> {
        assert!(stride > 0, "records a stride apart");
        if len > 0 {
            let last = (len - 1) * stride + largest_at;
            assert!(last < values.len(), "records past the values");
        }
        Records(Held::Strided {
            values,
            len,
            stride,
            largest_at,
        })
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        match self.0 {
            Held::Pairs(p) => p.len(),
            Held::Strided { len, .. } => len,
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `k`: its sum of errors and its largest error.
    ///
    /// # Panics
    ///
    /// If there is no record `k`.
    #[inline]
    pub fn get(&self, k: usize) -> (f64, f64) {
        match self.0 {
            Held::Pairs(p) => p[k],
            Held::Strided {
                values,
                len,
                stride,
                largest_at,
            } => {
                assert!(k < len, "no record {k} of {len}");
                (values[k * stride], values[k * stride + largest_at])
            }
        }
    }

    /// The sums of errors of the records from `start` on, into `out` (as many as it
    /// holds): one pass in the records' own layout.
    ///
    /// # Panics
    ///
    /// If there are fewer records from `start` than `out` holds.
    pub fn sums_into(&self, start: usize, out: &mut [f64]) {
        assert!(start + out.len() <= self.len(), "records past the end");
        match self.0 {
            Held::Pairs(p) => {
                for (o, r) in out.iter_mut().zip(&p[start..]) {
                    *o = r.0;
                }
            }
            Held::Strided { values, stride, .. } => {
                for (o, k) in out.iter_mut().zip(start..) {
                    *o = values[k * stride];
                }
            }
        }
    }

    /// Every record, in order (in the records' own layout: no test a record).
    pub fn iter(&self) -> impl Iterator<Item = (f64, f64)> + 'a {
        match self.0 {
            Held::Pairs(p) => RecordsIter::Pairs(p.iter()),
            Held::Strided {
                values,
                len,
                stride,
                largest_at,
            } => RecordsIter::Strided(
                (values.iter().step_by(stride))
                    .zip(
                        values
                            .get(largest_at..)
                            .unwrap_or(&[])
                            .iter()
                            .step_by(stride),
                    )
                    .take(len),
            ),
        }
    }

    /// The first `n` records (all of them if there are fewer).
    pub fn first(&self, n: usize) -> Records<'a> {
        match self.0 {
            Held::Pairs(p) => Records::pairs(&p[..n.min(p.len())]),
            Held::Strided {
                values,
                len,
                stride,
                largest_at,
            } => Records(Held::Strided {
                values,
                len: n.min(len),
                stride,
                largest_at,
            }),
        }
    }
}

/// What the loop reads of a span's records at once (see [`EpochSums`]): the least sum
/// and the largest error, NaNs passed over, and whether every sum is finite and every
/// largest error a number. Found in one pass, by whoever has the records in hand:
/// [`Extremes::of`] a span, or [`Extremes::fold`] record by record as a backend writes
/// them.
///
/// # Examples
///
/// ```
/// use gradsheet_train::sink::Extremes;
/// let records = [(3.0, 2.0), (1.5, 4.0)];
/// let mut e = Extremes::NONE;
/// records.iter().for_each(|r| e.fold(r));
/// assert_eq!(e, Extremes::of(&records));
/// assert_eq!((e.least(), e.largest()), (1.5, 4.0));
/// assert!(e.within(4.0) && !e.within(3.9));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Extremes {
    least: f64,
    top: f64,
    finite: bool,
}

impl Extremes {
    /// The extremes of no records.
    pub const NONE: Extremes = Extremes {
        least: f64::INFINITY,
        top: f64::NEG_INFINITY,
        finite: true,
    };

    /// Takes in one more record (an epoch's sum of errors and largest error).
    #[inline]
    pub fn fold(&mut self, &(sum, largest): &(f64, f64)) {
        self.least = lesser(sum, self.least);
        self.top = greater(largest, self.top);
        self.finite &= finite_record(sum, largest);
    }

    /// The extremes of both.
    #[inline]
    pub fn merge(self, other: Extremes) -> Extremes {
        Extremes {
            least: lesser(other.least, self.least),
            top: greater(other.top, self.top),
            finite: self.finite & other.finite,
        }
    }

    /// The extremes of `records`, in one pass. (Extremes of a set are the same in any
    /// order: eight lanes at a time rather than one chain.)
    pub fn of(records: &[(f64, f64)]) -> Extremes {
        const LANES: usize = 8;
        let mut lanes = [Extremes::NONE; LANES];
        let chunks = records.chunks_exact(LANES);
        let rest = chunks.remainder();
        for r in chunks {
            for (e, r) in lanes.iter_mut().zip(r) {
                e.fold(r);
            }
        }
        for (e, r) in lanes.iter_mut().zip(rest) {
            e.fold(r);
        }
        lanes.iter().fold(Extremes::NONE, |a, &b| a.merge(b))
    }

    /// The least sum (NaNs passed over; infinity if there is none).
    pub fn least(&self) -> f64 {
        self.least
    }

    /// The largest error (NaNs passed over; minus infinity if there is none).
    pub fn largest(&self) -> f64 {
        self.top
    }

    /// Whether every sum is finite and every largest error a number.
    pub fn finite(&self) -> bool {
        self.finite
    }

    /// Whether every record passes [`crate::backend::record_within`] against `limit` (a
    /// number): every sum finite, and every largest error a number not above it.
    pub fn within(&self, limit: f64) -> bool {
        self.finite & (self.top <= limit)
    }
}

// The three folds of `Extremes`, one place each. Comparisons pass over NaNs (`x < NaN`
// and `NaN < x` are false, and the folds start from numbers), as `f64::min` does, in
// one instruction each.
#[inline(always)]
fn lesser(x: f64, least: f64) -> f64 {
    if x < least {
        x
    } else {
        least
    }
}

#[inline(always)]
fn greater(x: f64, top: f64) -> f64 {
    if x > top {
        x
    } else {
        top
    }
}

#[inline(always)]
fn finite_record(sum: f64, largest: f64) -> bool {
    sum.is_finite() & !largest.is_nan()
}

/// The [`Extremes`] of many runs' records at once, kept lane by lane (each fold a
/// vector's worth of independent lanes, no chain): what a backend that trains runs side
/// by side folds as it writes each epoch's records.
#[derive(Clone, Debug)]
pub struct LaneExtremes {
    least: Vec<f64>,
    top: Vec<f64>,
    /// Whether each lane's records are all finite, eight lanes a byte (lane `l` at bit
    /// `l % 8` of byte `l / 8`): what a vector comparison gives at once.
    finite: Vec<u8>,
}

impl LaneExtremes {
    /// The extremes of no records, for `lanes` runs.
    pub fn new(lanes: usize) -> LaneExtremes {
        LaneExtremes {
            least: vec![Extremes::NONE.least; lanes],
            top: vec![Extremes::NONE.top; lanes],
            finite: vec![u8::MAX; lanes.div_ceil(8)],
        }
    }

    /// Takes in one epoch's records of the lanes from `first` on: their sums of errors
    /// and their largest errors, lane by lane.
    ///
    /// # Panics
    ///
    /// If the lanes from `first` on are fewer than the sums, or the sums and errors
    /// differ in number.
    #[inline]
    pub fn fold(&mut self, first: usize, sums: &[f64], largest: &[f64]) {
        let n = sums.len();
        assert_eq!(largest.len(), n, "a largest error for each sum");
        let least = &mut self.least[first..first + n];
        let top = &mut self.top[first..first + n];
        for k in 0..n {
            least[k] = lesser(sums[k], least[k]);
            top[k] = greater(largest[k], top[k]);
            let lane = first + k;
            let bad = u8::from(!finite_record(sums[k], largest[k]));
            self.finite[lane / 8] &= !(bad << (lane % 8));
        }
    }

    /// [`LaneExtremes::fold`] of the eight lanes from `first`, epoch after epoch, out of
    /// a block as a backend that trains runs side by side writes it: `epochs` records of
    /// the eight lanes, `stride` doubles apart from the block's start, each their eight
    /// sums of errors and then their eight largest errors. Compiled for AVX-512: eight
    /// lanes a register, the extremes kept in registers from epoch to epoch, with the
    /// folds' own comparisons (`vminpd` and `vmaxpd` keep their second operand, the
    /// lane's extreme so far, where the first is NaN or the two are equal, as
    /// `x < least` and `x > top` do).
    ///
    /// # Safety
    ///
    /// The processor has AVX-512F (where the caller is not compiled for it).
    ///
    /// # Panics
    ///
    /// If `first` is not a multiple of eight, there are fewer than eight lanes from it,
    /// or the block is too short.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub fn fold8_block(&mut self, first: usize, block: &[f64], epochs: usize, stride: usize) {
        use std::arch::x86_64::*;
        assert_eq!(first % 8, 0, "eight lanes from a multiple of eight");
        if epochs == 0 {
            return;
        }
        assert!(
            (epochs - 1) * stride + 16 <= block.len(),
            "records past the block"
        );
        let least = &mut self.least[first..first + 8];
        let top = &mut self.top[first..first + 8];
        let inf = _mm512_set1_pd(f64::INFINITY);
        // SAFETY: loads of eight doubles from slices of eight.
        let (mut low, mut high) = unsafe {
            (
                _mm512_loadu_pd(least.as_ptr()),
                _mm512_loadu_pd(top.as_ptr()),
            )
        };
        let mut finite = self.finite[first / 8];
        for e in 0..epochs {
            // SAFETY: loads of sixteen doubles at `e · stride`, within the block
            // (asserted above).
            let (s, l) = unsafe {
                let at = block.as_ptr().add(e * stride);
                (_mm512_loadu_pd(at), _mm512_loadu_pd(at.add(8)))
            };
            low = _mm512_min_pd(s, low);
            high = _mm512_max_pd(l, high);
            // `finite_record`: |sum| below infinity (false for NaN), and the largest
            // ordered.
            finite &= _mm512_cmp_pd_mask::<_CMP_LT_OQ>(_mm512_abs_pd(s), inf)
                & _mm512_cmp_pd_mask::<_CMP_ORD_Q>(l, l);
        }
        // SAFETY: stores of eight doubles to slices of eight.
        unsafe {
            _mm512_storeu_pd(least.as_mut_ptr(), low);
            _mm512_storeu_pd(top.as_mut_ptr(), high);
        }
        self.finite[first / 8] = finite;
    }

    /// Lane `lane`'s extremes.
    pub fn lane(&self, lane: usize) -> Extremes {
        Extremes {
            least: self.least[lane],
            top: self.top[lane],
            finite: self.finite[lane / 8] >> (lane % 8) & 1 == 1,
        }
    }
}

impl<'a> EpochSums<'a> {
    /// The epochs of `records` (sum of errors, largest error), each of
    /// `steps_per_epoch` steps.
    pub fn new(records: &'a [(f64, f64)], steps_per_epoch: usize) -> EpochSums<'a> {
        let extremes = Extremes::of(records);
        EpochSums::with_extremes(Records::pairs(records), steps_per_epoch, extremes)
    }

    /// [`EpochSums::new`] for records wherever they are, with their extremes found
    /// already (`Extremes::of` them, or the same folded as they were written).
    pub fn with_extremes(
        records: Records<'a>,
        steps_per_epoch: usize,
        extremes: Extremes,
    ) -> EpochSums<'a> {
        debug_assert_eq!(
            extremes,
            records.iter().fold(Extremes::NONE, |mut e, r| {
                e.fold(&r);
                e
            }),
            "the records' extremes"
        );
        EpochSums {
            records,
            steps: steps_per_epoch as f64,
            extremes,
        }
    }

    /// The records' extremes.
    pub fn extremes(&self) -> Extremes {
        self.extremes
    }

    /// The number of epochs.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Each epoch's sum of errors and largest error.
    pub fn records(&self) -> Records<'a> {
        self.records
    }

    /// The mean error of an epoch whose errors sum to `sum`: the one place the loop's
    /// means are made.
    #[inline]
    pub fn mean_of(&self, sum: f64) -> f64 {
        sum / self.steps
    }

    /// Epoch `k`'s mean error (the first being 0).
    ///
    /// # Panics
    ///
    /// If there is no epoch `k`.
    pub fn mean(&self, k: usize) -> f64 {
        self.mean_of(self.records.get(k).0)
    }

    /// Every epoch's mean error, in order.
    pub fn means(&self) -> impl Iterator<Item = f64> + 'a {
        let steps = self.steps;
        self.records.iter().map(move |(sum, _)| sum / steps)
    }

    /// The least mean (passing over NaNs, as `f64::min` does; infinity if there is
    /// none), with one division: the least sum's mean. Rounding is monotonic — `a ≤ b`
    /// gives `a/s ≤ b/s` for `s > 0` — so the least of the rounded means is the
    /// rounded mean of the least sum.
    pub fn least_mean(&self) -> f64 {
        self.mean_of(self.extremes.least)
    }

    /// The least size of a finite mean (infinity if there is none), with one division
    /// as [`EpochSums::least_mean`]: a mean is finite where its sum is, and its size is
    /// its sum's size divided. The least sum's where that is a number not below zero
    /// (every other sum is then at least it) or where there is no finite one
    /// (infinity); otherwise — a loss below zero — by a second pass.
    pub fn least_finite_size(&self) -> f64 {
        let least = self.extremes.least;
        let size = if least >= 0.0 {
            least.abs()
        } else {
            self.records
                .iter()
                .filter(|r| r.0.is_finite())
                .fold(f64::INFINITY, |b, r| b.min(r.0.abs()))
        };
        self.mean_of(size)
    }

    /// The largest error of any epoch (NaNs passed over; minus infinity if there is
    /// none).
    pub fn largest(&self) -> f64 {
        self.extremes.top
    }
}

/// No sink: the run's end is all the caller wants.
impl Sink for () {}

/// Several sinks fed alike, in order; the first that breaks stops the run.
pub struct Fanout<'a>(pub Vec<&'a mut dyn Sink>);

impl Sink for Fanout<'_> {
    fn start(&mut self, plan: &Plan) {
        self.0.iter_mut().for_each(|s| s.start(plan));
    }
    fn reads_layout(&self) -> bool {
        self.0.iter().any(|s| s.reads_layout())
    }
    fn step(&mut self, step: &StepView<'_>) -> ControlFlow<()> {
        self.0.iter_mut().try_for_each(|s| s.step(step))
    }
    fn epoch(&mut self, epoch: &EpochSummary) -> ControlFlow<()> {
        self.0.iter_mut().try_for_each(|s| s.epoch(epoch))
    }
    fn epoch_mean(&mut self, epoch: usize, mean: f64) {
        self.0.iter_mut().for_each(|s| s.epoch_mean(epoch, mean));
    }
    fn epoch_means(&mut self, first: usize, means: &[f64]) {
        self.0.iter_mut().for_each(|s| s.epoch_means(first, means));
    }
    fn epoch_sums(&mut self, first: usize, sums: EpochSums<'_>) {
        self.0.iter_mut().for_each(|s| s.epoch_sums(first, sums));
    }
    fn finish(&mut self, end: &RunEnd) {
        self.0.iter_mut().for_each(|s| s.finish(end));
    }
}

/// The keeping sink: every step and epoch summary, as plain data.
impl Sink for Trace {
    fn start(&mut self, plan: &Plan) {
        self.layout = plan.layout.clone();
        self.stride = 1;
        self.values.clear();
        self.meta.clear();
        self.epochs.clear();
        if plan.record == Record::Steps {
            // Reserved up front so that keeping a step never reallocates mid-run; very
            // long runs grow geometrically past this.
            let reserve = plan.total_steps().min(1 << 22);
            self.values.reserve(reserve * self.layout.width());
            self.meta.reserve(reserve);
        }
        if plan.record != Record::Final {
            self.epochs.reserve(plan.epochs.min(1 << 20));
        }
    }

    fn step(&mut self, s: &StepView<'_>) -> ControlFlow<()> {
        let v = &mut self.values;
        v.extend_from_slice(s.inputs);
        v.extend_from_slice(s.params);
        v.push(s.pred);
        v.push(s.error);
        v.extend_from_slice(s.grads);
        if let Some(fd) = s.fd {
            v.extend_from_slice(fd);
        }
        v.extend_from_slice(s.state);
        v.extend_from_slice(s.new_params);
        self.meta.push((s.epoch as u32, s.row as u32, s.lr));
        ControlFlow::Continue(())
    }

    fn epoch(&mut self, e: &EpochSummary) -> ControlFlow<()> {
        self.epochs.push(e.clone());
        ControlFlow::Continue(())
    }

    fn finish(&mut self, end: &RunEnd) {
        self.stop = end.stop.clone();
        self.steps_taken = end.steps_taken;
        self.final_params.clone_from(&end.final_params);
        self.final_state.clone_from(&end.final_state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A sum as a span may hold one: any number, tiny ones, zeros of both signs,
    /// infinities, NaN.
    fn sum() -> impl Strategy<Value = f64> {
        gradsheet_testkit::with_ieee_edges(prop_oneof![3 => -1e3f64..1e3, 1 => 0.0f64..1e-300])
    }

    proptest! {
        /// Each extreme found in the one pass is the one read off the means, one by
        /// one, as the loop and the verdict read them before.
        #[test]
        fn a_spans_extremes_are_its_means(
            records in prop::collection::vec((sum(), sum()), 0..40),
            steps in 1usize..100,
            positive in any::<bool>(),
        ) {
            // Losses that cannot go below zero (the usual case, one pass), and others.
            let records: Vec<(f64, f64)> = records
                .into_iter()
                .map(|(s, l)| if positive && s < 0.0 { (-s, l) } else { (s, l) })
                .collect();
            let sums = EpochSums::new(&records, steps);
            let means: Vec<f64> = records.iter().map(|r| r.0 / steps as f64).collect();
            prop_assert!(sums.means().map(f64::to_bits).eq(means.iter().map(|m| m.to_bits())));
            let least = means.iter().fold(f64::INFINITY, |b, &m| b.min(m));
            prop_assert_eq!(sums.least_mean(), least);
            let size = means
                .iter()
                .filter(|m| m.is_finite())
                .fold(f64::INFINITY, |b, m| b.min(m.abs()));
            prop_assert_eq!(sums.least_finite_size().to_bits(), size.to_bits());
            let top = records.iter().fold(f64::NEG_INFINITY, |t, r| t.max(r.1));
            prop_assert_eq!(sums.largest(), top);
            // The backends' test of each record, at once.
            for limit in [0.0, 1.0, 500.0, f64::INFINITY, top] {
                let each = records.iter().all(|r| crate::backend::record_within(r, limit));
                prop_assert_eq!(sums.extremes().within(limit), each, "{}", limit);
            }
            // Folded lane by lane as the lanes write them (three lanes, the records
            // dealt round), each lane's the extremes of its records.
            let mut lanes = LaneExtremes::new(4);
            for chunk in records.chunks(3) {
                let (s, l): (Vec<f64>, Vec<f64>) = chunk.iter().copied().unzip();
                lanes.fold(1, &s, &l);
            }
            for lane in 0..3 {
                let own: Vec<(f64, f64)> = records.iter().skip(lane).step_by(3).copied().collect();
                prop_assert_eq!(lanes.lane(1 + lane), Extremes::of(&own));
            }
            prop_assert_eq!(lanes.lane(0), Extremes::NONE);
            // Eight lanes at a time on AVX-512, the same.
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                let mut one = LaneExtremes::new(20);
                let mut eight = LaneExtremes::new(20);
                // Eight runs' records, epoch after epoch, as the lanes write them: the
                // sums, the largest errors, and three numbers more.
                let mut block = Vec::new();
                for chunk in records.chunks_exact(8) {
                    let (s, l): (Vec<f64>, Vec<f64>) = chunk.iter().copied().unzip();
                    one.fold(8, &s, &l);
                    block.extend(s.iter().chain(&l).chain(&[7.0; 3]));
                }
                // SAFETY: the processor has AVX-512F (just checked).
                unsafe { eight.fold8_block(8, &block, records.len() / 8, 19) };
                for lane in 0..20 {
                    let (a, b) = (one.lane(lane), eight.lane(lane));
                    prop_assert_eq!(
                        (a.least.to_bits(), a.top.to_bits(), a.finite),
                        (b.least.to_bits(), b.top.to_bits(), b.finite)
                    );
                }
            }
        }

        /// A sink that reads every mean hears each one's bits, in order, in chunks of
        /// a few hundred.
        #[test]
        fn the_default_hands_on_every_mean(
            records in prop::collection::vec((sum(), sum()), 0..600),
            steps in 1usize..100,
        ) {
            #[derive(Default)]
            struct Heard(Vec<(usize, u64)>);
            impl Sink for Heard {
                fn epoch_mean(&mut self, epoch: usize, mean: f64) {
                    self.0.push((epoch, mean.to_bits()));
                }
            }
            fn heard_again(records: &[(f64, f64)], steps: usize) -> Vec<(usize, u64)> {
                let mut heard = Heard::default();
                heard.epoch_sums(5, EpochSums::new(records, steps));
                heard.0
            }
            let mut heard = Heard::default();
            heard.epoch_sums(5, EpochSums::new(&records, steps));
            let want: Vec<(usize, u64)> = records
                .iter()
                .enumerate()
                .map(|(k, r)| (5 + k, (r.0 / steps as f64).to_bits()))
                .collect();
            prop_assert_eq!(heard.0, want);
            // The same records read in place out of a block of three runs' (this one's
            // the second: the sums, then the largest errors, epoch after epoch).
            let mut block = vec![f64::NAN; 6 * records.len()];
            for (k, &(sum, largest)) in records.iter().enumerate() {
                block[6 * k + 1] = sum;
                block[6 * k + 4] = largest;
            }
            let held = Records::strided(block.get(1..).unwrap_or(&[]), records.len(), 6, 3);
            prop_assert_eq!(held.len(), records.len());
            let key = |r: (f64, f64)| (r.0.to_bits(), r.1.to_bits());
            prop_assert!(held.iter().map(key).eq(records.iter().copied().map(key)));
            let cut = records.len() / 3;
            prop_assert!(held.first(cut).iter().map(key).eq(records[..cut].iter().copied().map(key)));
            let mut in_place = Heard::default();
            in_place.epoch_sums(5, EpochSums::with_extremes(held, steps, Extremes::of(&records)));
            prop_assert_eq!(in_place.0, heard_again(&records, steps));
        }
    }
}
