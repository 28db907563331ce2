//! A formula summed over the rows of a dataset at many points at once (a loss surface,
//! a sweep): native code in which each point is a SIMD lane, the points' sums stay in
//! registers for the whole pass over the rows, and the rows' values are shared by all
//! lanes. Each lane performs exactly the scalar operations of [`Tape::forward`] and sums
//! its outputs in row order, as [`gradsheet_train::Trainer::mean_error`] does, so every
//! sum is bit for bit the interpreter's.

use std::sync::Arc;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    types, AbiParam, Block, Inst, InstBuilder, MemFlags, StackSlotData, StackSlotKind, Type, Value,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_module::Module;
use gradsheet_engine::arith::{Slopes, Values};
use gradsheet_engine::op::{self, Binary, Cmp, Native1, Native2, Unary};
use gradsheet_engine::{Code, Tape};

use crate::emit::{float_cc, scalar_op, Calls, Ir};
use crate::native::{new_module, MidEnd, Native};
use crate::CompileError;

/// Lanes per vector (SSE2's two doubles, which every x86-64 has).
const VEC: usize = 2;
/// Vectors per call: enough independent sums to hide the latency of an addition.
const GROUPS: usize = 4;
const V: Type = types::F64X2;

/// `fn(rows, n_rows, lane_values, uniform_values, sums)`.
type LaneFn = unsafe extern "C" fn(*const f64, i64, *const f64, *const f64, *mut f64);

/// A value while compiling: one for all lanes, or one per lane (a vector).
#[derive(Clone, Copy)]
enum Lv {
    S(Value),
    V(Value),
}

/// A tape's output summed over rows at [`LaneKernel::width`] points per call.
#[derive(Clone)]
pub struct LaneKernel {
    native: Arc<Native>,
    /// Whether the code is `crate::wide`'s (AVX-512, System V) rather than Cranelift's.
    wide: bool,
    width: usize,
    n_vars: usize,
    n_cols: usize,
    n_lane_slots: usize,
}

impl std::fmt::Debug for LaneKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LaneKernel")
            .field("n_vars", &self.n_vars)
            .field("lanes", &self.width)
            .field("avx512", &self.wide)
            .finish()
    }
}

/// Which code a [`LaneKernel`] is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// The widest this processor runs: AVX-512 (up to 64 points per call) when it has
    /// it and the tape calls no Rust function, else Cranelift's 128-bit vectors.
    Widest,
    /// Cranelift's 128-bit vectors (8 points per call), which every x86-64 runs.
    Sse2,
    /// As [`Width::Widest`], no wider than it takes to hold this many points in one call
    /// (8, 16, 32 or 64): for the last, short block of a line of points. (Narrower still
    /// when the registers cannot hold that many.)
    Holding(usize),
}

impl LaneKernel {
    /// Points per call of Cranelift's kernels.
    const SSE2_WIDTH: usize = VEC * GROUPS;

    /// Compiles the sum over rows of output `which` of `tape`, whose first `n_cols`
    /// variables are the data columns (read from each row), whose variables
    /// `lane_slots` differ from point to point, and whose other variables are the same
    /// for every point; at the widest the processor runs ([`Width::Widest`]).
    ///
    /// # Errors
    ///
    /// [`CompileError::Unsupported`] for slots out of range; [`CompileError::Backend`]
    /// if Cranelift fails.
    pub fn compile(
        tape: &Tape,
        n_cols: usize,
        which: usize,
        lane_slots: &[u32],
    ) -> Result<LaneKernel, CompileError> {
        Self::compile_at(tape, n_cols, which, lane_slots, Width::Widest)
    }

