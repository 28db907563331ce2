//! A whole epoch of training as one native loop: for each row (or each mini-batch of
//! rows, their gradients summed), the forward pass, the reverse pass (or the finite
//! differences), the divergence test and the optimizer update, with the parameters kept
//! in registers from row to row (for small models: see `LOOPED_FROM`).
//!
//! What makes it as fast as a hand-written loop (BENCHMARKS.md has the measurements):
//! few values alive at once, so that Cranelift's register allocator never spills a
//! parameter (see the comments on the stores and on `Consts`); updates of two
//! parameters at once (`Group`); no test of zero adjoints (see `emit`'s docs); and one
//! comparison for the divergence test.

use std::sync::Arc;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, AbiParam, InstBuilder, MemFlags, Value};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_module::Module;
use gradsheet_engine::op::Native2;
use gradsheet_engine::Scheme;
use gradsheet_engine::{CompiledModel, Instr};
use gradsheet_train::{Gradient, Optimizer};

use crate::emit::{
    emit_forward, emit_row, emit_row_in_memory, emit_value, exact, Calls, Ir, Row, Var,
};
use crate::native::{new_module, MidEnd, Native};
use crate::CompileError;

/// The update rules the compiler knows, with the choices that change the code's shape.
/// Numeric hyperparameters (learning rate, βs, ε, ...) are not part of the code: they
/// are read at run time, so one kernel serves a whole sweep over them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptKind {
    /// Workbook SGD.
    Sgd,
    /// Workbook momentum.
    Momentum,
    /// Workbook RMSProp.
    Rmsprop,
    /// Workbook Adam.
    Adam,
    /// The workbook's adagrad of 2016: rates `lr / r` fixed within an epoch (the
    /// training loop sets `r` between epochs, so its kernel runs one epoch per call).
    Adagrad,
    /// `torch.optim.SGD`.
    TorchSgd {
        /// `momentum != 0` (the `buf` state exists).
        momentum: bool,
        /// Nesterov momentum.
        nesterov: bool,
        /// `weight_decay != 0`.
        weight_decay: bool,
    },
    /// `torch.optim.Adagrad`.
    TorchAdagrad {
        /// `weight_decay != 0` (L2 in the gradient).
        weight_decay: bool,
    },
    /// `torch.optim.RMSprop`.
    TorchRmsprop {
        /// `weight_decay != 0` (L2 in the gradient).
        weight_decay: bool,
        /// `momentum > 0` (the `momentum_buffer` state exists).
        momentum: bool,
        /// Centered (the `grad_avg` state exists).
        centered: bool,
    },
    /// `torch.optim.Adam` / `AdamW`.
    TorchAdam {
        /// `weight_decay != 0` (L2 in the gradient).
        weight_decay: bool,
        /// AdamW's decoupled decay.
        decoupled: bool,
        /// AMSGrad (the `max_exp_avg_sq` state exists).
        amsgrad: bool,
    },
}

impl OptKind {
    /// The kind of `opt` (every rule has one; `None` is kept for rules to come that
    /// the compiler leaves to the interpreter).
    pub fn of(opt: &Optimizer) -> Option<OptKind> {
        Some(match *opt {
            Optimizer::Sgd { .. } => OptKind::Sgd,
            Optimizer::Momentum { .. } => OptKind::Momentum,
            Optimizer::Rmsprop { .. } => OptKind::Rmsprop,
            Optimizer::Adam { .. } => OptKind::Adam,
            Optimizer::Adagrad { .. } => OptKind::Adagrad,
            Optimizer::TorchSgd {
                momentum,
                nesterov,
                weight_decay,
                ..
            } => OptKind::TorchSgd {
                momentum: momentum != 0.0,
                nesterov,
                weight_decay: weight_decay != 0.0,
            },
            Optimizer::TorchAdagrad { weight_decay, .. } => OptKind::TorchAdagrad {
                weight_decay: weight_decay != 0.0,
            },
            Optimizer::TorchRmsprop {
                weight_decay,
                momentum,
                centered,
                ..
            } => OptKind::TorchRmsprop {
                weight_decay: weight_decay != 0.0,
                momentum: momentum > 0.0,
                centered,
            },
            Optimizer::TorchAdam {
                weight_decay,
                amsgrad,
                decoupled,
                ..
            } => OptKind::TorchAdam {
                weight_decay: weight_decay != 0.0,
                decoupled,
                amsgrad,
            },
        })
    }

    /// The numeric hyperparameters, each at its name's place in `io` (see [`K`]); the
    /// ones a rule does not have stay 0 and are never read.
    pub(crate) fn hypers(opt: &Optimizer) -> [f64; K::HYPERS] {
        let mut h = [0.0; K::HYPERS];
        let mut set = |k: K, v: f64| h[k as usize] = v;
        match *opt {
            Optimizer::Sgd { lr } | Optimizer::Adagrad { lr, .. } => set(K::Lr, lr),
            Optimizer::Momentum { lr, beta } | Optimizer::Rmsprop { lr, beta } => {
                set(K::Lr, lr);
                set(K::Beta1, beta);
            }
            Optimizer::Adam { lr, beta1, beta2 } => {
                set(K::Lr, lr);
                set(K::Beta1, beta1);
                set(K::Beta2, beta2);
            }
            Optimizer::TorchSgd {
                lr,
                momentum,
                dampening,
                weight_decay,
                ..
            } => {
                set(K::Lr, lr);
                set(K::Momentum, momentum);
                set(K::Dampening, dampening);
                set(K::WeightDecay, weight_decay);
            }
            Optimizer::TorchAdam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                set(K::Lr, lr);
                set(K::Beta1, beta1);
                set(K::Beta2, beta2);
                set(K::Eps, eps);
                set(K::WeightDecay, weight_decay);
            }
            Optimizer::TorchAdagrad {
                lr,
                lr_decay,
                weight_decay,
                eps,
                ..
            } => {
                set(K::Lr, lr);
                set(K::LrDecay, lr_decay);
                set(K::WeightDecay, weight_decay);
                set(K::Eps, eps);
            }
            Optimizer::TorchRmsprop {
                lr,
                alpha,
                eps,
                weight_decay,
                momentum,
                ..
            } => {
                set(K::Lr, lr);
                set(K::Alpha, alpha);
                set(K::Eps, eps);
                set(K::WeightDecay, weight_decay);
                set(K::Momentum, momentum);
            }
        }
        h
    }

    /// The hyperparameters the rule's update reads (the ones [`OptKind::hypers`] sets).
    pub(crate) fn reads(self) -> &'static [K] {
        match self {
            OptKind::Sgd | OptKind::Adagrad => &[K::Lr],
            OptKind::Momentum | OptKind::Rmsprop => &[K::Lr, K::Beta1],
            OptKind::Adam => &[K::Lr, K::Beta1, K::Beta2],
            OptKind::TorchSgd { .. } => &[K::Lr, K::Momentum, K::Dampening, K::WeightDecay],
            OptKind::TorchAdagrad { .. } => &[K::Lr, K::LrDecay, K::WeightDecay, K::Eps],
            OptKind::TorchRmsprop { .. } => &[K::Lr, K::Alpha, K::Eps, K::WeightDecay, K::Momentum],
            OptKind::TorchAdam { .. } => &[K::Lr, K::Beta1, K::Beta2, K::Eps, K::WeightDecay],
        }
    }

    /// How many parameters share each instruction of the update (see [`Group`]).
    /// Only rules with a square root and a division gain: for the others, packing and
    /// unpacking the lanes costs more than the arithmetic it shares (W1: 0.87 of the
    /// hand-written loop in pairs, 0.97 alone).
    fn group_width(self) -> usize {
        match self {
            OptKind::Rmsprop
            | OptKind::Adam
            | OptKind::Adagrad
            | OptKind::TorchAdam { .. }
            | OptKind::TorchAdagrad { .. }
            | OptKind::TorchRmsprop { .. } => 2,
            _ => 1,
        }
    }

    /// State variables per parameter (as [`Optimizer::state_vars`]).
    pub(crate) fn n_state(self) -> usize {
        match self {
            OptKind::Sgd => 0,
            OptKind::Momentum | OptKind::Rmsprop => 1,
            OptKind::Adam | OptKind::Adagrad => 2,
            OptKind::TorchSgd { momentum, .. } => usize::from(momentum),
            OptKind::TorchAdam { amsgrad, .. } => 2 + usize::from(amsgrad),
            OptKind::TorchAdagrad { .. } => 1,
            OptKind::TorchRmsprop {
                momentum, centered, ..
            } => 1 + usize::from(momentum) + usize::from(centered),
        }
    }
}

/// The tape of `model`, if it has the error output (its second) that training follows.
///
/// # Errors
///
/// [`CompileError::Unsupported`] where it has not.
pub(crate) fn trained_tape(model: &CompiledModel) -> Result<&gradsheet_engine::Tape, CompileError> {
    if model.tape.outputs().len() < 2 {
        return Err(CompileError::Unsupported(
            "the tape has no error output".into(),
        ));
    }
    Ok(&model.tape)
}

