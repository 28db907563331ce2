//! One row of a tape as straight-line Cranelift IR: the forward pass, then the reverse
//! pass, each instruction by the same local rule and in the same operation order as
//! [`Tape::forward`] and [`Tape::backward`].
//!
//! # Why the results are bit for bit the interpreter's
//!
//! Every arithmetic operation is the IEEE operation the interpreter performs, on the
//! same operands, in the same order (Cranelift, like Rust, never fuses or reassociates
//! floating-point arithmetic). Transcendentals call the interpreter's own Rust functions
//! (`gs_exp`, `gs_ln`, ... in the private `native` module). `a.powi(n)` is expanded at compile time into the
//! square-and-multiply sequence of compiler-rt's `__powidf2`, which is what `f64::powi`
//! runs for an exponent only known at run time (the tests check it for every `n` the
//! tape allows).
//!
//! Three things the interpreter does are done differently, without changing any bit:
//!
//! - **Adjoints start as nothing, not as `0.0`.** The interpreter accumulates
//!   `adj[s] += c` into a zeroed array; the compiled code takes the first contribution
//!   itself. `0.0 + c` and `c` differ only when `c` is `-0.0`, and that difference can
//!   only travel (through products, sums and the `== 0` guard test) as a difference in
//!   the sign of zeros. Since an interpreted adjoint that received a contribution is
//!   never `-0.0` (`0.0 + c` is not, and `x + c` with `x != -0.0` is not), adding
//!   `+0.0` once to each *parameter* gradient (`canon`) restores the exact bits there —
//!   one addition per parameter instead of one per contribution.
//! - **Slopes multiplied by the seed `1.0` are not multiplied** (`1.0 * x == x` exactly).
//! - **Guards become selects.** Where the interpreter skips a guarded instruction whose
//!   adjoint is exactly zero, the compiled code adds `select(g == 0, 0, c)`: adding
//!   `0.0` to an adjoint changes nothing, and the select removes the NaN that `0 * inf`
//!   would have brought (the point of the guard). Contributions that are `±g` itself
//!   need no select: `±0` adds nothing.
//! - **Or guards are dropped** (`Guards::Dropped`), where the caller catches NaN
//!   gradients. Without the select a skipped contribution is `0 · c`: `±0` for a finite
//!   `c`, which adds nothing, or NaN. A NaN adjoint stays NaN through every later
//!   product and sum, and is only ever routed, never dropped, by `MAX`, `MIN` and `IF`
//!   (whose other side receives `0`, as in the interpreter): so the row's gradients are
//!   the interpreter's bits, or some of them are NaN where the interpreter's are not.
//!
//! Adjoints no parameter depends on are never computed: they cannot change a result.

use cranelift_codegen::ir::condcodes::FloatCC;
use std::ops::Range;

use cranelift_codegen::ir::{
    types, FuncRef, Function, InstBuilder, InstructionData, Opcode, Type, Value,
};
use cranelift_frontend::FunctionBuilder;
use cranelift_jit::JITModule;
use cranelift_module::{Linkage, Module};
use gradsheet_engine::{Code, Op, Tape};

use crate::native::{extern_signature, EXTERNS};
use crate::CompileError;

/// The shims, declared in one function.
pub(crate) struct Calls {
    refs: Vec<FuncRef>,
}

impl Calls {
    /// Declares every shim of [`EXTERNS`] in `func`.
    pub(crate) fn declare(
        module: &mut JITModule,
        func: &mut Function,
    ) -> Result<Calls, CompileError> {
        let mut refs = Vec::with_capacity(EXTERNS.len());
        for (name, e) in EXTERNS {
            let sig = extern_signature(module, *e);
            let id = module
                .declare_function(name, Linkage::Import, &sig)
                .map_err(|e| CompileError::Backend(e.to_string()))?;
            refs.push(module.declare_func_in_func(id, func));
        }
        Ok(Calls { refs })
    }

    fn get(&self, name: &str) -> FuncRef {
        let i = EXTERNS.iter().position(|(n, _)| *n == name).unwrap_or(0);
        self.refs[i]
    }
}

