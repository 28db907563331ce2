//! One row of a tape as straight-line Cranelift IR: the forward pass, then the reverse
//! pass, each instruction by its operation's one definition in `gradsheet_engine::op`,
//! run on `Ir`'s implementation of the engine's arithmetic
//! ([`gradsheet_engine::arith`]) — the very code [`Tape::forward`] and
//! [`Tape::backward`] run on `f64`. Nothing here knows any particular operation.
//!
//! # Why the results are bit for bit the interpreter's
//!
//! Every arithmetic operation is the IEEE operation the interpreter performs, on the
//! same operands, in the same order (Cranelift, like Rust, never fuses or reassociates
//! floating-point arithmetic). Transcendentals call the interpreter's own Rust functions
//! ([`Native1::c_fn`], [`Native2::c_fn`]). `a.powi(n)` is expanded at compile time into
//! the square-and-multiply sequence of compiler-rt's `__powidf2`, which is what
//! `f64::powi` runs for an exponent only known at run time (the tests check it for every
//! `n` the tape allows).
//!
//! Three things the interpreter does are done differently, without changing any bit:
//!
//! - **Adjoints start as nothing, not as `0.0`.** The interpreter accumulates
//!   `adj[s] += c` into a zeroed array; the compiled code takes the first contribution
//!   itself. `0.0 + c` and `c` differ only when `c` is `-0.0`, and that difference can
//!   only travel (through products, sums and the `== 0` test) as a difference in the
//!   sign of zeros. Since an interpreted adjoint that received a contribution is never
//!   `-0.0` (`0.0 + c` is not, and `x + c` with `x != -0.0` is not), adding `+0.0` once
//!   to each *parameter* gradient (`canon`) restores the exact bits there — one
//!   addition per parameter instead of one per contribution.
//! - **Products with a known `1.0` are not multiplied** (`1.0 * x == x` exactly), so the
//!   seed of the output costs nothing, and `2·y` is `y + y` (exact too, and shorter).
//! - **Zero adjoints are not tested.** The interpreter skips an instruction whose
//!   adjoint is exactly zero (the zero-adjoint rule of `gradsheet_engine::op`); the
//!   compiled code adds its contributions anyway, for speed. Such a contribution is
//!   `0 · c`: `±0` for a finite `c`, which adds nothing, or NaN. A NaN adjoint stays NaN
//!   through every later product and sum, and is only ever routed, never dropped, by
//!   `MAX`, `MIN` and `IF` (whose other side receives `0`, as in the interpreter): so
//!   the row's gradients are the interpreter's bits, or some of them are NaN where the
//!   interpreter's are not. Every caller therefore hands a row whose gradient is NaN to
//!   the interpreter ([`crate::EpochKernel`] stops and replays the step,
//!   [`crate::GradKernel`] recomputes the row).
//!
//! An adjoint that is structurally zero (no contribution reaches it) skips its
//! instruction at compile time, as the interpreter skips it at run time; adjoints no
//! parameter depends on are never computed: they cannot change a result.

use cranelift_codegen::ir::condcodes::{CondCode, FloatCC};
use std::ops::Range;

use cranelift_codegen::ir::{
    types, FuncRef, Function, InstBuilder, InstructionData, MemFlags, Opcode, Type, Value,
};
use cranelift_frontend::FunctionBuilder;
use cranelift_jit::JITModule;
use cranelift_module::{Linkage, Module};
use gradsheet_engine::arith::{Reads, Slopes, Term, Values};
use gradsheet_engine::op::{self, Binary, Cmp, Native1, Native2, Unary};
use gradsheet_engine::{Code, Instr, Operand, Tape};

use crate::native::extern_signature;
use crate::CompileError;

/// The Rust functions compiled code calls, declared in one function.
pub(crate) struct Calls {
    unary: Vec<(Native1, FuncRef)>,
    binary: Vec<(Native2, FuncRef)>,
}

impl Calls {
    /// Declares every function of [`Native1::ALL`] and [`Native2::ALL`] in `func`.
    pub(crate) fn declare(
        module: &mut JITModule,
        func: &mut Function,
    ) -> Result<Calls, CompileError> {
        let mut declare = |name: &str, arity: usize| -> Result<FuncRef, CompileError> {
            let sig = extern_signature(module, arity);
            let id = module
                .declare_function(name, Linkage::Import, &sig)
                .map_err(|e| CompileError::Backend(e.to_string()))?;
            Ok(module.declare_func_in_func(id, func))
        };
        let mut unary = Vec::new();
        for f in Native1::ALL {
            unary.push((f, declare(f.symbol(), 1)?));
        }
        let mut binary = Vec::new();
        for f in Native2::ALL {
            binary.push((f, declare(f.symbol(), 2)?));
        }
        Ok(Calls { unary, binary })
    }

    fn get1(&self, f: Native1) -> Option<FuncRef> {
        self.unary.iter().find(|(g, _)| *g == f).map(|(_, r)| *r)
    }

    fn get2(&self, f: Native2) -> Option<FuncRef> {
        self.binary.iter().find(|(g, _)| *g == f).map(|(_, r)| *r)
    }
}

/// A thin layer over the builder with the float operations we need.
pub(crate) struct Ir<'a, 'b> {
    pub(crate) b: &'a mut FunctionBuilder<'b>,
    pub(crate) calls: &'a Calls,
}