    /// As [`LaneKernel::compile`], in the code `width` says.
    ///
    /// # Errors
    ///
    /// As [`LaneKernel::compile`].
    pub fn compile_at(
        tape: &Tape,
        n_cols: usize,
        which: usize,
        lane_slots: &[u32],
        width: Width,
    ) -> Result<LaneKernel, CompileError> {
        let nv = tape.n_vars();
        if which >= tape.outputs().len()
            || n_cols > nv
            || lane_slots
                .iter()
                .any(|&s| s as usize >= nv || (s as usize) < n_cols)
        {
            return Err(CompileError::Unsupported("slots out of range".into()));
        }
        let kernel = |native, wide, width| LaneKernel {
            native: Arc::new(native),
            wide,
            width,
            n_vars: tape.n_vars(),
            n_cols,
            n_lane_slots: lane_slots.len(),
        };
        let max_groups = match width {
            Width::Widest => usize::MAX,
            Width::Sse2 => 0,
            Width::Holding(n) => n.div_ceil(crate::wide::LANES).next_power_of_two(),
        };
        if max_groups > 0 && crate::wide::available() {
            // Not every tape has a wide form (a call to EXP, too many values alive at
            // once): those compile for 128 bits below.
            if let Ok(w) = crate::wide::compile(tape, n_cols, which, lane_slots, VEC, max_groups) {
                return Ok(kernel(w.native, true, w.groups * crate::wide::LANES));
            }
        }
        let native = Self::compile_sse2(tape, n_cols, which, lane_slots)?;
        Ok(kernel(native, false, Self::SSE2_WIDTH))
    }