/// `fn(rows, n_rows, params, state, io, t0, epochs, records, batch) -> i64`: see
/// [`EpochKernel`].
type EpochFn = unsafe extern "C" fn(
    *const f64,
    i64,
    *mut f64,
    *mut f64,
    *mut f64,
    i64,
    i64,
    *mut f64,
    i64,
) -> i64;

/// The layout of the `io` block: the threshold, the running sums of the epoch (errors,
/// largest error, squared gradients per parameter), then the hyperparameters.
pub(crate) const IO_THR: usize = 0;
pub(crate) const IO_SUM: usize = 1;
pub(crate) const IO_MAX: usize = 2;
pub(crate) const IO_SQ: usize = 3;

/// A model and an update rule compiled to native code that trains over rows.
///
/// The native function takes the rows (the model's columns, row after row), the
/// parameters (read at the start, written back at the end), the optimizer state (read
/// and written in place), an `io` block — `[threshold, sum of errors, largest error,
/// Σg² per parameter..., hyperparameters..., room for the numbers the rule derives from
/// them]` —, the number of steps taken before, a number of epochs to run over the rows,
/// a record per epoch (`io`'s sums at its end, which then start again from zero), and
/// the rows per step (a kernel compiled for mini-batches steps on the mean gradient of
/// each batch of that many rows, the last one smaller if need be; a per-sample kernel
/// ignores it). It returns -1 after the last epoch, or the
/// index (of the step, counted over the epochs of the call) of the first step that is bad — a NaN or
/// infinite error or parameter, or an error above the threshold — after which the state
/// and sums in memory are not to be trusted: the caller restores them, redoes the good
/// steps, and replays the bad one with the interpreter to report it exactly as
/// [`gradsheet_train::Trainer::run`] does. Called with a negative number of epochs, it
/// only sums the errors over the rows at `params` into the record
/// ([`EpochKernel::mean_error`]).
///
/// Cloning is cheap and the kernel may be used from many threads at once.
#[derive(Clone)]
pub struct EpochKernel {
    native: Arc<Native>,
    code: Vec<Instr>,
    n_slots: usize,
    constants: Vec<f64>,
    n_cols: usize,
    n_params: usize,
    kind: OptKind,
    grad_norms: bool,
    batched: bool,
    fused: bool,
    gradient: Gradient,
}

impl std::fmt::Debug for EpochKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochKernel")
            .field("instructions", &self.code.len())
            .field("n_cols", &self.n_cols)
            .field("n_params", &self.n_params)
            .field("kind", &self.kind)
            .finish()
    }
}

impl EpochKernel {
    /// Compiles per-sample training of `model` with updates of `opt`'s kind.
    ///
    /// # Errors
    ///
    /// [`CompileError::Unsupported`] for an update rule the compiler leaves to the
    /// interpreter, [`CompileError::Backend`] if Cranelift fails.
    pub fn compile(model: &CompiledModel, opt: &Optimizer) -> Result<EpochKernel, CompileError> {
        EpochKernel::compile_with(model, opt, true)
    }

    /// As [`EpochKernel::compile`], choosing whether the kernel sums the squared
    /// gradients of each epoch (needed for [`gradsheet_train::Record::Epochs`]'s gradient norms; without
    /// them, a kernel runs [`gradsheet_train::Record::Final`] only and does a little less per step).
    ///
    /// # Errors
    ///
    /// As [`EpochKernel::compile`].
    pub fn compile_with(
        model: &CompiledModel,
        opt: &Optimizer,
        grad_norms: bool,
    ) -> Result<EpochKernel, CompileError> {
        EpochKernel::build(model, opt, grad_norms, false, true, Gradient::Auto)
    }

    /// The kernel for the run `cfg` of `trainer` (see [`EpochKernel::fits`]): per-sample
    /// or by mini-batches, with the gradient norms if the run keeps epoch summaries, and
    /// for a learning rate of 0 with products that keep the sign of a zero.
    ///
    /// # Errors
    ///
    /// As [`EpochKernel::compile`].
    pub fn compile_for(
        trainer: &gradsheet_train::Trainer,
        cfg: &gradsheet_train::TrainConfig,
    ) -> Result<EpochKernel, CompileError> {
        EpochKernel::build(
            &trainer.compiled,
            &cfg.optimizer,
            cfg.record != gradsheet_train::Record::Final,
            cfg.batch_rows(trainer.n_rows) > 1,
            cfg.optimizer.lr() != 0.0,
            cfg.gradient,
        )
    }

    /// Whether this kernel can run `cfg` on `trainer` (the same model and kind of rule,
    /// per-sample or batched as the run is, gradient norms if it needs them, unfused
    /// products for a rate of 0). It says nothing of the rest of the run (see
    /// [`crate::unsupported`]).
    pub fn fits(
        &self,
        trainer: &gradsheet_train::Trainer,
        cfg: &gradsheet_train::TrainConfig,
    ) -> bool {
        self.matches(&trainer.compiled) && self.fits_config(trainer, cfg)
    }

    /// [`EpochKernel::fits`] but for the model, for callers that checked it once for
    /// many runs.
    pub(crate) fn fits_config(
        &self,
        trainer: &gradsheet_train::Trainer,
        cfg: &gradsheet_train::TrainConfig,
    ) -> bool {
        OptKind::of(&cfg.optimizer) == Some(self.kind)
            && (self.grad_norms || cfg.record == gradsheet_train::Record::Final)
            && self.batched == (cfg.batch_rows(trainer.n_rows) > 1)
            && (!self.fused || cfg.optimizer.lr() != 0.0)
            && self.gradient == cfg.gradient
    }

    /// Whether the kernel steps by mini-batches.
    pub fn is_batched(&self) -> bool {
        self.batched
    }

    /// Whether products with the gradient may be fused (not for a rate of 0).
    pub(crate) fn is_fused(&self) -> bool {
        self.fused
    }

    fn build(
        model: &CompiledModel,
        opt: &Optimizer,
        grad_norms: bool,
        batched: bool,
        fused: bool,
        gradient: Gradient,
    ) -> Result<EpochKernel, CompileError> {
        let kind = OptKind::of(opt).ok_or_else(|| {
            CompileError::Unsupported(format!("the {} optimizer is not compiled", opt.name()))
        })?;
        let tape = trained_tape(model)?;
        let (nc, np) = (model.n_cols, model.n_params);
        let width = kind.group_width();
        let mut module = new_module(MidEnd::Skip)?;
        let mut ctx = module.make_context();
        let ptr = module.target_config().pointer_type();
        {
            let sig = &mut ctx.func.signature;
            for t in [
                ptr,
                types::I64,
                ptr,
                ptr,
                ptr,
                types::I64,
                types::I64,
                ptr,
                types::I64,
            ] {
                sig.params.push(AbiParam::new(t));
            }
            sig.returns.push(AbiParam::new(types::I64));
        }
        let calls = Calls::declare(&mut module, &mut ctx.func)?;
        let mut fctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let mem = MemFlags::trusted();
        let entry = b.create_block();
        let ep_header = b.create_block();
        let ep_start = b.create_block();
        let ep_end = b.create_block();
        let header = b.create_block();
        let body = b.create_block();
        let cont = b.create_block();
        let exit_ok = b.create_block();
        let exit_bad = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let args = b.block_params(entry).to_vec();
        let (rows, n, pp, sp, io, t0) = (args[0], args[1], args[2], args[3], args[4], args[5]);
        let (n_epochs, ep, batch) = (args[6], args[7], args[8]);

        // Loop-carried variables: the row index, the step count and the parameters, in
        // registers. The optimizer state and the sums stay in memory (`state`, `io`):
        // their loads and stores are off the critical path (each step's new parameters
        // depend on the state only through values loaded long before they are needed),
        // and Adam's state in registers measured no faster (W2 0.90 against 0.91).
        let mut next_var = 0u32;
        let mut var = |b: &mut FunctionBuilder<'_>, ty| {
            let v = Variable::from_u32(next_var);
            next_var += 1;
            b.declare_var(v, ty);
            v
        };
        let v_e = var(&mut b, types::I64);
        let v_i = var(&mut b, types::I64);
        let v_t = var(&mut b, types::I64);
        // Past `LOOPED_FROM` parameters they stay in memory, and the update is a loop
        // over them (see `LOOPED_FROM`).
        let looped = np >= LOOPED_FROM;
        // A row of such a model with exact gradients, per sample or in a batch, keeps
        // its values in memory too (`emit_row_in_memory`).
        let in_memory = looped && !matches!(gradient, Gradient::Fd { .. });
        let v_p: Vec<Variable> = (0..np)
            .filter(|_| !looped)
            .map(|_| var(&mut b, types::F64))
            .collect();
        let v_k = var(&mut b, types::I64);
        let v_acc = var(&mut b, types::F64);
        let v_r = var(&mut b, types::I64);
        // A batch's running sums: the rows done, the errors, the gradients.
        let v_j = var(&mut b, types::I64);
        let v_es = var(&mut b, types::F64);
        let v_gs: Vec<Variable> = (0..np)
            .filter(|_| batched && !in_memory)
            .map(|_| var(&mut b, types::F64))
            .collect();
        // The epoch's sum and largest error, in registers (from the caller's values in
        // `io` on entry, into `io` on every exit and the epoch's record at its end).
        let v_sum = var(&mut b, types::F64);
        let v_max = var(&mut b, types::F64);