/// A condition while compiling: known, a comparison not yet emitted (so that `!` can
/// turn it into the opposite comparison instead of an instruction), or a value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cond {
    Known(bool),
    Cmp(FloatCC, Value, Value),
    Val(Value),
}

/// The Cranelift condition of a comparison of the formula language.
pub(crate) fn float_cc(c: Cmp) -> FloatCC {
    match c {
        Cmp::Lt => FloatCC::LessThan,
        Cmp::Le => FloatCC::LessThanOrEqual,
        Cmp::Gt => FloatCC::GreaterThan,
        Cmp::Ge => FloatCC::GreaterThanOrEqual,
        Cmp::Eq => FloatCC::Equal,
        // Unordered or not equal, as IEEE's `!=`.
        Cmp::Ne => FloatCC::NotEqual,
    }
}

impl Ir<'_, '_> {
    pub(crate) fn c(&mut self, v: f64) -> Value {
        self.b.ins().f64const(v)
    }
    pub(crate) fn add(&mut self, x: Value, y: Value) -> Value {
        self.b.ins().fadd(x, y)
    }
    pub(crate) fn sub(&mut self, x: Value, y: Value) -> Value {
        self.b.ins().fsub(x, y)
    }
    pub(crate) fn mul(&mut self, x: Value, y: Value) -> Value {
        // `1·y` is `y` bit for bit (the seed of the output costs nothing). `2·y` is
        // `y + y` bit for bit (both exact, or both the same overflow or NaN), and an
        // addition has the shorter latency (the squared error's `2·e` sits on every
        // training step's critical path).
        match (self.known(x), self.known(y)) {
            (Some(1.0), _) => return y,
            (_, Some(1.0)) => return x,
            (Some(2.0), _) => return self.b.ins().fadd(y, y),
            (_, Some(2.0)) => return self.b.ins().fadd(x, x),
            _ => {}
        }
        self.b.ins().fmul(x, y)
    }
    pub(crate) fn div(&mut self, x: Value, y: Value) -> Value {
        self.b.ins().fdiv(x, y)
    }
    pub(crate) fn neg(&mut self, x: Value) -> Value {
        self.b.ins().fneg(x)
    }
    pub(crate) fn sqrt(&mut self, x: Value) -> Value {
        self.b.ins().sqrt(x)
    }
    pub(crate) fn cmp(&mut self, cc: FloatCC, x: Value, y: Value) -> Value {
        self.b.ins().fcmp(cc, x, y)
    }
    pub(crate) fn select(&mut self, cond: Value, x: Value, y: Value) -> Value {
        if self.b.func.dfg.value_type(x) == types::F64 {
            // As a vector select: x64 lowers a select to a branch over a move, and a
            // scalar `movsd` merges into its destination (one cycle on the critical
            // path of a ReLU), while a vector `movapd` is a plain register copy that
            // the CPU's renamer does for free. Lane 0 of either is the scalar.
            let vx = self.b.ins().scalar_to_vector(types::F64X2, x);
            let vy = self.b.ins().scalar_to_vector(types::F64X2, y);
            let v = self.b.ins().select(cond, vx, vy);
            return self.b.ins().extractlane(v, 0);
        }
        self.b.ins().select(cond, x, y)
    }
    /// `x` where `take` holds and `y` elsewhere, lane by lane for an `F64X2` (`take` is
    /// then the mask of a lane-wise comparison).
    pub(crate) fn select_lanes(&mut self, take: Value, x: Value, y: Value) -> Value {
        let ty = self.b.func.dfg.value_type(x);
        if ty == types::F64 {
            return self.select(take, x, y);
        }
        let mask = self.b.ins().bitcast(ty, MemFlags::new(), take);
        self.b.ins().bitselect(mask, x, y)
    }
    /// A call of a Rust function of one number.
    pub(crate) fn call1(&mut self, f: Native1, x: Value) -> Value {
        match self.calls.get1(f) {
            Some(r) => {
                let inst = self.b.ins().call(r, &[x]);
                self.b.inst_results(inst)[0]
            }
            // `Calls::declare` declares every function; without it the value is unknown.
            None => self.c(f64::NAN),
        }
    }
    /// A call of a Rust function of two numbers.
    pub(crate) fn call2(&mut self, f: Native2, x: Value, y: Value) -> Value {
        match self.calls.get2(f) {
            Some(r) => {
                let inst = self.b.ins().call(r, &[x, y]);
                self.b.inst_results(inst)[0]
            }
            None => self.c(f64::NAN),
        }
    }
    /// `x` in every lane of a `ty` (`x` itself for `F64`).
    pub(crate) fn splat(&mut self, ty: Type, x: Value) -> Value {
        if ty == types::F64 {
            x
        } else {
            self.b.ins().splat(ty, x)
        }
    }
    /// One or two scalars as an `F64` or an `F64X2`.
    pub(crate) fn pack(&mut self, xs: &[Value]) -> Value {
        match *xs {
            [x] => x,
            [x, y] => {
                let v = self.b.ins().scalar_to_vector(types::F64X2, x);
                self.b.ins().insertlane(v, y, 1)
            }
            _ => unreachable!("groups are of one or two values"),
        }
    }
    /// The lanes of an `F64` (`width` 1) or an `F64X2` (`width` 2).
    pub(crate) fn unpack(&mut self, v: Value, width: usize) -> Vec<Value> {
        if width == 1 {
            return vec![v];
        }
        (0..width as u8)
            .map(|k| self.b.ins().extractlane(v, k))
            .collect()
    }
    /// An `F64X2` constant.
    fn vconst2(&mut self, lanes: [f64; 2]) -> Value {
        let bytes: Vec<u8> = lanes.iter().flat_map(|x| x.to_le_bytes()).collect();
        let c = self.b.func.dfg.constants.insert(bytes.into());
        self.b.ins().vconst(types::F64X2, c)
    }
    /// The value of `v` if it is a constant: the compiler knows it, Cranelift would test it at run time.
    pub(crate) fn known(&self, v: Value) -> Option<f64> {
        let dfg = &self.b.func.dfg;
        let inst = dfg.value_def(v).inst()?;
        match dfg.insts[inst] {
            InstructionData::UnaryIeee64 {
                opcode: Opcode::F64const,
                imm,
            } => Some(f64::from_bits(imm.bits())),
            _ => None,
        }
    }
    /// A condition as a value.
    fn materialize(&mut self, c: Cond) -> Value {
        match c {
            Cond::Known(k) => self.b.ins().iconst(types::I8, i64::from(k)),
            Cond::Cmp(cc, x, y) => self.cmp(cc, x, y),
            Cond::Val(v) => v,
        }
    }