/// A thin layer over the builder with the float operations we need.
pub(crate) struct Ir<'a, 'b> {
    pub(crate) b: &'a mut FunctionBuilder<'b>,
    pub(crate) calls: &'a Calls,
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
        // `2·y` is `y + y` bit for bit (both exact, or both the same overflow or NaN),
        // and an addition has the shorter latency (the squared error's `2·e` sits on
        // every training step's critical path).
        if self.known(x) == Some(2.0) {
            return self.b.ins().fadd(y, y);
        }
        if self.known(y) == Some(2.0) {
            return self.b.ins().fadd(x, x);
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
    pub(crate) fn call1(&mut self, name: &str, x: Value) -> Value {
        let f = self.calls.get(name);
        let inst = self.b.ins().call(f, &[x]);
        self.b.inst_results(inst)[0]
    }
    pub(crate) fn call2(&mut self, name: &str, x: Value, y: Value) -> Value {
        let f = self.calls.get(name);
        let inst = self.b.ins().call(f, &[x, y]);
        self.b.inst_results(inst)[0]
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
    fn known(&self, v: Value) -> Option<f64> {
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
    /// `x.is_nan()` as a condition.
    fn is_nan(&mut self, x: Value) -> Value {
        self.cmp(FloatCC::Unordered, x, x)
    }
    /// `if c {1.0} else {0.0}`.
    fn truth(&mut self, c: Value) -> Value {
        let (one, zero) = (self.c(1.0), self.c(0.0));
        self.select(c, one, zero)
    }
    /// `op::max2`'s (or `min2`'s) condition: `a >= b || b.is_nan()`.
    fn keeps_first(&mut self, cc: FloatCC, a: Value, b: Value) -> Value {
        let c1 = self.cmp(cc, a, b);
        if self.known(b).is_some_and(|b| !b.is_nan()) {
            // `MAX(u, 0)`: the usual ReLU needs no NaN test.
            return c1;
        }
        let c2 = self.is_nan(b);
        self.b.ins().bor(c1, c2)
    }

    /// `a.powi(n)` exactly as compiler-rt's `__powidf2` computes it: square and multiply
    /// from the lowest bit, the running product starting at 1 (whose first product
    /// `1 * base` is `base` exactly), and a final reciprocal for a negative `n`.
    pub(crate) fn powi(&mut self, a: Value, n: i32) -> Value {
        let mut pow = n.unsigned_abs();
        let mut acc: Option<Value> = None;
        let mut base = a;
        loop {
            if pow & 1 != 0 {
                acc = Some(match acc {
                    None => base,
                    Some(m) => self.mul(m, base),
                });
            }
            pow >>= 1;
            if pow == 0 {
                break;
            }
            base = self.mul(base, base);
        }
        let r = match acc {
            Some(r) => r,
            None => self.c(1.0),
        };
        if n < 0 {
            let one = self.c(1.0);
            self.div(one, r)
        } else {
            r
        }
    }

    /// Excel's `SIGN` as [`gradsheet_engine::op::sign`]: 1, -1, or `a * 0` (0 or NaN).
    fn sign(&mut self, a: Value) -> Value {
        let zero = self.c(0.0);
        let gt = self.cmp(FloatCC::GreaterThan, a, zero);
        let lt = self.cmp(FloatCC::LessThan, a, zero);
        let (one, minus) = (self.c(1.0), self.c(-1.0));
        let az = self.mul(a, zero);
        let inner = self.select(lt, minus, az);
        self.select(gt, one, inner)
    }
}

/// What is known of an adjoint while compiling.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Adj {
    /// No contribution yet: the interpreter's `0.0`.
    Zero,
    /// The seed of the output: exactly 1.
    One,
    /// A value computed at run time (equal to the interpreter's but for a zero's sign).
    Val(Value),
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
}

impl Row {
    /// Gradient `i`, bit for bit as [`Tape::backward`] leaves it.
    pub(crate) fn exact(&mut self, ir: &mut Ir<'_, '_>, i: usize) -> Value {
        if let Some(v) = self.exact[i] {
            return v;
        }
        let v = if self.canon[i] {
            // `canon`: the interpreter's `0.0 + c` (see the module docs).
            let z = ir.c(0.0);
            ir.add(self.raw[i], z)
        } else {
            self.raw[i]
        };
        self.exact[i] = Some(v);
        v
    }

    /// `exact(i) * h` for a factor `h` that is never zero: with FMA, `fma(raw, h, +0.0)`,
    /// which rounds `raw·h + 0` once and so equals `exact(i)·h` (a zero product is `+0`
    /// either way, a non-zero one is untouched) with the latency of one multiplication.
    pub(crate) fn times(&mut self, ir: &mut Ir<'_, '_>, i: usize, h: Value) -> Value {
        if self.canon[i] && self.exact[i].is_none() && has_fma() {
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
            Some(z) if has_fma() => {
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

/// Whether the reverse pass keeps the interpreter's guards (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Guards {
    /// `select(g == 0, 0, c)` for every guarded contribution: exact in every case.
    Kept,
    /// No selects. A guard only ever turns the NaN of `0 · ∞` (or `0 · NaN`) into `0`,
    /// so without it a gradient is either exact or NaN; for callers that catch a NaN
    /// gradient and redo the row exactly.
    Dropped,
}

/// Emits the forward pass of `tape` given the values of its variables, then the
/// gradient of output slot `out` with respect to the slots `wrt`.
pub(crate) fn emit_row(
    ir: &mut Ir<'_, '_>,
    tape: &Tape,
    vars: &[Value],
    out: u32,
    wrt: &[u32],
    guards: Guards,
) -> Row {
    let vals = emit_forward(ir, tape, vars);
    let (raw, canon) = emit_backward(ir, tape, &vals, out, wrt, guards);
    let exact = vec![None; raw.len()];
    Row {
        vals,
        raw,
        canon,
        exact,
    }
}

/// The forward pass: one value per slot.
pub(crate) fn emit_forward(ir: &mut Ir<'_, '_>, tape: &Tape, vars: &[Value]) -> Vec<Value> {
    let mut vals: Vec<Option<Value>> = vec![None; tape.n_slots()];
    for (i, v) in vars.iter().enumerate() {
        vals[i] = Some(*v);
    }
    for &(s, v) in tape.constants() {
        vals[s as usize] = Some(ir.c(v));
    }
    let nan = f64::NAN;
    for ins in tape.code() {
        // Operands not used by an instruction point at slot 0, which always has a value
        // when the tape has a variable; otherwise a NaN stands in (never read).
        let get = |s: u32, ir: &mut Ir<'_, '_>| match vals.get(s as usize).copied().flatten() {
            Some(v) => v,
            None => ir.c(nan),
        };
        let a = get(ins.a, ir);
        let b = get(ins.b, ir);
        let c = get(ins.c, ir);
        let v = scalar_op(ir, ins.code, a, b, c);
        vals[ins.dst as usize] = Some(v);
    }
    vals.into_iter()
        .map(|v| v.unwrap_or_else(|| ir.c(nan)))
        .collect()
}

/// One instruction on scalars, as [`Tape::forward`] computes it (`c` is read by
/// `Select` only).
pub(crate) fn scalar_op(ir: &mut Ir<'_, '_>, code: Code, a: Value, b: Value, c: Value) -> Value {
    let nan = f64::NAN;
    match code {
        Code::Add => ir.add(a, b),
        Code::Sub => ir.sub(a, b),
        Code::Mul => ir.mul(a, b),
        Code::Div => ir.div(a, b),
        Code::Neg => ir.neg(a),
        Code::Pow => ir.call2("gs_pow", a, b),
        Code::Powi(n) => ir.powi(a, n),
        Code::Cmp(o) => {
            let cc = match o {
                Op::Lt => Some(FloatCC::LessThan),
                Op::Le => Some(FloatCC::LessThanOrEqual),
                Op::Gt => Some(FloatCC::GreaterThan),
                Op::Ge => Some(FloatCC::GreaterThanOrEqual),
                Op::Eq => Some(FloatCC::Equal),
                Op::Ne => Some(FloatCC::NotEqual),
                _ => None,
            };
            match cc {
                Some(cc) => {
                    let c = ir.cmp(cc, a, b);
                    ir.truth(c)
                }
                None => ir.c(nan),
            }
        }
        Code::Max => {
            let k = ir.keeps_first(FloatCC::GreaterThanOrEqual, a, b);
            ir.select(k, a, b)
        }
        Code::Min => {
            let k = ir.keeps_first(FloatCC::LessThanOrEqual, a, b);
            ir.select(k, a, b)
        }
        Code::Unary(o) => match o {
            Op::Neg => ir.neg(a),
            Op::Abs => ir.b.ins().fabs(a),
            Op::Sign => ir.sign(a),
            Op::Exp => ir.call1("gs_exp", a),
            Op::Ln => ir.call1("gs_ln", a),
            Op::Log10 => ir.call1("gs_log10", a),
            Op::Sqrt => ir.sqrt(a),
            Op::Tanh => ir.call1("gs_tanh", a),
            Op::Relu => {
                let zero = ir.c(0.0);
                let k = ir.keeps_first(FloatCC::GreaterThanOrEqual, a, zero);
                ir.select(k, a, zero)
            }
            Op::Sigmoid => ir.call1("gs_sigmoid", a),
            _ => ir.c(nan),
        },
        Code::Log => {
            let la = ir.call1("gs_ln", a);
            let lb = ir.call1("gs_ln", b);
            ir.div(la, lb)
        }
        Code::Select => {
            let zero = ir.c(0.0);
            let ne = ir.cmp(FloatCC::NotEqual, a, zero);
            let pick = ir.select(ne, b, c);
            let isnan = ir.is_nan(a);
            let n = ir.c(nan);
            ir.select(isnan, n, pick)
        }
    }
}

/// Which slots' adjoints can reach a slot of `wrt`: only those are computed.
fn needed(tape: &Tape, wrt: &[u32]) -> Vec<bool> {
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
            Code::Cmp(_) => false,
            Code::Neg | Code::Powi(_) | Code::Unary(_) => a,
            Code::Select => b || c,
            _ => a || b,
        };
    }
    // A slot in `wrt` keeps its own flag even if an instruction wrote it (it cannot:
    // variables are never destinations).
    for &s in wrt {
        need[s as usize] = true;
    }
    need
}

/// The reverse pass: the gradient of slot `out` with respect to each slot of `wrt`.
pub(crate) fn emit_backward(
    ir: &mut Ir<'_, '_>,
    tape: &Tape,
    vals: &[Value],
    out: u32,
    wrt: &[u32],
    guards: Guards,
) -> (Vec<Value>, Vec<bool>) {
    let need = needed(tape, wrt);
    let mut adj = vec![Adj::Zero; tape.n_slots()];
    adj[out as usize] = Adj::One;
    let mut bw = Backward {
        ir,
        need: &need,
        adj: &mut adj,
    };
    for ins in tape.code().iter().rev() {
        let dst = ins.dst as usize;
        if !bw.need[dst] {
            continue;
        }
        let g = bw.adj[dst];
        if ins.guard && g == Adj::Zero {
            continue;
        }
        // Only a run-time adjoint can be zero at run time (the seed is 1).
        let zero_test = match (ins.guard && guards == Guards::Kept, g) {
            (true, Adj::Val(v)) => {
                let z = bw.ir.c(0.0);
                Some(bw.ir.cmp(FloatCC::Equal, v, z))
            }
            _ => None,
        };
        let (ia, ib, ic) = (ins.a, ins.b, ins.c);
        let (a, b, o) = (vals[ia as usize], vals[ib as usize], vals[dst]);
        match ins.code {
            Code::Add => {
                bw.acc_g(ia, g, false);
                bw.acc_g(ib, g, false);
            }
            Code::Sub => {
                bw.acc_g(ia, g, false);
                bw.acc_g(ib, g, true);
            }
            Code::Mul => {
                if bw.wants(ia) {
                    let c = bw.mul_g(g, b);
                    bw.acc(ia, c, false, zero_test);
                }
                if bw.wants(ib) {
                    let c = bw.mul_g(g, a);
                    bw.acc(ib, c, false, zero_test);
                }
            }
            Code::Div => {
                if bw.wants(ia) {
                    let c = bw.div_g(g, b);
                    bw.acc(ia, c, false, zero_test);
                }
                if bw.wants(ib) {
                    let ga = bw.mul_g(g, a);
                    let bb = bw.ir.mul(b, b);
                    let c = bw.ir.div(ga, bb);
                    bw.acc(ib, c, true, zero_test);
                }
            }
            Code::Neg => bw.acc_g(ia, g, true),
            Code::Pow => {
                if bw.wants(ia) {
                    let one = bw.ir.c(1.0);
                    let bm1 = bw.ir.sub(b, one);
                    let p = bw.ir.call2("gs_pow", a, bm1);
                    let slope = bw.ir.mul(b, p);
                    let c = bw.mul_g(g, slope);
                    bw.acc(ia, c, false, zero_test);
                }
                if bw.wants(ib) {
                    let la = bw.ir.call1("gs_ln", a);
                    let slope = bw.ir.mul(o, la);
                    let c = bw.mul_g(g, slope);
                    bw.acc(ib, c, false, zero_test);
                }
            }
            Code::Powi(n) => {
                if bw.wants(ia) {
                    let nf = bw.ir.c(n as f64);
                    let p = bw.ir.powi(a, n - 1);
                    let slope = bw.ir.mul(nf, p);
                    let c = bw.mul_g(g, slope);
                    bw.acc(ia, c, false, zero_test);
                }
            }
            Code::Cmp(_) => {}
            Code::Max | Code::Min => {
                let cc = if ins.code == Code::Max {
                    FloatCC::GreaterThanOrEqual
                } else {
                    FloatCC::LessThanOrEqual
                };
                let k = bw.ir.keeps_first(cc, a, b);
                let gv = bw.g_value(g);
                let zero = bw.ir.c(0.0);
                if bw.wants(ia) {
                    let c = bw.ir.select(k, gv, zero);
                    bw.acc(ia, c, false, None);
                }
                if bw.wants(ib) {
                    let c = bw.ir.select(k, zero, gv);
                    bw.acc(ib, c, false, None);
                }
            }
            Code::Unary(op) => {
                if bw.wants(ia) {
                    let ir = &mut *bw.ir;
                    let slope = match op {
                        Op::Neg => ir.c(-1.0),
                        Op::Abs => ir.sign(a),
                        Op::Exp => o,
                        Op::Ln => {
                            let one = ir.c(1.0);
                            ir.div(one, a)
                        }
                        Op::Log10 => {
                            let one = ir.c(1.0);
                            let l = ir.c(std::f64::consts::LN_10);
                            let d = ir.mul(a, l);
                            ir.div(one, d)
                        }
                        Op::Sqrt => {
                            let (one, two) = (ir.c(1.0), ir.c(2.0));
                            let d = ir.mul(two, o);
                            ir.div(one, d)
                        }
                        Op::Tanh => {
                            let one = ir.c(1.0);
                            let oo = ir.mul(o, o);
                            ir.sub(one, oo)
                        }
                        Op::Relu => {
                            let zero = ir.c(0.0);
                            let ge = ir.cmp(FloatCC::GreaterThanOrEqual, a, zero);
                            ir.truth(ge)
                        }
                        Op::Sigmoid => {
                            let one = ir.c(1.0);
                            let om = ir.sub(one, o);
                            ir.mul(o, om)
                        }
                        _ => ir.c(0.0),
                    };
                    let c = bw.mul_g(g, slope);
                    // A slope of ±1 or 0 times a zero adjoint adds a zero: no select.
                    let zt = if matches!(op, Op::Neg | Op::Relu) {
                        None
                    } else {
                        zero_test
                    };
                    bw.acc(ia, c, false, zt);
                }
            }
            Code::Log => {
                let lb = bw.ir.call1("gs_ln", b);
                if bw.wants(ia) {
                    let d = bw.ir.mul(a, lb);
                    let c = bw.div_g(g, d);
                    bw.acc(ia, c, false, zero_test);
                }
                if bw.wants(ib) {
                    let go = bw.mul_g(g, o);
                    let d = bw.ir.mul(b, lb);
                    let c = bw.ir.div(go, d);
                    bw.acc(ib, c, true, zero_test);
                }
            }
            Code::Select => {
                let zero = bw.ir.c(0.0);
                let ne = bw.ir.cmp(FloatCC::NotEqual, a, zero);
                let gv = bw.g_value(g);
                if bw.wants(ib) {
                    let pick = bw.ir.select(ne, gv, zero);
                    let isnan = bw.ir.is_nan(a);
                    let nan = bw.ir.c(f64::NAN);
                    let c = bw.ir.select(isnan, nan, pick);
                    bw.acc(ib, c, false, zero_test);
                }
                if bw.wants(ic) {
                    let c = bw.ir.select(ne, zero, gv);
                    bw.acc(ic, c, false, None);
                }
            }
        }
    }
    let adj = adj;
    wrt.iter()
        .map(|&s| match adj[s as usize] {
            Adj::Zero => (ir.c(0.0), false),
            Adj::One => (ir.c(1.0), false),
            Adj::Val(v) => (v, true),
        })
        .unzip()
}

struct Backward<'x, 'a, 'b> {
    ir: &'x mut Ir<'a, 'b>,
    need: &'x [bool],
    adj: &'x mut [Adj],
}

impl Backward<'_, '_, '_> {
    fn wants(&self, s: u32) -> bool {
        self.need[s as usize]
    }

    fn g_value(&mut self, g: Adj) -> Value {
        match g {
            Adj::Zero => self.ir.c(0.0),
            Adj::One => self.ir.c(1.0),
            Adj::Val(v) => v,
        }
    }

    /// `g * x`, folding the seed.
    fn mul_g(&mut self, g: Adj, x: Value) -> Value {
        match g {
            Adj::One => x,
            _ => {
                let gv = self.g_value(g);
                self.ir.mul(gv, x)
            }
        }
    }

    /// `g / x`.
    fn div_g(&mut self, g: Adj, x: Value) -> Value {
        let gv = self.g_value(g);
        self.ir.div(gv, x)
    }

    /// `adj[s] ±= g` for a contribution that is the adjoint itself.
    fn acc_g(&mut self, s: u32, g: Adj, sub: bool) {
        if !self.wants(s) {
            return;
        }
        if !sub && g == Adj::One && self.adj[s as usize] == Adj::Zero {
            self.adj[s as usize] = Adj::One;
            return;
        }
        let gv = self.g_value(g);
        self.acc(s, gv, sub, None);
    }

    /// `adj[s] ±= c`, or `adj[s] ±= select(g == 0, 0, c)` under a guard.
    fn acc(&mut self, s: u32, c: Value, sub: bool, zero_test: Option<Value>) {
        if !self.wants(s) {
            return;
        }
        let c = match zero_test {
            Some(z) => {
                let zero = self.ir.c(0.0);
                self.ir.select(z, zero, c)
            }
            None => c,
        };
        let i = s as usize;
        self.adj[i] = Adj::Val(match self.adj[i] {
            Adj::Zero => {
                if sub {
                    self.ir.neg(c)
                } else {
                    c
                }
            }
            Adj::One => {
                let one = self.ir.c(1.0);
                if sub {
                    self.ir.sub(one, c)
                } else {
                    self.ir.add(one, c)
                }
            }
            Adj::Val(v) => {
                if sub {
                    self.ir.sub(v, c)
                } else {
                    self.ir.add(v, c)
                }
            }
        });
    }
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