        // A negative number of epochs asks for the mean error's sum instead (see
        // `EpochKernel::mean_error`): the forward pass over the rows at `params`, the
        // sum into `ep[0]`, nothing else read or written.
        let mean_mode = b.create_block();
        let train_entry = b.create_block();
        let wants_mean = b.ins().icmp_imm(IntCC::SignedLessThan, n_epochs, 0);
        b.ins().brif(wants_mean, mean_mode, &[], train_entry, &[]);
        {
            let v_mi = var(&mut b, types::I64);
            let v_ms = var(&mut b, types::F64);
            let m_header = b.create_block();
            let m_body = b.create_block();
            let m_exit = b.create_block();
            b.switch_to_block(mean_mode);
            let zero_i = b.ins().iconst(types::I64, 0);
            b.def_var(v_mi, zero_i);
            // `Trainer::mean_error`'s sum: `0.0`, then each row's error in row order.
            let zero = b.ins().f64const(0.0);
            b.def_var(v_ms, zero);
            // A large model's parameters are loaded where they are read (see
            // `emit_row_in_memory`), a small one's once, before the loop.
            let params: Vec<Var> = (0..np)
                .map(|k| {
                    let at = (8 * k) as i32;
                    if looped {
                        Var::At(pp, at)
                    } else {
                        Var::Value(b.ins().load(types::F64, mem, pp, at))
                    }
                })
                .collect();
            b.ins().jump(m_header, &[]);
            b.switch_to_block(m_header);
            let i = b.use_var(v_mi);
            let more = b.ins().icmp(IntCC::SignedLessThan, i, n);
            b.ins().brif(more, m_body, &[], m_exit, &[]);
            b.switch_to_block(m_body);
            let mut ir = Ir {
                b: &mut b,
                calls: &calls,
            };
            let off = ir.b.ins().imul_imm(i, (8 * nc) as i64);
            let rp = ir.b.ins().iadd(rows, off);
            let mut vars: Vec<Var> = (0..nc)
                .map(|k| Var::Value(ir.b.ins().load(types::F64, mem, rp, (8 * k) as i32)))
                .collect();
            vars.extend_from_slice(&params);
            for &c in &model.constants {
                let v = ir.c(c);
                vars.push(Var::Value(v));
            }
            let scratch = looped.then(|| ir.b.ins().iadd_imm(io, (8 * scratch_at(np)) as i64));
            let err = emit_value(&mut ir, tape, &vars, tape.output(1), scratch);
            let s = ir.b.use_var(v_ms);
            let s = ir.add(s, err);
            ir.b.def_var(v_ms, s);
            let i1 = ir.b.ins().iadd_imm(i, 1);
            ir.b.def_var(v_mi, i1);
            ir.b.ins().jump(m_header, &[]);
            ir.b.switch_to_block(m_exit);
            let s = ir.b.use_var(v_ms);
            ir.b.ins().store(mem, s, ep, 0);
            let done = ir.b.ins().iconst(types::I64, -1);
            ir.b.ins().return_(&[done]);
        }
        b.switch_to_block(train_entry);
        let zero_i = b.ins().iconst(types::I64, 0);
        b.def_var(v_e, zero_i);
        b.def_var(v_t, t0);
        let sum0 = b.ins().load(types::F64, mem, io, (8 * IO_SUM) as i32);
        b.def_var(v_sum, sum0);
        let max0 = b.ins().load(types::F64, mem, io, (8 * IO_MAX) as i32);
        b.def_var(v_max, max0);
        for (k, v) in v_p.iter().enumerate() {
            let x = b.ins().load(types::F64, mem, pp, (8 * k) as i32);
            b.def_var(*v, x);
        }
        let mut ir = Ir {
            b: &mut b,
            calls: &calls,
        };
        let consts = Consts::write(&mut ir, kind, io, IO_SQ + np);
        ir.b.ins().jump(ep_header, &[]);

        // ep_header: while e < epochs
        ir.b.switch_to_block(ep_header);
        let e = ir.b.use_var(v_e);
        let more_epochs = ir.b.ins().icmp(IntCC::SignedLessThan, e, n_epochs);
        ir.b.ins().brif(more_epochs, ep_start, &[], exit_ok, &[]);
        ir.b.switch_to_block(ep_start);
        let zero_i = ir.b.ins().iconst(types::I64, 0);
        ir.b.def_var(v_i, zero_i);
        ir.b.ins().jump(header, &[]);

        // header: if i < n (the loop tests again at its bottom, where one branch both
        // closes it and leaves it)
        ir.b.switch_to_block(header);
        let i = ir.b.use_var(v_i);
        let more = ir.b.ins().icmp(IntCC::SignedLessThan, i, n);
        ir.b.ins().brif(more, body, &[], ep_end, &[]);