    /// `a.powi(n)` exactly as compiler-rt's `__powidf2` computes it
    /// ([`gradsheet_engine::arith::powi_by_squaring`]).
    pub(crate) fn powi(&mut self, a: Value, n: i32) -> Value {
        gradsheet_engine::arith::powi_by_squaring(self, a, n)
    }
}

impl Slopes for Ir<'_, '_> {
    type V = Value;
    type B = Cond;
    fn num(&mut self, v: f64) -> Value {
        self.c(v)
    }
    fn ln10(&mut self) -> Value {
        self.c(std::f64::consts::LN_10)
    }
    fn add(&mut self, x: Value, y: Value) -> Value {
        Ir::add(self, x, y)
    }
    fn sub(&mut self, x: Value, y: Value) -> Value {
        Ir::sub(self, x, y)
    }
    fn mul(&mut self, x: Value, y: Value) -> Value {
        Ir::mul(self, x, y)
    }
    fn div(&mut self, x: Value, y: Value) -> Value {
        Ir::div(self, x, y)
    }
    fn neg(&mut self, x: Value) -> Value {
        Ir::neg(self, x)
    }
    fn powi(&mut self, x: Value, n: i32) -> Value {
        Ir::powi(self, x, n)
    }
    fn cmp(&mut self, c: Cmp, x: Value, y: Value) -> Cond {
        match (self.known(x), self.known(y)) {
            (Some(a), Some(b)) => Cond::Known(c.holds(a, b)),
            _ => Cond::Cmp(float_cc(c), x, y),
        }
    }
    fn select(&mut self, b: Cond, x: Value, y: Value) -> Value {
        match b {
            Cond::Known(k) => {
                if k {
                    x
                } else {
                    y
                }
            }
            other => {
                let c = self.materialize(other);
                Ir::select(self, c, x, y)
            }
        }
    }
    fn unary(&mut self, op: Unary, x: Value) -> Value {
        op.value(self, x)
    }
    fn binary(&mut self, op: Binary, x: Value, y: Value) -> Value {
        op.value(self, x, y)
    }
}

impl Values for Ir<'_, '_> {
    fn abs(&mut self, x: Value) -> Value {
        self.b.ins().fabs(x)
    }
    fn sqrt(&mut self, x: Value) -> Value {
        Ir::sqrt(self, x)
    }
    fn call1(&mut self, f: Native1, x: Value) -> Value {
        Ir::call1(self, f, x)
    }
    fn call2(&mut self, f: Native2, x: Value, y: Value) -> Value {
        Ir::call2(self, f, x, y)
    }
    fn is_nan(&mut self, x: Value) -> Cond {
        match self.known(x) {
            Some(k) => Cond::Known(k.is_nan()),
            None => Cond::Cmp(FloatCC::Unordered, x, x),
        }
    }
    fn not(&mut self, b: Cond) -> Cond {
        match b {
            Cond::Known(k) => Cond::Known(!k),
            Cond::Cmp(cc, x, y) => Cond::Cmp(cc.complement(), x, y),
            Cond::Val(v) => Cond::Val(self.b.ins().bxor_imm(v, 1)),
        }
    }
    fn and(&mut self, b: Cond, c: Cond) -> Cond {
        match (b, c) {
            (Cond::Known(false), _) | (_, Cond::Known(false)) => Cond::Known(false),
            (Cond::Known(true), x) | (x, Cond::Known(true)) => x,
            (x, y) => {
                let (x, y) = (self.materialize(x), self.materialize(y));
                Cond::Val(self.b.ins().band(x, y))
            }
        }
    }
}