    /// Points per call: the sums [`LaneKernel::sum`] fills.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Cranelift's kernel.
    fn compile_sse2(
        tape: &Tape,
        n_cols: usize,
        which: usize,
        lane_slots: &[u32],
    ) -> Result<Native, CompileError> {
        // (The slots were checked by `compile_at`, the one caller.)
        let nv = tape.n_vars();
        let mut module = new_module(MidEnd::Run)?;
        let mut ctx = module.make_context();
        let ptr = module.target_config().pointer_type();
        for t in [ptr, types::I64, ptr, ptr, ptr] {
            ctx.func.signature.params.push(AbiParam::new(t));
        }
        let calls = Calls::declare(&mut module, &mut ctx.func)?;
        let mut fctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let mem = MemFlags::trusted();
        let (entry, header, body, exit) = (
            b.create_block(),
            b.create_block(),
            b.create_block(),
            b.create_block(),
        );
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let args = b.block_params(entry).to_vec();
        let (rows, n, lp, up, out) = (args[0], args[1], args[2], args[3], args[4]);
        let v_i = Variable::from_u32(0);
        b.declare_var(v_i, types::I64);
        let acc: Vec<Variable> = (0..GROUPS)
            .map(|g| {
                let v = Variable::from_u32(1 + g as u32);
                b.declare_var(v, V);
                v
            })
            .collect();
        let zero_i = b.ins().iconst(types::I64, 0);
        b.def_var(v_i, zero_i);
        let zero = b.ins().f64const(0.0);
        let zeros = b.ins().splat(V, zero);
        for a in &acc {
            b.def_var(*a, zeros);
        }
        let mut ir = Ir {
            b: &mut b,
            calls: &calls,
        };
        // Every shared value (the same in all lanes) has a scalar form, for the Rust
        // functions, and a vector form, for the lanes; Cranelift drops whichever is not
        // used. A splat of a value in a register is a shuffle, which competes with the
        // additions for their execution ports (W4 lost 15% to two per row): so the rows
        // come with each value twice ([`LaneRows`]) and a column's vector is one load;
        // the uniform variables, the lanes' values and their splats are made once, before
        // the loop.
        let mut shared: Vec<Option<Value>> = vec![None; tape.n_slots()];
        let mut vshared: Vec<Option<Value>> = vec![None; tape.n_slots()];
        // (A uniform's vector is stored twice and loaded back: Cranelift would place a
        // splat in the loop, where its value is used.)
        let uniform: Vec<usize> = (n_cols..nv)
            .filter(|&k| !lane_slots.contains(&(k as u32)))
            .collect();
        let slot = ir.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (16 * uniform.len()) as u32,
            4,
        ));
        for (j, &k) in uniform.iter().enumerate() {
            let s = ir.b.ins().load(types::F64, mem, up, (8 * k) as i32);
            shared[k] = Some(s);
            for h in 0..VEC {
                ir.b.ins().stack_store(s, slot, (16 * j + 8 * h) as i32);
            }
            vshared[k] = Some(ir.b.ins().stack_load(V, slot, (16 * j) as i32));
        }
        let lane_vals: Vec<Vec<Value>> = (0..GROUPS)
            .map(|g| {
                (0..lane_slots.len())
                    .map(|j| {
                        let at = 8 * (j * Self::SSE2_WIDTH + g * VEC);
                        ir.b.ins().load(V, mem, lp, at as i32)
                    })
                    .collect()
            })
            .collect();
        ir.b.ins().jump(header, &[]);
        ir.b.switch_to_block(header);
        let i = ir.b.use_var(v_i);
        let more = ir.b.ins().icmp(IntCC::SignedLessThan, i, n);
        ir.b.ins().brif(more, body, &[], exit, &[]);

        ir.b.switch_to_block(body);
        let off = ir.b.ins().imul_imm(i, (8 * VEC * n_cols) as i64);
        let rp = ir.b.ins().iadd(rows, off);
        for k in 0..n_cols {
            let v = ir.b.ins().load(V, mem, rp, (8 * VEC * k) as i32);
            vshared[k] = Some(v);
            shared[k] = Some(ir.b.ins().extractlane(v, 0));
        }
        for &(s, v) in tape.constants() {
            let c = ir.c(v);
            shared[s as usize] = Some(c);
            vshared[s as usize] = Some(ir.b.ins().splat(V, c));
        }
        // Instructions whose operands are all shared are computed once per row: on
        // vectors, or, if they call a Rust function, on scalars (once, not per lane).
        let mut is_lane = vec![false; tape.n_slots()];
        for &s in lane_slots {
            is_lane[s as usize] = true;
        }
        for ins in tape.code() {
            is_lane[ins.dst as usize] = ins.reads().any(|s| is_lane[s as usize]);
            if is_lane[ins.dst as usize] {
                continue;
            }
            let nan = ir.c(f64::NAN);
            let get = |s: u32| shared.get(s as usize).copied().flatten().unwrap_or(nan);
            let before = ir.b.func.layout.last_inst(body);
            let v = scalar_op(&mut ir, ins.code, get(ins.a), get(ins.b), get(ins.c));
            shared[ins.dst as usize] = Some(v);
            let vget = |s: u32| vshared.get(s as usize).copied().flatten().map(Lv::V);
            let vv = match (vget(ins.a), vget(ins.b), vget(ins.c)) {
                (Some(a), Some(b), Some(c)) if !emitted_call(&ir, body, before) => {
                    lane_op(&mut ir, ins.code, a, b, c)
                }
                _ => ir.b.ins().splat(V, v),
            };
            vshared[ins.dst as usize] = Some(vv);
        }
        let out_slot = tape.output(which) as usize;
        for (g, a) in acc.iter().enumerate() {
            let mut vals: Vec<Option<Lv>> = vshared.iter().map(|v| v.map(Lv::V)).collect();
            for (&s, &v) in lane_slots.iter().zip(&lane_vals[g]) {
                vals[s as usize] = Some(Lv::V(v));
            }
            for ins in tape.code() {
                if !is_lane[ins.dst as usize] {
                    continue;
                }
                let nan = ir.c(f64::NAN);
                let get = |s: u32| {
                    vals.get(s as usize)
                        .copied()
                        .flatten()
                        .unwrap_or(Lv::S(nan))
                };
                let v = lane_op(&mut ir, ins.code, get(ins.a), get(ins.b), get(ins.c));
                vals[ins.dst as usize] = Some(Lv::V(v));
            }
            let e = match vals[out_slot] {
                Some(Lv::V(v)) => v,
                Some(Lv::S(s)) => ir.b.ins().splat(V, s),
                None => {
                    let nan = ir.c(f64::NAN);
                    ir.b.ins().splat(V, nan)
                }
            };
            let sum = ir.b.use_var(*a);
            let sum = ir.b.ins().fadd(sum, e);
            ir.b.def_var(*a, sum);
        }
        let i1 = ir.b.ins().iadd_imm(i, 1);
        ir.b.def_var(v_i, i1);
        ir.b.ins().jump(header, &[]);
        ir.b.switch_to_block(exit);
        for (g, a) in acc.iter().enumerate() {
            let s = ir.b.use_var(*a);
            ir.b.ins().store(mem, s, out, (8 * g * VEC) as i32);
        }
        ir.b.ins().return_(&[]);
        b.seal_all_blocks();
        b.finalize();
        Native::finish(module, &mut ctx, "lanes")
    }

    /// `sums[w] = Σ_rows output` at point `w`, where `lanes[j * width + w]` is lane
    /// variable `j` at point `w` and `uniform` holds every variable (the lane and column
    /// entries are ignored). The sums start at `0.0` and add row by row.
    ///
    /// # Panics
    ///
    /// If a buffer is too short, or `rows` has another number of columns than the
    /// kernel (checked before the native code runs).
    pub fn sum(&self, rows: &LaneRows, lanes: &[f64], uniform: &[f64], sums: &mut [f64]) {
        assert!(
            lanes.len() >= self.n_lane_slots * self.width
                && uniform.len() >= self.n_vars
                && sums.len() >= self.width,
            "buffers too short"
        );
        assert!(
            self.n_cols > 0 && rows.n_cols == self.n_cols,
            "rows need the kernel's columns"
        );
        let args = (
            rows.wide.as_ptr(),
            rows.n_rows as i64,
            lanes.as_ptr(),
            uniform.as_ptr(),
            sums.as_mut_ptr(),
        );
        // SAFETY: `entry` is a `LaneFn` (Cranelift's, the host's C convention) or a
        // `WideFn` (System V), as `self.wide` says, compiled by `compile_at` and kept
        // alive by `self.native`. It reads `n_rows * n_cols * VEC` values of `rows.wide`
        // (its length), `n_lane_slots * width` of `lanes` and `n_vars` of `uniform`, and
        // writes `width` values of `sums`: the lengths checked above. A wide kernel
        // exists only where the processor has AVX-512F (`wide::available`).
        unsafe {
            #[cfg(target_arch = "x86_64")]
            if self.wide {
                let f = std::mem::transmute::<*const u8, crate::wide::WideFn>(self.native.entry);
                f(args.0, args.1, args.2, args.3, args.4);
                return;
            }
            let f: LaneFn = std::mem::transmute::<*const u8, LaneFn>(self.native.entry);
            f(args.0, args.1, args.2, args.3, args.4);
        }
    }
}