        // body: one step
        ir.b.switch_to_block(body);
        let i = ir.b.use_var(v_i);
        let wrt: Vec<u32> = (nc..nc + np).map(|s| s as u32).collect();
        // One row's forward and reverse pass, from row `r` (a row index).
        let one_row = |ir: &mut Ir<'_, '_>, r: Value| {
            let off = ir.b.ins().imul_imm(r, (8 * nc) as i64);
            let rp = ir.b.ins().iadd(rows, off);
            let mut vars: Vec<Value> = (0..nc)
                .map(|k| ir.b.ins().load(types::F64, mem, rp, (8 * k) as i32))
                .collect();
            if looped {
                vars.extend((0..np).map(|k| ir.b.ins().load(types::F64, mem, pp, (8 * k) as i32)));
            } else {
                vars.extend(v_p.iter().map(|v| ir.b.use_var(*v)));
            }
            for &c in &model.constants {
                let v = ir.c(c);
                vars.push(v);
            }
            let out = tape.output(1) as usize;
            let Gradient::Fd { scheme, h } = gradient else {
                // Zero adjoints are not tested (see `emit`): a NaN gradient makes its
                // parameter NaN (below), which stops the loop, and the caller replays
                // that step with the interpreter.
                return emit_row(ir, tape, &vars, out as u32, &wrt);
            };
            // `Trainer::row_fd`: the error at the parameters, then at each one moved by
            // ±h, in the same operations (Cranelift shares what a move leaves alone).
            let vals = emit_forward(ir, tape, &vars);
            let f0 = vals[out];
            let hv = ir.c(h);
            let grads = (0..np)
                .map(|i| {
                    let p = vars[nc + i];
                    let at = |ir: &mut Ir<'_, '_>, v: Value| {
                        let mut moved = vars.clone();
                        moved[nc + i] = v;
                        emit_forward(ir, tape, &moved)[out]
                    };
                    match scheme {
                        Scheme::Forward => {
                            let ph = ir.add(p, hv);
                            let e = at(ir, ph);
                            let d = ir.sub(e, f0);
                            ir.div(d, hv)
                        }
                        Scheme::Backward => {
                            let ph = ir.sub(p, hv);
                            let e = at(ir, ph);
                            let d = ir.sub(f0, e);
                            ir.div(d, hv)
                        }
                        Scheme::Central => {
                            let ph = ir.add(p, hv);
                            let up = at(ir, ph);
                            let pl = ir.sub(p, hv);
                            let down = at(ir, pl);
                            let d = ir.sub(up, down);
                            let two_h = ir.c(2.0 * h);
                            ir.div(d, two_h)
                        }
                    }
                })
                .collect();
            Row::exact_values(vals, grads)
        };
        // A large model's row from row `r` (see `emit_row_in_memory`), each gradient
        // handed to `put(k, raw, canon)` as soon as it is whole; the row's error.
        let g_at = grads_at(np);
        let row_in_memory =
            |ir: &mut Ir<'_, '_>,
             r: Value,
             put: &mut dyn FnMut(&mut Ir<'_, '_>, usize, Value, bool)| {
                let off = ir.b.ins().imul_imm(r, (8 * nc) as i64);
                let rp = ir.b.ins().iadd(rows, off);
                // The row's few columns once; the many parameters where they are read.
                let mut vars: Vec<Var> = (0..nc)
                    .map(|k| Var::Value(ir.b.ins().load(types::F64, mem, rp, (8 * k) as i32)))
                    .collect();
                vars.extend((0..np).map(|k| Var::At(pp, (8 * k) as i32)));
                for &c in &model.constants {
                    let v = ir.c(c);
                    vars.push(Var::Value(v));
                }
                let scratch = ir.b.ins().iadd_imm(io, (8 * scratch_at(np)) as i64);
                emit_row_in_memory(ir, tape, &vars, scratch, tape.output(1), &wrt, put)
            };
        let p_old: Vec<Value> = v_p.iter().map(|v| ir.b.use_var(*v)).collect();
        let (mut row, err, m) = if batched {
            // The interpreter's batch: `grad = 0.0`, `grad += g_row` row by row, then
            // `grad /= m`, and the errors alike. A sum that starts at `+0.0` is never
            // `-0.0`, so adding a raw gradient (the exact one but for the sign of a zero)
            // gives the exact sum: the mean is the interpreter's, bit for bit.
            let inner = ir.b.create_block();
            let mean = ir.b.create_block();
            let left = ir.b.ins().isub(n, i);
            let short = ir.b.ins().icmp(IntCC::SignedLessThan, left, batch);
            let m = ir.b.ins().select(short, left, batch);
            let zero_i = ir.b.ins().iconst(types::I64, 0);
            ir.b.def_var(v_j, zero_i);
            let zero = ir.c(0.0);
            ir.b.def_var(v_es, zero);
            for v in &v_gs {
                ir.b.def_var(*v, zero);
            }
            // A large model's sums wait in memory, where the update reads them.
            for k in (0..np).filter(|_| in_memory) {
                ir.b.ins().store(mem, zero, io, (8 * (g_at + k)) as i32);
            }
            ir.b.ins().jump(inner, &[]);
            ir.b.switch_to_block(inner);
            let j = ir.b.use_var(v_j);
            let r = ir.b.ins().iadd(i, j);
            let err = if in_memory {
                row_in_memory(&mut ir, r, &mut |ir, k, raw, _| {
                    let at = (8 * (g_at + k)) as i32;
                    let gs = ir.b.ins().load(types::F64, mem, io, at);
                    let gs = ir.add(gs, raw);
                    ir.b.ins().store(mem, gs, io, at);
                })
            } else {
                let row = one_row(&mut ir, r);
                for (v, g) in v_gs.iter().zip(&row.raw) {
                    let gs = ir.b.use_var(*v);
                    let gs = ir.add(gs, *g);
                    ir.b.def_var(*v, gs);
                }
                row.vals[tape.output(1) as usize]
            };
            let es = ir.b.use_var(v_es);
            let es = ir.add(es, err);
            ir.b.def_var(v_es, es);
            let j1 = ir.b.ins().iadd_imm(j, 1);
            ir.b.def_var(v_j, j1);
            let more = ir.b.ins().icmp(IntCC::SignedLessThan, j1, m);
            ir.b.ins().brif(more, inner, &[], mean, &[]);
            ir.b.switch_to_block(mean);
            let mf = ir.b.ins().fcvt_from_sint(types::F64, m);
            let es = ir.b.use_var(v_es);
            let err = ir.div(es, mf);
            let grads: Vec<Value> = v_gs
                .iter()
                .map(|v| {
                    let gs = ir.b.use_var(*v);
                    ir.div(gs, mf)
                })
                .collect();
            for k in (0..np).filter(|_| in_memory) {
                let at = (8 * (g_at + k)) as i32;
                let gs = ir.b.ins().load(types::F64, mem, io, at);
                let g = ir.div(gs, mf);
                ir.b.ins().store(mem, g, io, at);
            }
            (Row::exact_values(Vec::new(), grads), err, m)
        } else if in_memory {
            // The exact gradients go straight to where the looped update reads them.
            let err = row_in_memory(&mut ir, i, &mut |ir, k, raw, canon| {
                let g = exact(ir, raw, canon);
                ir.b.ins().store(mem, g, io, (8 * (g_at + k)) as i32);
            });
            let one = ir.b.ins().iconst(types::I64, 1);
            (Row::exact_values(Vec::new(), Vec::new()), err, one)
        } else {
            let row = one_row(&mut ir, i);
            let err = row.vals[tape.output(1) as usize];
            let one = ir.b.ins().iconst(types::I64, 1);
            (row, err, one)
        };
        if !fused {
            row = row.unfused();
        }
        let t = ir.b.use_var(v_t);
        let t_new = ir.b.ins().iadd_imm(t, 1);
        // Each new parameter is also stored as soon as it is computed. The store is not
        // needed (the exit writes the parameters back), but Cranelift computes a pure
        // value where it is first used, and without it that would be at the loop's back
        // edge, with every intermediate of every update still alive until then: register
        // pressure that spilled the parameters themselves. (Not `trusted`: a vector
        // access may straddle 16 bytes.)
        let state = StateMem {
            ptr: sp,
            params: pp,
            mem: MemFlags::new().with_notrap(),
        };
        let ps = PerStep::emit(&mut ir, kind, &consts, t_new);
        let acc = if looped {
            // The exact gradients to memory, then the update as a loop over groups of
            // `width` parameters, from memory to memory, summing the new parameters for
            // the divergence test and the squared gradients for the norms as it goes.
            for k in (0..np).filter(|_| !in_memory) {
                let v = row.exact(&mut ir, k);
                ir.b.ins().store(mem, v, io, (8 * (g_at + k)) as i32);
            }
            let lp = ir.b.create_block();
            let after = ir.b.create_block();
            let full = np / width * width;
            let zero_i = ir.b.ins().iconst(types::I64, 0);
            ir.b.def_var(v_k, zero_i);
            // The flag of `update_group`, which the test below reads as the sum.
            let flag = ir.sub(err, err);
            ir.b.def_var(v_acc, flag);
            ir.b.ins().jump(lp, &[]);
            ir.b.switch_to_block(lp);
            let off = ir.b.use_var(v_k);
            let acc = ir.b.use_var(v_acc);
            let acc = update_group(
                &mut ir, kind, &consts, &ps, io, pp, sp, off, np, width, grad_norms, acc,
            );
            ir.b.def_var(v_acc, acc);
            next_offset(&mut ir, v_k, off, 8 * width, 8 * full, lp, after);
            let acc = ir.b.use_var(v_acc);
            if full < np {
                let off = ir.b.ins().iconst(types::I64, (8 * full) as i64);
                update_group(
                    &mut ir,
                    kind,
                    &consts,
                    &ps,
                    io,
                    pp,
                    sp,
                    off,
                    np,
                    np - full,
                    grad_norms,
                    acc,
                )
            } else {
                acc
            }
        } else {
            let p_new = emit_step(
                &mut ir, kind, &consts, &ps, &p_old, &mut row, &state, np, width,
            );
            for (v, x) in v_p.iter().zip(&p_new) {
                ir.b.def_var(*v, *x);
            }
            // The divergence test's sum (below).
            let mut acc = err;
            for &v in &p_new {
                acc = ir.add(acc, v);
            }
            // (The raw gradients will do: `g*g` is blind to the sign of a zero.)
            for k in (0..np).filter(|_| grad_norms) {
                let g = row.raw[k];
                let s =
                    ir.b.ins()
                        .load(types::F64, mem, io, (8 * (IO_SQ + k)) as i32);
                let gg = ir.mul(g, g);
                let s = ir.add(s, gg);
                ir.b.ins().store(mem, s, io, (8 * (IO_SQ + k)) as i32);
            }
            acc
        };
        let sum = ir.b.use_var(v_sum);
        let sum = ir.add(sum, err);
        ir.b.def_var(v_sum, sum);
        // The largest error of the epoch, for the caller's exact divergence test.
        let mx = ir.b.use_var(v_max);
        let gt = ir.cmp(FloatCC::GreaterThan, err, mx);
        let mx = ir.select(gt, err, mx);
        ir.b.def_var(v_max, mx);

        // The divergence test: `x - x` is 0 for a finite x and NaN otherwise. The
        // gradients need no test of their own: with every compiled rule a NaN or
        // infinite gradient makes its parameter NaN or infinite (`p - g*lr` is `∓inf`
        // or NaN, Adam's `m/sqrt(s)` is `inf/inf`), and the interpreter's replay of the
        // step then names the gradient as the cause, as `Trainer::run` does.
        // One sum tests them all: it is NaN or infinite when one of them is (or, rarely,
        // when finite values overflow: a false alarm, which the replay clears).
        // Both tests in one comparison: `(acc - acc) + err` is `err` (but for the sign
        // of a zero) when all are finite and NaN otherwise, and "NaN or above the
        // threshold" is `UnorderedOrGreaterThan`.
        let zero_or_nan = ir.sub(acc, acc);
        let x = ir.add(zero_or_nan, err);
        let thr = ir.b.ins().load(types::F64, mem, io, (8 * IO_THR) as i32);
        let bad = ir.cmp(FloatCC::UnorderedOrGreaterThan, x, thr);
        ir.b.ins().brif(bad, exit_bad, &[], cont, &[]);

        // cont: commit the step
        ir.b.switch_to_block(cont);
        ir.b.def_var(v_t, t_new);
        let i1 = ir.b.ins().iadd(i, m);
        ir.b.def_var(v_i, i1);
        let more = ir.b.ins().icmp(IntCC::SignedLessThan, i1, n);
        ir.b.ins().brif(more, body, &[], ep_end, &[]);