/// The results of one row.
pub(crate) struct Row {
    /// Every slot's forward value.
    pub(crate) vals: Vec<Value>,
    /// The parameter gradients, equal to [`Tape::backward`]'s but for the sign of a zero
    /// where `canon` is set: good as they are for uses blind to that sign (`g*g`,
    /// `g - g`, `g == 0`); see [`Row::exact`] and [`Row::times`] for the rest.
    pub(crate) raw: Vec<Value>,
    /// Whether `raw[i]` still needs the `+ 0.0` of the interpreter.
    pub(crate) canon: Vec<bool>,
    exact: Vec<Option<Value>>,
    /// Whether [`Row::times`] may fuse the `+ 0.0` into its product (see there).
    fused: bool,
}

/// A raw gradient as the interpreter has it: with `canon`, its `0.0 + c` (see the
/// module docs).
pub(crate) fn exact(ir: &mut Ir<'_, '_>, raw: Value, canon: bool) -> Value {
    if canon {
        let z = ir.c(0.0);
        ir.add(raw, z)
    } else {
        raw
    }
}

impl Row {
    /// Gradients computed elsewhere that are already the interpreter's bits (a batch's
    /// mean: `(0.0 + raw + ...) / m` is never a `-0.0` the interpreter lacks).
    pub(crate) fn exact_values(vals: Vec<Value>, grads: Vec<Value>) -> Row {
        let n = grads.len();
        Row {
            vals,
            raw: grads,
            canon: vec![false; n],
            exact: vec![None; n],
            fused: true,
        }
    }

    /// Products with the gradient multiply the exact gradient, never fused: for a factor
    /// that may be zero (a learning rate of 0), where `fma(raw, 0, +0.0)` is `+0` but
    /// the interpreter's `exact · 0` is `-0` for a negative gradient.
    pub(crate) fn unfused(mut self) -> Row {
        self.fused = false;
        self
    }

    /// Gradient `i`, bit for bit as [`Tape::backward`] leaves it.
    pub(crate) fn exact(&mut self, ir: &mut Ir<'_, '_>, i: usize) -> Value {
        if let Some(v) = self.exact[i] {
            return v;
        }
        let v = exact(ir, self.raw[i], self.canon[i]);
        self.exact[i] = Some(v);
        v
    }

    /// `exact(i) * h` for a factor `h` that is positive (never zero, as a learning rate
    /// may be, nor negative, where `exact(i)·h` is `-0` for a zero gradient): with FMA,
    /// `fma(raw, h, +0.0)`, which rounds `raw·h + 0` once and so equals `exact(i)·h` (a
    /// zero product is `+0` either way, a non-zero one is untouched) with the latency
    /// of one multiplication (see `Optimizer::workbook_positive`).
    pub(crate) fn times(&mut self, ir: &mut Ir<'_, '_>, i: usize, h: Value) -> Value {
        if self.fused && self.canon[i] && self.exact[i].is_none() && has_fma() {
            let z = ir.c(0.0);
            return ir.b.ins().fma(self.raw[i], h, z);
        }
        let g = self.exact(ir, i);
        ir.mul(g, h)
    }
}

impl Row {
    /// The sign fix of [`Row::exact`] for the lanes `r` at once, as an addend: `+0.0`
    /// where a lane needs it, `-0.0` (which changes no bit of anything) where not; `None`
    /// if no lane needs it.
    fn zero_fix(&self, ir: &mut Ir<'_, '_>, r: &Range<usize>) -> Option<Value> {
        let canon = &self.canon[r.clone()];
        if !canon.iter().any(|&c| c) {
            return None;
        }
        Some(match *canon {
            [_] => ir.c(0.0),
            _ => {
                let lane = |c: bool| if c { 0.0 } else { -0.0 };
                ir.vconst2([lane(canon[0]), lane(canon[1])])
            }
        })
    }

    /// The raw gradients `r` (one or two), packed.
    pub(crate) fn raw_group(&mut self, ir: &mut Ir<'_, '_>, r: Range<usize>) -> Value {
        ir.pack(&self.raw[r])
    }

    /// [`Row::exact`] for the gradients `r` (one or two), packed.
    pub(crate) fn exact_group(&mut self, ir: &mut Ir<'_, '_>, r: Range<usize>) -> Value {
        if r.len() == 1 {
            return self.exact(ir, r.start);
        }
        let raw = ir.pack(&self.raw[r.clone()]);
        match self.zero_fix(ir, &r) {
            Some(z) => ir.add(raw, z),
            None => raw,
        }
    }

    /// [`Row::times`] for the gradients `r` (one or two), packed, with `h` as wide.
    /// With FMA, `fma(raw, h, z)`: lanes with `z = +0.0` are as in [`Row::times`], and
    /// for lanes with `z = -0.0` the single rounding of `raw·h - 0` is that of `raw·h`,
    /// a zero keeping its sign.
    pub(crate) fn times_group(&mut self, ir: &mut Ir<'_, '_>, r: Range<usize>, h: Value) -> Value {
        if r.len() == 1 {
            return self.times(ir, r.start, h);
        }
        match self.zero_fix(ir, &r) {
            Some(z) if self.fused && has_fma() => {
                let raw = ir.pack(&self.raw[r]);
                ir.b.ins().fma(raw, h, z)
            }
            _ => {
                let g = self.exact_group(ir, r);
                ir.mul(g, h)
            }
        }
    }
}