/// A dataset laid out for [`LaneKernel::sum`]: each value twice, side by side, so that
/// one load puts a row's value in both lanes of a vector (instead of a load and a
/// shuffle). Twice the memory of the rows, made once per grid.
///
/// # Examples
///
/// ```
/// use gradsheet_jit::LaneRows;
/// let rows = LaneRows::new(&[1.0, 2.0, 3.0, 4.0, 5.0], 2);
/// assert_eq!((rows.n_rows(), rows.n_cols()), (2, 2));
/// ```
#[derive(Clone, Debug)]
pub struct LaneRows {
    wide: Vec<f64>,
    n_rows: usize,
    n_cols: usize,
}

impl LaneRows {
    /// The whole rows of `rows` (`n_cols` values each, row after row; a partial last row
    /// is left out).
    pub fn new(rows: &[f64], n_cols: usize) -> LaneRows {
        let n_rows = rows.len().checked_div(n_cols).unwrap_or(0);
        let wide = rows[..n_rows * n_cols]
            .iter()
            .flat_map(|&v| [v; VEC])
            .collect();
        LaneRows {
            wide,
            n_rows,
            n_cols,
        }
    }

    /// The number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// The number of values in a row.
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }
}

/// Whether an instruction emitted in `block` after `before` (from its start for `None`)
/// is a call.
fn emitted_call(ir: &Ir<'_, '_>, block: Block, before: Option<Inst>) -> bool {
    let layout = &ir.b.func.layout;
    let mut at = match before {
        Some(i) => layout.next_inst(i),
        None => layout.first_inst(block),
    };
    while let Some(i) = at {
        if ir.b.func.dfg.insts[i].opcode().is_call() {
            return true;
        }
        at = layout.next_inst(i);
    }
    false
}

