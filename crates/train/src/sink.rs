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
    /// After the last step, once.
    fn finish(&mut self, _end: &RunEnd) {}
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