/// Set by the unit tests to compile as for a host without FMA (the other branch of
/// [`Row::times`] and [`Row::times_group`]), which this machine cannot otherwise take.
#[cfg(test)]
pub(crate) static PRETEND_NO_FMA: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Whether the host has fused multiply-add (Cranelift then emits it inline).
pub(crate) fn has_fma() -> bool {
    #[cfg(test)]
    if PRETEND_NO_FMA.load(std::sync::atomic::Ordering::Relaxed) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Emits the forward pass of `tape` given the values of its variables, then the
/// gradient of output slot `out` with respect to the slots `wrt` (NaN where a zero
/// adjoint met an infinite slope: see the module docs).
pub(crate) fn emit_row(
    ir: &mut Ir<'_, '_>,
    tape: &Tape,
    vars: &[Value],
    out: u32,
    wrt: &[u32],
) -> Row {
    let vals = emit_forward(ir, tape, vars);
    let mut grads = vec![None; wrt.len()];
    backward(
        ir,
        tape,
        &needed(tape, wrt),
        &mut |_, s| vals[s as usize],
        out,
        wrt,
        &mut |_, k, raw, canon| grads[k] = Some((raw, canon)),
    );
    let (raw, canon): (Vec<Value>, Vec<bool>) = grads.into_iter().flatten().unzip();
    let exact = vec![None; raw.len()];
    Row {
        vals,
        raw,
        canon,
        exact,
        fused: true,
    }
}

/// Where the passes find a variable's value (a column, a parameter, a constant).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Var {
    /// A value the function already has.
    Value(Value),
    /// In memory at `base + offset` bytes, loaded where it is read (see
    /// [`emit_row_in_memory`]).
    At(Value, i32),
}

impl Var {
    fn read(self, ir: &mut Ir<'_, '_>) -> Value {
        match self {
            Var::Value(v) => v,
            Var::At(base, offset) => {
                ir.b.ins()
                    .load(types::F64, MemFlags::trusted(), base, offset)
            }
        }
    }
}

/// From how many parameters a row is emitted in memory ([`emit_row_in_memory`]) and an
/// epoch's update is a loop over them (`epoch::LOOPED_FROM`): past a few dozen, the
/// registers cannot hold them anyway.
pub(crate) const IN_MEMORY_FROM: usize = 24;

/// [`emit_row`] for a model too large for the registers, in the order that keeps each
/// value's life short: variables are loaded where they are read, the forward values the
/// reverse pass needs wait in `scratch` (slot `s` at `8·s` bytes), loaded again where
/// it reads them, and each gradient goes to `put(k, raw, canon)` as soon as no
/// instruction left can add to it (as [`Row::raw`] and [`Row::canon`]: [`exact`] makes
/// it the interpreter's bits). Returns the value of `out`.
///
/// Why: Cranelift places a load or store where it is emitted and a computation just
/// before its first use, so emitting the whole forward pass before the reverse pass
/// (as [`emit_row`] does) keeps every value the reverse pass reads alive across the
/// whole row. With a few dozen parameters that is far more values than registers, and
/// the register allocator's search for what to spill was nearly all of the
/// compilation's time (a 130-parameter model's Adam: 5.4 ms, most of it in
/// `regalloc2`). Memory costs one store and one load per value the reverse pass
/// reads, which the spills cost anyway.
pub(crate) fn emit_row_in_memory(
    ir: &mut Ir<'_, '_>,
    tape: &Tape,
    vars: &[Var],
    scratch: Value,
    out: u32,
    wrt: &[u32],
    put: &mut dyn FnMut(&mut Ir<'_, '_>, usize, Value, bool),
) -> Value {
    let mem = MemFlags::trusted();
    let need = needed(tape, wrt);
    let at = |s: u32| (8 * s as usize) as i32;
    // The slots the reverse pass reads that only the forward pass computes.
    let mut kept = vec![false; tape.n_slots()];
    for ins in tape.code().iter().filter(|i| need[i.dst as usize]) {
        for s in backward_reads(ins, &need).1 {
            kept[s as usize] = s as usize >= vars.len();
        }
    }
    for &(s, _) in tape.constants() {
        kept[s as usize] = false;
    }
    let vals = forward(ir, tape, vars, &mut |ir, s, v| {
        if kept[s as usize] {
            ir.b.ins().store(mem, v, scratch, at(s));
        }
    });
    let value = output(ir, vars, &vals, out);
    let constants: Vec<Option<f64>> = {
        let mut c = vec![None; tape.n_slots()];
        for &(s, v) in tape.constants() {
            c[s as usize] = Some(v);
        }
        c
    };
    backward(
        ir,
        tape,
        &need,
        &mut |ir, s| match (vars.get(s as usize), constants[s as usize]) {
            (Some(v), _) => v.read(ir),
            (None, Some(c)) => ir.c(c),
            (None, None) => ir.b.ins().load(types::F64, mem, scratch, at(s)),
        },
        out,
        wrt,
        put,
    );
    value
}