/// One instruction over a vector of lanes, lane by lane what `scalar_op` computes: the
/// operation's own definition run on vectors ([`Lanes`]).
fn lane_op(ir: &mut Ir<'_, '_>, code: Code, a: Lv, b: Lv, c: Lv) -> Value {
    let l = |x: Lv| match x {
        Lv::S(s) => V2::S(s),
        Lv::V(v) => V2::V(v),
    };
    let (a, b, c) = (l(a), l(b), l(c));
    let mut ar = Lanes { ir };
    let r = match code {
        Code::Unary(u) => u.value(&mut ar, a),
        Code::Binary(o) => o.value(&mut ar, a, b),
        Code::Powi(n) => op::powi_value(&mut ar, a, n),
        Code::Fold(f) => f.value(&mut ar, a, b),
        Code::Select => op::select_value(&mut ar, a, b, c),
    };
    ar.vec(r)
}

/// A number while compiling the lanes: a constant, one scalar for every lane, or a vector.
#[derive(Clone, Copy, Debug)]
enum V2 {
    K(f64),
    S(Value),
    V(Value),
}

/// A condition over the lanes: known, or a mask (all ones where it holds).
#[derive(Clone, Copy, Debug)]
enum M2 {
    Known(bool),
    Mask(Value),
}

/// The engine's arithmetic on [`VEC`] lanes at once: IEEE operations lane by lane
/// (the same bits as on scalars), comparisons as masks, selects as bit selects, and the
/// Rust functions called lane by lane.
struct Lanes<'x, 'a, 'b> {
    ir: &'x mut Ir<'a, 'b>,
}

impl Lanes<'_, '_, '_> {
    fn vec(&mut self, x: V2) -> Value {
        match x {
            V2::K(k) => {
                let s = self.ir.c(k);
                self.ir.b.ins().splat(V, s)
            }
            V2::S(s) => self.ir.b.ins().splat(V, s),
            V2::V(v) => v,
        }
    }
    fn mask(&mut self, m: M2) -> Value {
        match m {
            M2::Known(k) => {
                let s = self.ir.b.ins().iconst(types::I64, if k { -1 } else { 0 });
                self.ir.b.ins().splat(types::I64X2, s)
            }
            M2::Mask(v) => v,
        }
    }
    fn map2(&mut self, x: V2, y: V2, f: impl Fn(&mut Ir<'_, '_>, Value, Value) -> Value) -> V2 {
        let (x, y) = (self.vec(x), self.vec(y));
        V2::V(f(self.ir, x, y))
    }
    fn map1(&mut self, x: V2, f: impl Fn(&mut Ir<'_, '_>, Value) -> Value) -> V2 {
        let x = self.vec(x);
        V2::V(f(self.ir, x))
    }
    /// `f` lane by lane on scalars.
    fn per_lane(&mut self, xs: &[V2], f: impl Fn(&mut Ir<'_, '_>, &[Value]) -> Value) -> V2 {
        let vs: Vec<Value> = xs.iter().map(|x| self.vec(*x)).collect();
        let zero = self.ir.c(0.0);
        let mut out = self.ir.b.ins().splat(V, zero);
        for l in 0..VEC as u8 {
            let args: Vec<Value> = vs
                .iter()
                .map(|v| self.ir.b.ins().extractlane(*v, l))
                .collect();
            let r = f(self.ir, &args);
            out = self.ir.b.ins().insertlane(out, r, l);
        }
        V2::V(out)
    }
}

