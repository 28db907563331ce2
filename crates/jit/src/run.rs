//! [`Trainer::run`] on the native kernel: the same trace, bit for bit, for the runs the
//! kernel supports (per-sample, reverse-mode gradients, no finite differences shown,
//! epoch summaries or the final summary only).

use gradsheet_train::{
    rng, EpochSummary, Gradient, Hooks, Record, State, Stop, Trace, TrainConfig, TrainError,
    Trainer,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::epoch::{EpochKernel, OptKind, IO_MAX, IO_SQ, IO_SUM, IO_THR};

/// Why a run is left to the interpreter, or `None` if the kernel can run it.
pub fn unsupported(trainer: &Trainer, cfg: &TrainConfig) -> Option<String> {
    if cfg.record == Record::Steps {
        return Some("step rows are recorded (the kernel keeps epoch summaries only)".into());
    }
    if !(cfg.batch_size == 1 || trainer.n_rows == 1) {
        return Some("mini-batches are not compiled".into());
    }
    if cfg.gradient != Gradient::Auto || cfg.show_fd.is_some() {
        return Some("finite differences are not compiled".into());
    }
    match OptKind::of(&cfg.optimizer) {
        None => {
            return Some(format!(
                "the {} optimizer is not compiled",
                cfg.optimizer.name()
            ))
        }
        // The compiled `g·lr` is a fused `raw·lr + 0.0` (`Row::times`), which equals the
        // interpreter's `g·lr` for a factor that is not zero; with lr = 0 it could differ
        // in the sign of a zero. Nothing is learnt at lr = 0 anyway.
        Some(OptKind::Sgd | OptKind::Rmsprop) if cfg.optimizer.lr() == 0.0 => {
            return Some("a learning rate of 0 is left to the interpreter".into());
        }
        Some(_) => {}
    }
    None
}

impl EpochKernel {
    /// Trains as [`Trainer::run`] would, on native code, and returns the same trace.
    ///
    /// Differences, none of which shows in a trace: `hooks.should_stop` is polled at
    /// the end of each epoch only (the interpreter also polls every 4096 steps).
    ///
    /// # Errors
    ///
    /// [`TrainError`] as [`Trainer::run`] (wrong initial length, invalid settings), and
    /// [`TrainError::Invalid`] when the kernel was compiled for another model or rule or
    /// cannot run this configuration (see [`unsupported`]).
    pub fn run(
        &self,
        trainer: &Trainer,
        init: &[f64],
        cfg: &TrainConfig,
        hooks: &mut Hooks<'_>,
    ) -> Result<Trace, TrainError> {
        trainer.validate(init, cfg)?;
        let np = trainer.compiled.n_params;
        if let Some(why) = unsupported(trainer, cfg) {
            return Err(TrainError::Invalid(format!("not compiled: {why}")));
        }
        if cfg.record != Record::Final && !self.has_grad_norms() {
            return Err(TrainError::Invalid(
                "the kernel was compiled for final summaries only".into(),
            ));
        }
        if !self.matches(&trainer.compiled) || OptKind::of(&cfg.optimizer) != Some(self.kind()) {
            return Err(TrainError::Invalid(
                "the kernel was compiled for another model or optimizer".into(),
            ));
        }
        // `Row::times` multiplies a gradient by the learning rate in one rounding, which
        // is exact for any rate but 0; a rate of 0 (nothing moves) is left to the
        // interpreter.
        if matches!(self.kind(), OptKind::Sgd | OptKind::Rmsprop) && cfg.optimizer.lr() == 0.0 {
            return trainer.run(init, cfg, hooks);
        }
        let n = trainer.n_rows;
        let nc = trainer.compiled.n_cols;
        let opt = cfg.optimizer.clone();
        let mut trace = trainer.empty_trace(init, cfg);
        let mut ws = trainer.compiled.workspace();
        let mut st = State::new(&opt, np);
        let mut params = init.to_vec();
        let hypers = OptKind::hypers(&opt);
        let rl = self.record_len();
        let mut io = vec![0.0; self.io_len()];
        io[IO_SQ + np..IO_SQ + np + hypers.len()].copy_from_slice(&hypers);
        let reset = |io: &mut [f64]| {
            io[IO_SUM] = 0.0;
            io[IO_MAX] = f64::NEG_INFINITY;
            io[IO_SQ..IO_SQ + np].iter_mut().for_each(|v| *v = 0.0);
        };
        let mut order: Vec<u32> = (0..n as u32).collect();
        let mut shuffled = cfg.shuffle.map(|_| vec![0.0; trainer.rows.len()]);
        let mut rng = cfg.shuffle.map(ChaCha8Rng::seed_from_u64);
        let mut grad = vec![0.0; np];
        let (mut saved_p, mut saved_s, mut saved_io) =
            (params.clone(), st.values.clone(), io.clone());
        // Runs that keep only the final summary go through the rows several epochs per
        // call (about 4096 steps, the interpreter's polling period), with the threshold
        // of the first epoch: thresholds only fall as the best error falls, so the kernel
        // stops at every step the interpreter would stop at, and a few more. The largest
        // error of each epoch then tells exactly whether the interpreter would have
        // stopped; if so, or if the kernel stopped, the chunk is redone epoch by epoch.
        let chunk = if cfg.record == Record::Final && cfg.shuffle.is_none() {
            (4096 / n).max(1)
        } else {
            1
        };
        let mut records = vec![0.0; chunk * rl];

        let initial_mean = trainer.mean_error(&mut ws, &params);
        let floor = 1e-3 * initial_mean.abs();
        let threshold = |best: f64| {
            let limit = cfg.divergence_factor * best.max(floor);
            // `err > limit && err > 0` as one comparison (a NaN limit never trips).
            if limit.is_nan() {
                f64::INFINITY
            } else {
                limit.max(0.0)
            }
        };
        let mut best = initial_mean.abs();
        let mut step_no = 0usize;
        let mut epoch = 0usize;

        'epochs: while epoch < cfg.epochs {
            let span = chunk.min(cfg.epochs - epoch);
            if span > 1 {
                saved_p.copy_from_slice(&params);
                saved_s.copy_from_slice(&st.values);
                io[IO_THR] = threshold(best);
                reset(&mut io);
                let stopped = self.call(
                    &trainer.rows,
                    n,
                    &mut params,
                    &mut st.values,
                    &mut io,
                    st.t,
                    span,
                    &mut records,
                );
                let mut b = best;
                let mut exact = stopped.is_none();
                for rec in records.chunks_exact(rl).take(span) {
                    if !exact {
                        break;
                    }
                    // (Neither is NaN: a NaN error stops the kernel, and thresholds are numbers.)
                    exact = rec[IO_MAX] <= threshold(b);
                    let mean = rec[IO_SUM] / n as f64;
                    if mean.is_finite() {
                        b = b.min(mean.abs());
                    }
                }
                if exact {
                    best = b;
                    step_no += span * n;
                    st.t += (span * n) as u64;
                    for _ in 0..span {
                        opt.end_epoch(&mut st, n);
                        epoch += 1;
                        (hooks.progress)(epoch, cfg.epochs);
                    }
                    if (hooks.should_stop)() && epoch < cfg.epochs {
                        trace.stop = Stop::Interrupted { steps: step_no };
                        break 'epochs;
                    }
                    continue;
                }
                params.copy_from_slice(&saved_p);
                st.values.copy_from_slice(&saved_s);
            }
            for _ in 0..span {
                epoch += 1;
                if let Some(r) = rng.as_mut() {
                    rng::shuffle(r, &mut order);
                }
                let rows: &[f64] = match shuffled.as_mut() {
                    Some(buf) => {
                        for (k, &r) in order.iter().enumerate() {
                            buf[k * nc..(k + 1) * nc].copy_from_slice(trainer.row(r as usize));
                        }
                        buf
                    }
                    None => &trainer.rows,
                };
                io[IO_THR] = threshold(best);
                reset(&mut io);
                let mut start = 0;
                while start < n {
                    // What a bad step needs restored: the kernel has written its state
                    // and sums before testing it.
                    saved_p.copy_from_slice(&params);
                    saved_s.copy_from_slice(&st.values);
                    saved_io.copy_from_slice(&io);
                    let rest = &rows[start * nc..];
                    let bad = self.call(
                        rest,
                        n - start,
                        &mut params,
                        &mut st.values,
                        &mut io,
                        st.t,
                        1,
                        &mut records,
                    );
                    let Some(k) = bad else {
                        step_no += n - start;
                        st.t += (n - start) as u64;
                        break;
                    };
                    // Redo the k good steps natively (their epoch record holds the
                    // running sums), then replay the bad one with the interpreter, which
                    // words the reason as `Trainer::run` does.
                    params.copy_from_slice(&saved_p);
                    st.values.copy_from_slice(&saved_s);
                    io.copy_from_slice(&saved_io);
                    if k > 0 {
                        let redo = self.call(
                            rest,
                            k,
                            &mut params,
                            &mut st.values,
                            &mut io,
                            st.t,
                            1,
                            &mut records,
                        );
                        debug_assert!(redo.is_none(), "the good steps are good again");
                        io[IO_SUM..rl].copy_from_slice(&records[IO_SUM..rl]);
                    }
                    step_no += k;
                    st.t += k as u64;
                    let pos = start + k;
                    let first_row = order[pos] as usize;
                    let before = params.clone();
                    let (_, err) = trainer.compiled.row_grad(
                        &mut ws,
                        trainer.row(first_row),
                        &params,
                        &mut grad,
                    );
                    opt.step(&mut params, &grad, &mut st);
                    step_no += 1;
                    io[IO_SUM] += err;
                    for (s, g) in io[IO_SQ..IO_SQ + np].iter_mut().zip(&grad) {
                        *s += g * g;
                    }
                    if let Some(reason) =
                        bad_reason(trainer, cfg, err, &grad, &params, best.max(floor))
                    {
                        trace.stop = Stop::Diverged {
                            step: step_no,
                            row: first_row,
                            reason,
                        };
                        if params.iter().any(|p| !p.is_finite()) {
                            params.copy_from_slice(&before);
                        }
                        break 'epochs;
                    }
                    // A false alarm (finite values whose sum overflowed): the step was
                    // good, and the interpreter has just taken it. The sums go on.
                    records[IO_SUM..rl].copy_from_slice(&io[IO_SUM..rl]);
                    start = pos + 1;
                }
                opt.end_epoch(&mut st, n);
                let sum_err = records[IO_SUM];
                let mean = sum_err / n as f64;
                if mean.is_finite() {
                    best = best.min(mean.abs());
                }
                if cfg.record != Record::Final {
                    trace.epochs.push(EpochSummary {
                        epoch,
                        sum_error: sum_err,
                        mean_error: mean,
                        sheet_rmse: sum_err.sqrt(),
                        rmse: mean.sqrt(),
                        grad_norms: records[IO_SQ..IO_SQ + np]
                            .iter()
                            .map(|s| s.sqrt())
                            .collect(),
                        params: params.clone(),
                        lr: opt.lr(),
                    });
                }
                (hooks.progress)(epoch, cfg.epochs);
                if (hooks.should_stop)() && epoch < cfg.epochs {
                    trace.stop = Stop::Interrupted { steps: step_no };
                    break 'epochs;
                }
            }
        }
        trace.steps_taken = step_no;
        trace.final_params = params;
        trace.final_state = st.values;
        Ok(trace)
    }
}

/// [`Trainer::run`]'s divergence test and its wording: the very same function.
fn bad_reason(
    trainer: &Trainer,
    cfg: &TrainConfig,
    err: f64,
    grad: &[f64],
    params: &[f64],
    best: f64,
) -> Option<String> {
    gradsheet_train::train::divergence(
        &trainer.model.params,
        err,
        grad,
        params,
        cfg.divergence_factor,
        best,
    )
}