/// The forward pass over `vars`, for the value of slot `out` alone. With `scratch`,
/// every value is also stored there (slot `s` at `8·s` bytes): a large model's loads
/// of its variables where they are read (see [`emit_row_in_memory`]) then stay there,
/// rather than all coming first, and the pass is computed in the tape's order, a value
/// at a time, instead of all at its one use at the end.
pub(crate) fn emit_value(
    ir: &mut Ir<'_, '_>,
    tape: &Tape,
    vars: &[Var],
    out: u32,
    scratch: Option<Value>,
) -> Value {
    let vals = forward(ir, tape, vars, &mut |ir, s, v| {
        if let Some(p) = scratch {
            ir.b.ins()
                .store(MemFlags::trusted(), v, p, (8 * s as usize) as i32);
        }
    });
    output(ir, vars, &vals, out)
}

/// Slot `out`'s value after [`forward`]: a variable read, or what the pass computed.
fn output(ir: &mut Ir<'_, '_>, vars: &[Var], vals: &[Option<Value>], out: u32) -> Value {
    match vars.get(out as usize) {
        Some(v) => v.read(ir),
        None => vals[out as usize].unwrap_or_else(|| ir.c(f64::NAN)),
    }
}

/// The forward pass: one value per slot.
pub(crate) fn emit_forward(ir: &mut Ir<'_, '_>, tape: &Tape, vars: &[Value]) -> Vec<Value> {
    let vars: Vec<Var> = vars.iter().map(|&v| Var::Value(v)).collect();
    let vals = forward(ir, tape, &vars, &mut |_, _, _| {});
    vals.into_iter()
        .map(|v| v.unwrap_or_else(|| ir.c(f64::NAN)))
        .collect()
}

/// The forward pass over the variables `vars`, handing each instruction's value to
/// `keep` as it is computed: every slot's value where the function holds one (not a
/// variable loaded where it is read, nor a slot nothing writes).
fn forward(
    ir: &mut Ir<'_, '_>,
    tape: &Tape,
    vars: &[Var],
    keep: &mut dyn FnMut(&mut Ir<'_, '_>, u32, Value),
) -> Vec<Option<Value>> {
    let mut vals: Vec<Option<Value>> = vec![None; tape.n_slots()];
    for (i, v) in vars.iter().enumerate() {
        if let Var::Value(v) = *v {
            vals[i] = Some(v);
        }
    }
    for &(s, v) in tape.constants() {
        vals[s as usize] = Some(ir.c(v));
    }
    for ins in tape.code() {
        let reads = ins.code.operands();
        let get = |o: Operand, ir: &mut Ir<'_, '_>| {
            let s = ins.slot(o) as usize;
            match (reads.contains(&o), vars.get(s)) {
                // An operand the instruction does not read: any value will do.
                (false, _) => ir.c(f64::NAN),
                (true, Some(Var::At(..))) => vars[s].read(ir),
                (true, _) => vals[s].unwrap_or_else(|| ir.c(f64::NAN)),
            }
        };
        let a = get(Operand::A, ir);
        let b = get(Operand::B, ir);
        let c = get(Operand::C, ir);
        let v = scalar_op(ir, ins.code, a, b, c);
        vals[ins.dst as usize] = Some(v);
        keep(ir, ins.dst, v);
    }
    vals
}

/// One instruction on scalars, as [`Tape::forward`] computes it (`c` is read by
/// `Select` only).
pub(crate) fn scalar_op(ir: &mut Ir<'_, '_>, code: Code, a: Value, b: Value, c: Value) -> Value {
    match code {
        Code::Unary(u) => u.value(ir, a),
        Code::Binary(o) => o.value(ir, a, b),
        Code::Powi(n) => op::powi_value(ir, a, n),
        Code::Fold(f) => f.value(ir, a, b),
        Code::Select => op::select_value(ir, a, b, c),
    }
}

/// Which slots' adjoints can reach a slot of `wrt`: only those are computed.
pub(crate) fn needed(tape: &Tape, wrt: &[u32]) -> Vec<bool> {
    let mut need = vec![false; tape.n_slots()];
    for &s in wrt {
        need[s as usize] = true;
    }
    for ins in tape.code() {
        let (a, b, c) = (
            need[ins.a as usize],
            need[ins.b as usize],
            need[ins.c as usize],
        );
        need[ins.dst as usize] = match ins.code {
            Code::Unary(u) => a && !u.is_flat(),
            Code::Binary(Binary::Cmp(_)) => false,
            Code::Powi(_) => a,
            Code::Binary(_) | Code::Fold(_) => a || b,
            Code::Select => b || c,
        };
    }
    // A slot in `wrt` keeps its own flag even if an instruction wrote it (it cannot:
    // variables are never destinations).
    for &s in wrt {
        need[s as usize] = true;
    }
    need
}

/// An adjoint while compiling: its value, and whether it was computed at run time
/// (rather than being the seed), so that it may be a `-0.0` the interpreter never has.
#[derive(Clone, Copy, Debug)]
struct Adj<V> {
    val: V,
    computed: bool,
}

/// Where the reverse pass hands each gradient: `(arithmetic, k, gradient, canon)`.
pub(crate) type Done<'d, A> = dyn FnMut(&mut A, usize, <A as Slopes>::V, bool) + 'd;

/// An arithmetic the reverse pass runs on (Cranelift's values here, `crate::wide`'s
/// registers of lanes): the engine's, with values that copy, and the compiler's
/// knowledge of a constant.
pub(crate) trait Reverse: Values<V: Copy> {
    /// The value of `v` if the compiler knows it.
    fn known(&self, v: Self::V) -> Option<f64>;
}