        // ep_end: record the epoch's sums in `ep` and start the next epoch's from zero.
        ir.b.switch_to_block(ep_end);
        let rec = ir.b.ins().imul_imm(e, (8 * (IO_SQ + np)) as i64);
        let rec = ir.b.ins().iadd(ep, rec);
        let zero = ir.c(0.0);
        // (With many parameters, their Σg² as a loop too: see `LOOPED_FROM`.)
        let unrolled = if looped { IO_SQ } else { IO_SQ + np };
        for (k, v, fresh) in [(IO_SUM, v_sum, 0.0), (IO_MAX, v_max, f64::NEG_INFINITY)] {
            let x = ir.b.use_var(v);
            ir.b.ins().store(mem, x, rec, (8 * k) as i32);
            let fresh = ir.c(fresh);
            ir.b.def_var(v, fresh);
            ir.b.ins().store(mem, fresh, io, (8 * k) as i32);
        }
        for k in IO_SQ..unrolled {
            let v = ir.b.ins().load(types::F64, mem, io, (8 * k) as i32);
            ir.b.ins().store(mem, v, rec, (8 * k) as i32);
            ir.b.ins().store(mem, zero, io, (8 * k) as i32);
        }
        if looped {
            let sq_loop = ir.b.create_block();
            let sq_done = ir.b.create_block();
            let zero_i = ir.b.ins().iconst(types::I64, 0);
            ir.b.def_var(v_r, zero_i);
            ir.b.ins().jump(sq_loop, &[]);
            ir.b.switch_to_block(sq_loop);
            let off = ir.b.use_var(v_r);
            let src = ir.b.ins().iadd(io, off);
            let dst = ir.b.ins().iadd(rec, off);
            let at = (8 * IO_SQ) as i32;
            let v = ir.b.ins().load(types::F64, mem, src, at);
            ir.b.ins().store(mem, v, dst, at);
            ir.b.ins().store(mem, zero, src, at);
            next_offset(&mut ir, v_r, off, 8, 8 * np, sq_loop, sq_done);
        }
        let e1 = ir.b.ins().iadd_imm(e, 1);
        ir.b.def_var(v_e, e1);
        ir.b.ins().jump(ep_header, &[]);

        // The normal exit writes back the parameters. A bad step has already written
        // its state and sums: the caller restores its copies and redoes the good steps.
        ir.b.switch_to_block(exit_ok);
        for (k, v) in [(IO_SUM, v_sum), (IO_MAX, v_max)] {
            let x = ir.b.use_var(v);
            ir.b.ins().store(mem, x, io, (8 * k) as i32);
        }
        for (k, v) in v_p.iter().enumerate() {
            let x = ir.b.use_var(*v);
            ir.b.ins().store(mem, x, pp, (8 * k) as i32);
        }
        let done = ir.b.ins().iconst(types::I64, -1);
        ir.b.ins().return_(&[done]);
        ir.b.switch_to_block(exit_bad);
        for (k, v) in [(IO_SUM, v_sum), (IO_MAX, v_max)] {
            let x = ir.b.use_var(v);
            ir.b.ins().store(mem, x, io, (8 * k) as i32);
        }
        let at = ir.b.use_var(v_i);
        // Steps, not rows: `e·ceil(n/batch) + i/batch` (the rows of a step are a batch's).
        let (steps, at) = if batched {
            let nb = ir.b.ins().iadd(n, batch);
            let nb = ir.b.ins().iadd_imm(nb, -1);
            (ir.b.ins().sdiv(nb, batch), ir.b.ins().sdiv(at, batch))
        } else {
            (n, at)
        };
        let base = ir.b.ins().imul(e, steps);
        let at = ir.b.ins().iadd(base, at);
        ir.b.ins().return_(&[at]);
        b.seal_all_blocks();
        b.finalize();

        let native = Native::finish(module, &mut ctx, "epoch")?;
        Ok(EpochKernel {
            native: Arc::new(native),
            code: tape.code().to_vec(),
            n_slots: tape.n_slots(),
            constants: model.constants.clone(),
            n_cols: nc,
            n_params: np,
            kind,
            grad_norms,
            batched,
            fused,
            gradient,
        })
    }

    /// The update rule's kind.
    pub fn kind(&self) -> OptKind {
        self.kind
    }

    /// Whether the kernel sums squared gradients (and so can keep epoch summaries).
    pub fn has_grad_norms(&self) -> bool {
        self.grad_norms
    }

    /// Whether this kernel computes `model` (the same tape and constants).
    pub fn matches(&self, model: &CompiledModel) -> bool {
        model.n_cols == self.n_cols
            && model.n_params == self.n_params
            && model.tape.n_slots() == self.n_slots
            && model.constants == self.constants
            && model.tape.code() == self.code.as_slice()
    }

    /// Runs the native loop over `rows` (`n_rows` rows of the model's columns).
    ///
    /// Returns `None` when all rows were stepped, or the index of the bad row (see the
    /// type's docs). `io` is `[threshold, sum, largest, Σg²..., hypers..., room]`, of
    /// [`EpochKernel::io_len`] values; the kernel fills the room (see [`Consts`]).
    ///
    /// # Panics
    ///
    /// If a buffer is shorter than the kernel needs: the native code trusts the lengths,
    /// so they are checked here, before it runs.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn call(
        &self,
        rows: &[f64],
        n_rows: usize,
        params: &mut [f64],
        state: &mut [f64],
        io: &mut [f64],
        t0: u64,
        epochs: usize,
        records: &mut [f64],
        batch: usize,
    ) -> Option<usize> {
        let np = self.n_params;
        assert!(rows.len() >= n_rows * self.n_cols, "rows too short");
        assert!(params.len() >= np, "params too short");
        assert!(state.len() >= self.kind.n_state() * np, "state too short");
        assert!(io.len() >= self.io_len(), "io too short");
        assert!(
            records.len() >= epochs * self.record_len(),
            "records too short"
        );
        assert!(n_rows.saturating_mul(epochs) <= i64::MAX as usize && t0 <= i64::MAX as u64);
        assert!(batch >= 1 && batch <= i64::MAX as usize, "no rows per step");
        // SAFETY: `entry` was produced by `compile` for a function of type `EpochFn`,
        // and `self.native` keeps its memory alive for the duration of the call. The
        // code reads `n_rows * n_cols` values from `rows`, reads and writes `n_params`
        // values of `params`, `n_state * n_params` of `state`, `io_len()` of `io` and
        // `epochs * record_len()` of `records`: exactly the lengths asserted above. It
        // neither keeps the pointers nor touches other memory (its only calls are the
        // pure `EXTERNS`).
        let r = unsafe {
            let f: EpochFn = std::mem::transmute::<*const u8, EpochFn>(self.native.entry);
            f(
                rows.as_ptr(),
                n_rows as i64,
                params.as_mut_ptr(),
                state.as_mut_ptr(),
                io.as_mut_ptr(),
                t0 as i64,
                epochs as i64,
                records.as_mut_ptr(),
                batch as i64,
            )
        };
        usize::try_from(r).ok()
    }

    /// [`gradsheet_train::Trainer::mean_error`] at `params` over `trainer`'s rows, on
    /// native code and bit for bit (the same forward pass as the training loop's, the
    /// errors summed from `0.0` in row order, then divided by the rows): where a map's
    /// verdict reads its runs' initial and final errors, three passes of the interpreter
    /// cost a twentieth of the map. On the interpreter if the kernel was compiled for
    /// another model.
    ///
    /// # Panics
    ///
    /// If `params` does not hold one value per parameter of the model.
    pub fn mean_error(&self, trainer: &gradsheet_train::Trainer, params: &[f64]) -> f64 {
        if !self.matches(&trainer.compiled) {
            let mut ws = trainer.compiled.workspace();
            return trainer.mean_error(&mut ws, params);
        }
        self.mean_error_of(&trainer.rows, trainer.n_rows, params)
    }

    /// [`EpochKernel::mean_error`] over `n_rows` rows of `rows` (the model's columns, row
    /// after row), for a caller that knows the kernel is the model's.
    pub(crate) fn mean_error_of(&self, rows: &[f64], n_rows: usize, params: &[f64]) -> f64 {
        assert!(rows.len() >= n_rows * self.n_cols, "rows too short");
        assert_eq!(params.len(), self.n_params, "one value per parameter");
        assert!(n_rows <= i64::MAX as usize);
        let mut sum = [0.0f64];
        // A large model's pass keeps a row's values in `io`'s scratch room (see
        // `emit_value`); a small one's touches no `io`.
        let mut io = vec![
            0.0;
            if self.scratch_len() > 0 {
                self.io_len()
            } else {
                0
            }
        ];
        let io_ptr = if io.is_empty() {
            std::ptr::null_mut()
        } else {
            io.as_mut_ptr()
        };
        // SAFETY: as in `call`; with a negative number of epochs the code reads
        // `n_rows * n_cols` values of `rows` and the `n_params` values of `params`,
        // writes `sum[0]`, and for a large model (`scratch_len()` > 0) the scratch room of
        // `io` (`io_len()` values here); it touches neither the state nor, for a small
        // model, `io` (null then). `params` is passed as `*mut` for the signature's
        // sake: this mode never writes it.
        unsafe {
            let f: EpochFn = std::mem::transmute::<*const u8, EpochFn>(self.native.entry);
            f(
                rows.as_ptr(),
                n_rows as i64,
                params.as_ptr().cast_mut(),
                std::ptr::null_mut(),
                io_ptr,
                0,
                -1,
                sum.as_mut_ptr(),
                1,
            );
        }
        sum[0] / n_rows as f64
    }

    /// The length of the `io` block.
    pub(crate) fn io_len(&self) -> usize {
        scratch_at(self.n_params) + self.scratch_len()
    }

    /// The room `io` keeps for a row's values: a large model's (see
    /// `emit_row_in_memory` and `LOOPED_FROM`), or none.
    fn scratch_len(&self) -> usize {
        if self.n_params >= LOOPED_FROM {
            self.n_slots
        } else {
            0
        }
    }

    /// The length of one epoch's record: the sum, the largest error, the Σg².
    pub(crate) fn record_len(&self) -> usize {
        IO_SQ + self.n_params
    }
}