impl Slopes for Lanes<'_, '_, '_> {
    type V = V2;
    type B = M2;
    fn num(&mut self, v: f64) -> V2 {
        V2::K(v)
    }
    fn ln10(&mut self) -> V2 {
        V2::K(std::f64::consts::LN_10)
    }
    fn add(&mut self, x: V2, y: V2) -> V2 {
        self.map2(x, y, |ir, x, y| ir.b.ins().fadd(x, y))
    }
    fn sub(&mut self, x: V2, y: V2) -> V2 {
        self.map2(x, y, |ir, x, y| ir.b.ins().fsub(x, y))
    }
    fn mul(&mut self, x: V2, y: V2) -> V2 {
        self.map2(x, y, |ir, x, y| ir.b.ins().fmul(x, y))
    }
    fn div(&mut self, x: V2, y: V2) -> V2 {
        self.map2(x, y, |ir, x, y| ir.b.ins().fdiv(x, y))
    }
    fn neg(&mut self, x: V2) -> V2 {
        self.map1(x, |ir, x| ir.b.ins().fneg(x))
    }
    fn powi(&mut self, x: V2, n: i32) -> V2 {
        gradsheet_engine::arith::powi_by_squaring(self, x, n)
    }
    fn cmp(&mut self, c: Cmp, x: V2, y: V2) -> M2 {
        if let (V2::K(a), V2::K(b)) = (x, y) {
            return M2::Known(c.holds(a, b));
        }
        let (x, y) = (self.vec(x), self.vec(y));
        M2::Mask(self.ir.b.ins().fcmp(float_cc(c), x, y))
    }
    fn select(&mut self, b: M2, x: V2, y: V2) -> V2 {
        match b {
            M2::Known(k) => {
                if k {
                    x
                } else {
                    y
                }
            }
            M2::Mask(m) => {
                let (x, y) = (self.vec(x), self.vec(y));
                let m = self.ir.b.ins().bitcast(V, MemFlags::new(), m);
                V2::V(self.ir.b.ins().bitselect(m, x, y))
            }
        }
    }
    fn unary(&mut self, op: Unary, x: V2) -> V2 {
        op.value(self, x)
    }
    fn binary(&mut self, op: Binary, x: V2, y: V2) -> V2 {
        op.value(self, x, y)
    }
}

impl Values for Lanes<'_, '_, '_> {
    fn abs(&mut self, x: V2) -> V2 {
        self.map1(x, |ir, x| ir.b.ins().fabs(x))
    }
    fn sqrt(&mut self, x: V2) -> V2 {
        self.map1(x, |ir, x| ir.b.ins().sqrt(x))
    }
    fn call1(&mut self, f: Native1, x: V2) -> V2 {
        self.per_lane(&[x], |ir, a| ir.call1(f, a[0]))
    }
    fn call2(&mut self, f: Native2, x: V2, y: V2) -> V2 {
        self.per_lane(&[x, y], |ir, a| ir.call2(f, a[0], a[1]))
    }
    fn is_nan(&mut self, x: V2) -> M2 {
        match x {
            V2::K(k) => M2::Known(k.is_nan()),
            other => {
                let v = self.vec(other);
                M2::Mask(self.ir.b.ins().fcmp(FloatCC::Unordered, v, v))
            }
        }
    }
    fn not(&mut self, b: M2) -> M2 {
        match b {
            M2::Known(k) => M2::Known(!k),
            M2::Mask(m) => M2::Mask(self.ir.b.ins().bnot(m)),
        }
    }
    fn and(&mut self, b: M2, c: M2) -> M2 {
        match (b, c) {
            (M2::Known(false), _) | (_, M2::Known(false)) => M2::Known(false),
            (M2::Known(true), x) | (x, M2::Known(true)) => x,
            (x, y) => {
                let (x, y) = (self.mask(x), self.mask(y));
                M2::Mask(self.ir.b.ins().band(x, y))
            }
        }
    }
}