impl Reverse for Ir<'_, '_> {
    fn known(&self, v: Value) -> Option<f64> {
        Ir::known(self, v)
    }
}

/// The slots the reverse pass reads for an instruction whose adjoint it passes on
/// (`a`, `b`, the result: bits 0, 1, 2 of the answer's mask, and their slots): the
/// operation's own derivative rules run on [`Reads`], so that only what they use is
/// fetched — `a + b`, for one, reads neither operand.
fn backward_reads(ins: &Instr, need: &[bool]) -> (u32, Vec<u32>) {
    const A: u32 = 0b001;
    const B: u32 = 0b010;
    const O: u32 = 0b100;
    let r = &mut Reads;
    let (ia, ib, ic) = (ins.a as usize, ins.b as usize, ins.c as usize);
    let want = |s: usize| need[s].then_some(0);
    let term = |t: Option<Term<u32>>| match t {
        Some(Term::Plus(m) | Term::Minus(m)) => m,
        None => 0,
    };
    let mask = match ins.code {
        Code::Unary(u) if need[ia] => term(u.contribution(r, 0, A, O)),
        Code::Binary(op) => {
            let [ta, tb] = op.contributions(r, [want(ia), want(ib)], A, B, O);
            term(ta) | term(tb)
        }
        Code::Powi(n) if need[ia] => term(Some(op::powi_contribution(r, 0, A, n))),
        Code::Fold(f) => {
            let [ta, tb] = f.contributions(r, [want(ia), want(ib)], A, B);
            term(ta) | term(tb)
        }
        Code::Select => {
            let [tb, tc] = op::select_contributions(r, 0, A, [need[ib], need[ic]]);
            tb.unwrap_or(0) | tc.unwrap_or(0)
        }
        Code::Unary(_) | Code::Powi(_) => 0,
    };
    let slots = [(A, ins.a), (B, ins.b), (O, ins.dst)]
        .into_iter()
        .filter(|&(bit, _)| mask & bit != 0)
        .map(|(_, s)| s)
        .collect();
    (mask, slots)
}

/// The reverse pass: the gradient of slot `out` with respect to each slot of `wrt`,
/// handed to `done(k, gradient, canon)` (`canon`: whether it still needs the
/// interpreter's `+ 0.0`, see [`Row::canon`]) as soon as it is whole — once the pass
/// has gone back past the first instruction that reads `wrt[k]`. Slot values come
/// from `value(s)`, asked for the slots [`backward_reads`] names, where they are used.
pub(crate) fn backward<A: Reverse>(
    ir: &mut A,
    tape: &Tape,
    need: &[bool],
    value: &mut dyn FnMut(&mut A, u32) -> A::V,
    out: u32,
    wrt: &[u32],
    done: &mut Done<'_, A>,
) {
    let mut adj: Vec<Option<Adj<A::V>>> = vec![None; tape.n_slots()];
    let seed = ir.num(1.0);
    adj[out as usize] = Some(Adj {
        val: seed,
        computed: false,
    });
    // Each gradient's first reader: after it (going back) nothing adds to the gradient.
    let code = tape.code();
    let mut first: Vec<Option<usize>> = vec![None; tape.n_slots()];
    for (at, ins) in code.iter().enumerate().rev() {
        for s in ins.reads() {
            first[s as usize] = Some(at);
        }
    }
    let mut whole: Vec<(Option<usize>, usize)> = wrt
        .iter()
        .enumerate()
        .map(|(k, &s)| (first[s as usize], k))
        .collect();
    // Latest reader first; the never-read (`None`) last, after the pass.
    whole.sort_by_key(|&(at, k)| (std::cmp::Reverse(at.map_or(0, |a| a + 1)), k));
    let mut next = 0;
    let mut finish = |ir: &mut A, adj: &[Option<Adj<A::V>>], upto: Option<usize>| {
        while let Some(&(at, k)) = whole.get(next) {
            if upto.is_some() && at < upto {
                break;
            }
            let (g, canon) = match adj[wrt[k] as usize] {
                None => (ir.num(0.0), false),
                Some(Adj { val, computed }) => (val, computed),
            };
            done(ir, k, g, canon);
            next += 1;
        }
    };
    for (at, ins) in code.iter().enumerate().rev() {
        pass_back(ir, ins, need, value, &mut adj);
        finish(ir, &adj, Some(at));
    }
    finish(ir, &adj, None);
}