/// From how many parameters the update is a loop over them in memory rather than
/// straight-line code with the parameters in registers. Straight-line code is the
/// fastest for small models (W1, W2), but its size grows with the parameters, and
/// Cranelift's register allocator with it: a 130-parameter model's Adam took 19 ms to
/// compile, nearly all of it allocating registers for the unrolled update. Past a few
/// dozen parameters the registers cannot hold them anyway.
const LOOPED_FROM: usize = crate::emit::IN_MEMORY_FROM;

/// The bottom of a loop over byte offsets: `var = off + stride`, back to `body` while it
/// is below `end`, else on to `done` (where the builder then is).
fn next_offset(
    ir: &mut Ir<'_, '_>,
    var: Variable,
    off: Value,
    stride: usize,
    end: usize,
    body: cranelift_codegen::ir::Block,
    done: cranelift_codegen::ir::Block,
) {
    let next = ir.b.ins().iadd_imm(off, stride as i64);
    ir.b.def_var(var, next);
    let more = ir.b.ins().icmp_imm(IntCC::SignedLessThan, next, end as i64);
    ir.b.ins().brif(more, body, &[], done, &[]);
    ir.b.switch_to_block(done);
}

/// Where the exact gradients of a step wait in `io` for the looped update: after the
/// rule's numbers.
fn grads_at(np: usize) -> usize {
    IO_SQ + np + K::HYPERS + Consts::LEN
}

/// Where a row's values wait in `io` for the reverse pass, in a model whose row keeps
/// them in memory (`emit_row_in_memory`): after the gradients.
fn scratch_at(np: usize) -> usize {
    grads_at(np) + np
}

/// One group of the looped update (see [`LOOPED_FROM`]): the parameters at byte offset
/// `off` (`width` of them, or fewer at the end) read from memory with their exact
/// gradients, updated by [`emit_step`] and written back, their squared gradients added
/// to the norms' sums. Returns `acc` with the bits of `v - v` of each new parameter
/// `v` or-ed in: +0.0 while every one is finite, NaN otherwise.
#[allow(clippy::too_many_arguments)]
fn update_group(
    ir: &mut Ir<'_, '_>,
    kind: OptKind,
    consts: &Consts,
    ps: &PerStep,
    io: Value,
    pp: Value,
    sp: Value,
    off: Value,
    np: usize,
    width: usize,
    grad_norms: bool,
    acc: Value,
) -> Value {
    let mem = MemFlags::new().with_notrap();
    let pk = ir.b.ins().iadd(pp, off);
    let sk = ir.b.ins().iadd(sp, off);
    let ik = ir.b.ins().iadd(io, off);
    let g_at = grads_at(np);
    let p: Vec<Value> = (0..width)
        .map(|j| ir.b.ins().load(types::F64, mem, pk, (8 * j) as i32))
        .collect();
    let g: Vec<Value> = (0..width)
        .map(|j| {
            ir.b.ins()
                .load(types::F64, mem, ik, (8 * (g_at + j)) as i32)
        })
        .collect();
    let mut row = Row::exact_values(Vec::new(), g.clone());
    let st = StateMem {
        ptr: sk,
        params: pk,
        mem,
    };
    let p_new = emit_step(ir, kind, consts, ps, &p, &mut row, &st, np, width);
    // `v - v` is +0.0 (no bit set) for a finite v and NaN otherwise: or-ing the bits
    // is a flag of one cycle per parameter, where a sum of the parameters (as the
    // straight-line code does) is a chain of additions that cost this loop a third of
    // a step.
    let mut acc = acc;
    for &v in &p_new {
        let d = ir.sub(v, v);
        acc = ir.b.ins().bor(acc, d);
    }
    for (j, &gj) in g.iter().enumerate().filter(|_| grad_norms) {
        let at = (8 * (IO_SQ + j)) as i32;
        let s = ir.b.ins().load(types::F64, mem, ik, at);
        let gg = ir.mul(gj, gj);
        let s = ir.add(s, gg);
        ir.b.ins().store(mem, s, ik, at);
    }
    acc
}

/// The optimizer state in memory (variable-major, `n` values per variable).
struct StateMem {
    ptr: Value,
    params: Value,
    mem: MemFlags,
}

impl StateMem {
    /// State value `k` (and, for a vector type, the ones after it).
    fn get(&self, ir: &mut Ir<'_, '_>, ty: types::Type, k: usize) -> Value {
        ir.b.ins().load(ty, self.mem, self.ptr, (8 * k) as i32)
    }
    fn set(&self, ir: &mut Ir<'_, '_>, k: usize, v: Value) {
        ir.b.ins().store(self.mem, v, self.ptr, (8 * k) as i32);
    }
    /// Stores parameter `k`'s new value (and the next one's, for a vector).
    fn param(&self, ir: &mut Ir<'_, '_>, k: usize, v: Value) {
        ir.b.ins().store(self.mem, v, self.params, (8 * k) as i32);
    }
}

/// A number an update rule reads in every step, by name: a hyperparameter (the first
/// [`K::HYPERS`], which the caller writes into `io` by [`OptKind::hypers`]) or a number
/// derived from them at the kernel's entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum K {
    /// The learning rate.
    Lr,
    /// The workbooks' β, or β1 (both Adams).
    Beta1,
    /// β2 (both Adams).
    Beta2,
    /// torch's ε.
    Eps,
    /// torch's weight decay λ.
    WeightDecay,
    /// torch's momentum factor μ (SGD, RMSprop).
    Momentum,
    /// torch SGD's dampening τ.
    Dampening,
    /// torch RMSprop's α.
    Alpha,
    /// torch Adagrad's learning-rate decay.
    LrDecay,
    /// `1 - β` or `1 - β1` (also torch Adam's lerp weight `w`).
    OneMinusBeta1,
    /// `1 - β2`.
    OneMinusBeta2,
    /// `1 - τ`.
    OneMinusDampening,
    /// `1 - α` (also torch RMSprop's lerp weight `w`).
    OneMinusAlpha,
    /// `-lr`.
    NegLr,
    /// torch's lerp: `1 - w`.
    LerpOneMinusW,
    /// AdamW's `1 - lr*λ`.
    Decay,
}

impl K {
    /// How many hyperparameters (the variants before the derived numbers).
    pub(crate) const HYPERS: usize = K::OneMinusBeta1 as usize;
    /// How many numbers in all.
    const COUNT: usize = K::Decay as usize + 1;
}

/// The numbers an update rule reads in every step: the hyperparameters and what the
/// rule derives from them, computed once at the kernel's entry and kept in `io` after
/// the hyperparameters as pairs `[v, v]`, so that one load gives an `F64` or an
/// `F64X2`. Kept in registers, they would take them from the parameters (Cranelift
/// then spills those, which puts a store and a load on the critical path); loads are
/// off it, and each one replaces an arithmetic instruction and a broadcast per step.
struct Consts {
    io: Value,
    /// Where the hyperparameters start in `io`.
    hyp: usize,
}

impl Consts {
    /// The length of the pairs' area.
    const LEN: usize = 2 * K::COUNT;

    fn offset(&self, k: K) -> i32 {
        (8 * (self.hyp + K::HYPERS + 2 * k as usize)) as i32
    }