/// One instruction of the reverse pass: its adjoint passed on to its operands.
fn pass_back<A: Reverse>(
    ir: &mut A,
    ins: &Instr,
    need: &[bool],
    value: &mut dyn FnMut(&mut A, u32) -> A::V,
    adj: &mut [Option<Adj<A::V>>],
) {
    let dst = ins.dst as usize;
    if !need[dst] {
        return;
    }
    // No contribution reached this slot: its adjoint is structurally zero, and
    // contributes nothing (the zero-adjoint rule).
    let Some(Adj { val: g, .. }) = adj[dst] else {
        return;
    };
    let (ia, ib, ic) = (ins.a, ins.b, ins.c);
    // Only what the rules read is fetched (a load, for a row in memory); the rest
    // stands in as a NaN, never read.
    let (mask, _) = backward_reads(ins, need);
    let mut fetch = |ir: &mut A, bit: u32, s: u32| {
        if mask & bit != 0 {
            value(ir, s)
        } else {
            ir.num(f64::NAN)
        }
    };
    let a = fetch(ir, 0b001, ia);
    let b = fetch(ir, 0b010, ib);
    let o = fetch(ir, 0b100, ins.dst);
    let want = |s: u32| need[s as usize].then_some(g);
    match ins.code {
        Code::Unary(u) => {
            if need[ia as usize] {
                let t = u.contribution(ir, g, a, o);
                acc(ir, adj, ia, t);
            }
        }
        Code::Binary(op) => {
            let [ta, tb] = op.contributions(ir, [want(ia), want(ib)], a, b, o);
            acc(ir, adj, ia, ta);
            acc(ir, adj, ib, tb);
        }
        Code::Powi(n) => {
            if need[ia as usize] {
                let t = op::powi_contribution(ir, g, a, n);
                acc(ir, adj, ia, Some(t));
            }
        }
        Code::Fold(f) => {
            let [ta, tb] = f.contributions(ir, [want(ia), want(ib)], a, b);
            acc(ir, adj, ia, ta);
            acc(ir, adj, ib, tb);
        }
        Code::Select => {
            let w = [need[ib as usize], need[ic as usize]];
            let [tb, tc] = op::select_contributions(ir, g, a, w);
            acc(ir, adj, ib, tb.map(Term::Plus));
            acc(ir, adj, ic, tc.map(Term::Plus));
        }
    }
}

/// `adj[s] ±= c` (the first contribution is taken as it is).
fn acc<A: Reverse>(ir: &mut A, adj: &mut [Option<Adj<A::V>>], s: u32, t: Option<Term<A::V>>) {
    let Some(t) = t else {
        return;
    };
    let i = s as usize;
    adj[i] = Some(match (adj[i], t) {
        // A contribution the compiler knows (the seed passed on by `+`) stays known.
        (None, Term::Plus(c)) => Adj {
            val: c,
            computed: ir.known(c).is_none(),
        },
        (None, Term::Minus(c)) => Adj {
            val: ir.neg(c),
            computed: true,
        },
        (Some(v), Term::Plus(c)) => Adj {
            val: ir.add(v.val, c),
            computed: true,
        },
        (Some(v), Term::Minus(c)) => Adj {
            val: ir.sub(v.val, c),
            computed: true,
        },
    });
}

#[cfg(test)]
mod tests {
    use gradsheet_engine::{Dataset, Model, Roles};
    use gradsheet_train::{Hooks, Optimizer, Record, Trace, TrainConfig, Trainer};

    use super::PRETEND_NO_FMA;

    fn bits(t: &Trace) -> Vec<u64> {
        let mut v: Vec<f64> = t.final_params.clone();
        v.extend(&t.final_state);
        for e in &t.epochs {
            v.push(e.sum_error);
            v.extend(&e.params);
            v.extend(&e.grad_norms);
        }
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Without FMA, `times` multiplies the exact gradient (`raw + 0.0`, or the lanes'
    /// `raw + [±0.0]`) instead: the traces must still be the interpreter's, bit for bit.
    /// (Other tests of this binary may compile without FMA meanwhile: both ways are exact.)
    #[test]
    fn without_fma_the_kernels_are_still_the_interpreter() {
        PRETEND_NO_FMA.store(true, std::sync::atomic::Ordering::Relaxed);
        let roles = Roles::with_columns(&["x", "y"]);
        let opts = [
            Optimizer::sgd(1e-4),
            Optimizer::Momentum {
                lr: 1e-4,
                beta: 0.9,
            },
            Optimizer::Adam {
                lr: 0.01,
                beta1: 0.9,
                beta2: 0.99,
            },
            Optimizer::torch_adam(0.01),
        ];
        let negative = Dataset::from_rows(
            vec!["x".into(), "y".into()],
            &[vec![-2.0, 1.0], vec![-3.0, 0.5]],
        )
        .unwrap();
        // Gradients that need the `+ 0.0` (MAX routes a zero), odd numbers of parameters
        // (a pair and a lone one), and q = -0 whose gradient is a routed zero times a
        // negative x: `-0` unfixed, which SGD would turn into a `+0` parameter.
        let cases = [
            ("c*MAX(a*x+b,0)+d", Dataset::graddesc(), 0.5),
            ("MAX(a*x,0)+b*SIGN(x-50)+c", Dataset::graddesc(), 0.5),
            ("MAX(q*x+a*x,0)+c", negative, -0.0),
        ];
        for (f, data, first) in cases {
            let model = Model::new(f, "squared", &roles).unwrap();
            let trainer = Trainer::new(&model, &data).unwrap();
            let mut init = vec![0.5; model.params.len()];
            init[0] = first;
            for opt in &opts {
                let mut cfg = TrainConfig::new(opt.clone(), 30);
                cfg.record = Record::Epochs;
                let fast = crate::run_fast(&trainer, &init, &cfg).unwrap().unwrap();
                let slow = trainer.run(&init, &cfg, &mut Hooks::none()).unwrap();
                assert_eq!(fast.stop, slow.stop, "{f} with {opt}");
                assert_eq!(bits(&fast), bits(&slow), "{f} with {opt}");
            }
        }
        PRETEND_NO_FMA.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}