    /// Reads the hyperparameters at `io[hyp..]`, derives what `kind` needs, and stores
    /// the pairs (in the entry block: once per call).
    fn write(ir: &mut Ir<'_, '_>, kind: OptKind, io: Value, hyp: usize) -> Consts {
        let c = Consts { io, hyp };
        let mem = MemFlags::trusted();
        let h = |ir: &mut Ir<'_, '_>, k: K| {
            ir.b.ins()
                .load(types::F64, mem, io, (8 * (hyp + k as usize)) as i32)
        };
        let one = ir.c(1.0);
        // Only the rule's own numbers: the entry runs at every call (every epoch of a
        // map's runs), so it loads and stores no more than the update reads.
        let mut all: Vec<(K, Value)> = Vec::new();
        for &k in kind.reads() {
            let v = h(ir, k);
            all.push((k, v));
        }
        let get = |all: &[(K, Value)], k: K| {
            all.iter()
                .find(|(have, _)| *have == k)
                .map(|(_, v)| *v)
                .expect("a rule derives numbers from its own hyperparameters only")
        };
        let mut derived: Vec<(K, Value)> = Vec::new();
        match kind {
            OptKind::Sgd | OptKind::Adagrad => {}
            OptKind::Momentum | OptKind::Rmsprop => {
                derived.push((K::OneMinusBeta1, ir.sub(one, get(&all, K::Beta1))));
            }
            OptKind::Adam => {
                derived.push((K::OneMinusBeta1, ir.sub(one, get(&all, K::Beta1))));
                derived.push((K::OneMinusBeta2, ir.sub(one, get(&all, K::Beta2))));
            }
            OptKind::TorchSgd { .. } => {
                derived.push((K::NegLr, ir.neg(get(&all, K::Lr))));
                derived.push((K::OneMinusDampening, ir.sub(one, get(&all, K::Dampening))));
            }
            OptKind::TorchAdagrad { .. } => {}
            OptKind::TorchRmsprop { .. } => {
                let w = ir.sub(one, get(&all, K::Alpha));
                derived.push((K::OneMinusAlpha, w));
                derived.push((K::LerpOneMinusW, ir.sub(one, w)));
                derived.push((K::NegLr, ir.neg(get(&all, K::Lr))));
            }
            OptKind::TorchAdam { .. } => {
                let w = ir.sub(one, get(&all, K::Beta1));
                derived.push((K::OneMinusBeta1, w));
                derived.push((K::OneMinusBeta2, ir.sub(one, get(&all, K::Beta2))));
                derived.push((K::LerpOneMinusW, ir.sub(one, w)));
                let lw = ir.mul(get(&all, K::Lr), get(&all, K::WeightDecay));
                derived.push((K::Decay, ir.sub(one, lw)));
            }
        }
        for (k, v) in all.into_iter().chain(derived) {
            let at = c.offset(k);
            ir.b.ins().store(mem, v, io, at);
            ir.b.ins().store(mem, v, io, at + 8);
        }
        c
    }

    /// The number `k`, in every lane of a `ty`.
    fn get(&self, ir: &mut Ir<'_, '_>, ty: types::Type, k: K) -> Value {
        // Not `aligned`: a pair need not sit on 16 bytes.
        let mem = MemFlags::new().with_notrap();
        ir.b.ins().load(ty, mem, self.io, self.offset(k))
    }
}

/// Parameters updated together: one (an `F64`) or two neighbours (an `F64X2` vector).
///
/// Every update rule is the same arithmetic for each parameter, so two parameters can
/// share each instruction: lane-wise IEEE operations give each lane exactly the bits
/// of the scalar operation. What this buys is the divider: Adam and RMSProp spend most
/// of a step in `sqrt` and `/`, whose units take a new operation only every few cycles,
/// and one `sqrtpd` does the work of two `sqrtsd` in the same time.
#[derive(Clone, Copy)]
struct Group {
    at: usize,
    width: usize,
}

impl Group {
    /// `n` parameters in groups of `width` (1 or 2), the last one narrower if need be.
    fn split(n: usize, width: usize) -> impl Iterator<Item = Group> {
        (0..n).step_by(width).map(move |at| Group {
            at,
            width: width.min(n - at),
        })
    }
    fn ty(self) -> types::Type {
        if self.width == 2 {
            types::F64X2
        } else {
            types::F64
        }
    }
    fn range(self) -> std::ops::Range<usize> {
        self.at..self.at + self.width
    }
}

/// What a rule computes once per step, whatever the parameter: torch SGD's "first step",
/// torch Adam's bias corrections, torch's lerp formula, torch Adagrad's `-clr`.
#[derive(Clone, Copy)]
struct PerStep {
    first: Option<Value>,
    bias: Option<(Value, Value)>,
    lerp_w: K,
    small: Option<Value>,
    neg_clr: Option<Value>,
}

impl PerStep {
    fn emit(ir: &mut Ir<'_, '_>, kind: OptKind, c: &Consts, t: Value) -> PerStep {
        // What a rule computes once per step, whatever the parameter.
        let first = matches!(kind, OptKind::TorchSgd { .. })
            .then(|| ir.b.ins().icmp_imm(IntCC::Equal, t, 1));
        let bias = match kind {
            OptKind::TorchAdam { .. } => {
                let tf = ir.b.ins().fcvt_from_uint(types::F64, t);
                let one = ir.c(1.0);
                let (lr, b1, b2) = (
                    c.get(ir, types::F64, K::Lr),
                    c.get(ir, types::F64, K::Beta1),
                    c.get(ir, types::F64, K::Beta2),
                );
                let p1 = ir.call2(Native2::Powf, b1, tf);
                let bc1 = ir.sub(one, p1);
                let p2 = ir.call2(Native2::Powf, b2, tf);
                let bc2 = ir.sub(one, p2);
                let step_size = ir.div(lr, bc1);
                let bc2_sqrt = ir.sqrt(bc2);
                Some((ir.neg(step_size), bc2_sqrt))
            }
            _ => None,
        };
        // `|w| < 0.5`, the choice of formula of torch's lerp (`w` is `1 - β1` or `1 - α`).
        let lerp_w = if matches!(kind, OptKind::TorchAdam { .. }) {
            K::OneMinusBeta1
        } else {
            K::OneMinusAlpha
        };
        let small = matches!(
            kind,
            OptKind::TorchAdam { .. } | OptKind::TorchRmsprop { centered: true, .. }
        )
        .then(|| {
            let w = c.get(ir, types::F64, lerp_w);
            let aw = ir.b.ins().fabs(w);
            let half = ir.c(0.5);
            ir.cmp(FloatCC::LessThan, aw, half)
        });
        // torch Adagrad's `-clr`, with `clr = lr / (1 + (t-1)·lr_decay)`.
        let neg_clr = matches!(kind, OptKind::TorchAdagrad { .. }).then(|| {
            let t1 = ir.b.ins().iadd_imm(t, -1);
            let tf = ir.b.ins().fcvt_from_uint(types::F64, t1);
            let (lr, decay) = (
                c.get(ir, types::F64, K::Lr),
                c.get(ir, types::F64, K::LrDecay),
            );
            let x = ir.mul(tf, decay);
            let one = ir.c(1.0);
            let d = ir.add(one, x);
            let clr = ir.div(lr, d);
            ir.neg(clr)
        });
        PerStep {
            first,
            bias,
            lerp_w,
            small,
            neg_clr,
        }
    }
}

/// One optimizer step, in [`Optimizer::step`]'s operation order, for the parameters `p`
/// in groups of `width` (see [`Group`]). The state is variable-major (all of the first
/// state variable, then the second), `n` values each, so a group's state is contiguous
/// too; `st` points at the state and parameters of `p[0]`.
#[allow(clippy::too_many_arguments)]
fn emit_step(
    ir: &mut Ir<'_, '_>,
    kind: OptKind,
    c: &Consts,
    ps: &PerStep,
    p: &[Value],
    g: &mut Row,
    st: &StateMem,
    n: usize,
    width: usize,
) -> Vec<Value> {
    let mut np = p.to_vec();
    let PerStep {
        first,
        bias,
        lerp_w,
        small,
        neg_clr,
    } = *ps;
    for grp in Group::split(p.len(), width) {
        let ty = grp.ty();
        // The scalars of the rule, as wide as the group.
        let k = |ir: &mut Ir<'_, '_>, k: K| c.get(ir, ty, k);
        let pi = ir.pack(&p[grp.range()]);
        // torch's gradient: the exact one, plus `wd·p` (L2) when the rule has a weight
        // decay.
        let l2_grad = |ir: &mut Ir<'_, '_>, g: &mut Row, on: bool| {
            let d = g.exact_group(ir, grp.range());
            if !on {
                return d;
            }
            let wd = k(ir, K::WeightDecay);
            let x = ir.mul(wd, pi);
            ir.add(d, x)
        };
        // torch's `lerp(a, b, w)` with `w = 1 - β1` (Adam) or `1 - α` (RMSprop):
        // `a + w*(b-a)` for |w| < 0.5, else `b - (b-a)*(1-w)`.
        let lerp = |ir: &mut Ir<'_, '_>, a: Value, b: Value| {
            let diff = ir.sub(b, a);
            let w = k(ir, lerp_w);
            let wd1 = ir.mul(w, diff);
            let near = ir.add(a, wd1);
            let omw = k(ir, K::LerpOneMinusW);
            let dd = ir.mul(diff, omw);
            let far = ir.sub(b, dd);
            ir.select(small.expect("computed above for torch's lerp"), near, far)
        };
        let (i, i2) = (grp.at, n + grp.at);
        // The workbook rules' running averages of the gradient, `s·β + (1-β)·g`, and of
        // its square, `s·β + (1-β)·g²`, with `β` and `1-β` the numbers `beta` and `om`.
        let avg_grad = |ir: &mut Ir<'_, '_>, g: &mut Row, s0: Value, beta: K, om: K| {
            let b = k(ir, beta);
            let x = ir.mul(s0, b);
            let o = k(ir, om);
            let y = g.times_group(ir, grp.range(), o);
            ir.add(x, y)
        };
        let avg_sq = |ir: &mut Ir<'_, '_>, g: &mut Row, s0: Value, beta: K, om: K| {
            let b = k(ir, beta);
            let x = ir.mul(s0, b);
            let raw = g.raw_group(ir, grp.range());
            let gg = ir.mul(raw, raw);
            let o = k(ir, om);
            let y = ir.mul(o, gg);
            ir.add(x, y)
        };
        // Each number is loaded just before its use, and each new state value stored
        // as soon as it is computed: Cranelift keeps loads and stores in program order
        // and computes a pure value just before its first use, so this order is what
        // keeps few values alive at once (see `Consts`).
        let new = match kind {
            OptKind::Sgd => {
                // `p − raw·lr`, without the exact gradient's `+0.0` (`Row::exact`): the
                // two differ only in a zero's sign, which changes `p − ·` only for
                // p = −0. Under round-to-nearest `x − y` is −0 only when x is −0, so a
                // parameter that does not start at −0 never is (`run_into` leaves runs
                // that do to the interpreter), and the `+0.0` — a cycle of every
                // step's chain of dependent operations — is not needed.
                let lr = k(ir, K::Lr);
                let raw = ir.pack(&g.raw[grp.range()]);
                let u = ir.mul(raw, lr);
                ir.sub(pi, u)
            }
            OptKind::Momentum => {
                let s0 = st.get(ir, ty, i);
                let m = avg_grad(ir, g, s0, K::Beta1, K::OneMinusBeta1);
                st.set(ir, i, m);
                let lr = k(ir, K::Lr);
                let u = ir.mul(m, lr);
                ir.sub(pi, u)
            }
            OptKind::Rmsprop => {
                let lr = k(ir, K::Lr);
                let gl = g.times_group(ir, grp.range(), lr);
                let s0 = st.get(ir, ty, i);
                let r = ir.sqrt(s0);
                let u = ir.div(gl, r);
                let s_new = avg_sq(ir, g, s0, K::Beta1, K::OneMinusBeta1);
                st.set(ir, i, s_new);
                ir.sub(pi, u)
            }
            OptKind::Adam => {
                let s0 = st.get(ir, ty, i);
                let m = avg_grad(ir, g, s0, K::Beta1, K::OneMinusBeta1);
                st.set(ir, i, m);
                let s1 = st.get(ir, ty, i2);
                let v = avg_sq(ir, g, s1, K::Beta2, K::OneMinusBeta2);
                st.set(ir, i2, v);
                let lr = k(ir, K::Lr);
                let ml = ir.mul(m, lr);
                let r = ir.sqrt(v);
                let u = ir.div(ml, r);
                ir.sub(pi, u)
            }
            OptKind::Adagrad => {
                // `rate = lr / r` (the sheet's own cell), `p -= g·rate`, `sq += g·g`.
                // The rate may be 0 or infinite: the product takes the exact gradient.
                let r = st.get(ir, ty, i);
                let lr = k(ir, K::Lr);
                let rate = ir.div(lr, r);
                let ge = g.exact_group(ir, grp.range());
                let u = ir.mul(ge, rate);
                let sq0 = st.get(ir, ty, i2);
                let raw = g.raw_group(ir, grp.range());
                let gg = ir.mul(raw, raw);
                let sq = ir.add(sq0, gg);
                st.set(ir, i2, sq);
                ir.sub(pi, u)
            }
            OptKind::TorchSgd {
                momentum,
                nesterov,
                weight_decay,
            } => {
                let mut d = l2_grad(ir, g, weight_decay);
                if momentum {
                    let s0 = st.get(ir, ty, i);
                    let mu = k(ir, K::Momentum);
                    let x = ir.mul(s0, mu);
                    let om = k(ir, K::OneMinusDampening);
                    let y = ir.mul(om, d);
                    let later = ir.add(x, y);
                    let buf = ir.select(first.expect("computed above for torch SGD"), d, later);
                    st.set(ir, i, buf);
                    d = if nesterov {
                        let x = ir.mul(mu, buf);
                        ir.add(d, x)
                    } else {
                        buf
                    };
                }
                let neg_lr = k(ir, K::NegLr);
                let u = ir.mul(neg_lr, d);
                ir.add(pi, u)
            }
            OptKind::TorchAdagrad { weight_decay } => {
                let gi = l2_grad(ir, g, weight_decay);
                let s0 = st.get(ir, ty, i);
                let gg = ir.mul(gi, gi);
                let sum = ir.add(s0, gg);
                st.set(ir, i, sum);
                let r = ir.sqrt(sum);
                let eps = k(ir, K::Eps);
                let std = ir.add(r, eps);
                let neg_clr = neg_clr.expect("computed above for torch Adagrad");
                let neg_clr = ir.splat(ty, neg_clr);
                let num = ir.mul(neg_clr, gi);
                let u = ir.div(num, std);
                ir.add(pi, u)
            }
            OptKind::TorchRmsprop {
                weight_decay,
                momentum,
                centered,
            } => {
                let gi = l2_grad(ir, g, weight_decay);
                let s0 = st.get(ir, ty, i);
                let alpha = k(ir, K::Alpha);
                let x = ir.mul(s0, alpha);
                let om = k(ir, K::OneMinusAlpha);
                let y = ir.mul(om, gi);
                let y = ir.mul(y, gi);
                let sq = ir.add(x, y);
                st.set(ir, i, sq);
                let root = if centered {
                    // grad_avg.lerp_(grad, 1 - α), after the momentum buffer if any.
                    let ga_at = (1 + usize::from(momentum)) * n + grp.at;
                    let ga0 = st.get(ir, ty, ga_at);
                    let ga = lerp(ir, ga0, gi);
                    st.set(ir, ga_at, ga);
                    let gaga = ir.mul(ga, ga);
                    let v = ir.sub(sq, gaga);
                    ir.sqrt(v)
                } else {
                    ir.sqrt(sq)
                };
                let eps = k(ir, K::Eps);
                let avg = ir.add(root, eps);
                if momentum {
                    let b0 = st.get(ir, ty, i2);
                    let mu = k(ir, K::Momentum);
                    let x = ir.mul(b0, mu);
                    let q = ir.div(gi, avg);
                    let b = ir.add(x, q);
                    st.set(ir, i2, b);
                    let neg_lr = k(ir, K::NegLr);
                    let u = ir.mul(neg_lr, b);
                    ir.add(pi, u)
                } else {
                    let neg_lr = k(ir, K::NegLr);
                    let num = ir.mul(neg_lr, gi);
                    let u = ir.div(num, avg);
                    ir.add(pi, u)
                }
            }
            OptKind::TorchAdam {
                weight_decay,
                decoupled,
                amsgrad,
            } => {
                let (neg_step, bc2_sqrt) = bias.expect("computed above for torch Adam");
                // AdamW decays the parameter itself; Adam adds L2 to the gradient.
                let gi = l2_grad(ir, g, weight_decay && !decoupled);
                let mut pi = pi;
                if decoupled {
                    let decay = k(ir, K::Decay);
                    pi = ir.mul(pi, decay);
                }
                let s0 = st.get(ir, ty, i);
                let m = lerp(ir, s0, gi);
                st.set(ir, i, m);
                let s1 = st.get(ir, ty, i2);
                let b2 = k(ir, K::Beta2);
                let x = ir.mul(s1, b2);
                let om2 = k(ir, K::OneMinusBeta2);
                let y = ir.mul(om2, gi);
                let y = ir.mul(y, gi);
                let v = ir.add(x, y);
                st.set(ir, i2, v);
                let v = if amsgrad {
                    // The rule's `max` (`Optimizer::step`): `v` if it is greater or the
                    // old maximum is NaN, else the old maximum (so `±0` keeps the old).
                    let i3 = 2 * n + grp.at;
                    let old = st.get(ir, ty, i3);
                    let gt = ir.cmp(FloatCC::GreaterThan, v, old);
                    let nan = ir.cmp(FloatCC::Unordered, old, old);
                    let take = ir.b.ins().bor(gt, nan);
                    let mx = ir.select_lanes(take, v, old);
                    st.set(ir, i3, mx);
                    mx
                } else {
                    v
                };
                let r = ir.sqrt(v);
                let bc2_sqrt = ir.splat(ty, bc2_sqrt);
                let q = ir.div(r, bc2_sqrt);
                let eps = k(ir, K::Eps);
                let denom = ir.add(q, eps);
                let neg_step = ir.splat(ty, neg_step);
                let num = ir.mul(neg_step, m);
                let u = ir.div(num, denom);
                ir.add(pi, u)
            }
        };
        // Stored at once: see the caller.
        st.param(ir, grp.at, new);
        let lanes = ir.unpack(new, grp.width);
        np[grp.range()].copy_from_slice(&lanes);
    }
    np
}
