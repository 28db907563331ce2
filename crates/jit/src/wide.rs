//! Lane kernels at the machine's full width: [`crate::LaneKernel`]'s sums written as
//! AVX-512 machine code directly, eight points to a register where Cranelift's vectors
//! hold two.
//!
//! Why a second backend: Cranelift's x86 vectors are 128 bits wide, and a lane kernel (an
//! error surface: `(a·x + b − y)²` summed over the rows at 64 values of `b`) is nothing
//! but independent additions and multiplications: at 128 bits it does a quarter of what
//! the machine can (`BENCHMARKS.md`, W4). The kernels are small — straight-line
//! arithmetic in one loop over the rows — so the emitter is small too: the operations
//! the engine's arithmetic is made of ([`Values`] without its calls: IEEE addition,
//! subtraction, multiplication, division and square root, the sign bit's tricks,
//! comparisons into mask registers, blends), a register allocator for a straight line,
//! and the loop. A tape that calls a Rust function (EXP, LN, POWER, ...) stays on
//! Cranelift, which can call it.
//!
//! Every lane performs exactly the scalar operations of `Tape::forward` — the vector
//! instructions are IEEE's, lane by lane, in the same rounding mode — and each operation
//! is the engine's own definition ([`Unary::value`], [`Binary::value`], ...) run on
//! registers, so the sums are the interpreter's bits (tested in `tests/it`).
//!
//! The same emitter writes the kernels that train runs side by side
//! ([`compile_train`], for `crate::side`): a lane per run, each run's parameters, state,
//! epoch sum and largest error pinned in registers for the whole call, the forward pass,
//! `emit`'s reverse pass and the workbook rule's update
//! ([`Optimizer::workbook_update`]) traced onto registers as above, and a loop over the
//! epochs around the loop over the rows. One pair of operations is fused, with the same
//! bits: the interpreter's exact gradient `raw + 0.0` times a setting positive in every
//! lane (momentum's and Adam's `1-β`) is `fma(raw, h, +0.0)`
//! ([`Optimizer::workbook_positive`]), one instruction on the vector pipes fewer.
//!
//! The code follows the System V calling convention (`extern "sysv64"`, which Rust
//! offers on every x86-64 system) and runs only where the processor has AVX-512F
//! ([`available`]).

use std::collections::HashMap;

use gradsheet_engine::arith::{Slopes, Values};
use gradsheet_engine::op::{self, Binary, Cmp, Native1, Native2, Unary};
use gradsheet_engine::{Code, CompiledModel, Tape};
use gradsheet_train::Optimizer;

use crate::native::Native;
use crate::CompileError;

/// Doubles per register.
pub(crate) const LANES: usize = 8;
/// Vector registers (zmm0–zmm31).
const ZMM: u8 = 32;
/// Mask registers an instruction may write (k1–k7: k0 means "no mask" in a blend).
const KREGS: u8 = 7;

/// Whether this processor runs the kernels (x86-64 with AVX-512F).
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `fn(rows, n_rows, lane_values, uniform_values, sums)`, as [`crate::LaneKernel`]'s.
#[cfg(target_arch = "x86_64")]
pub(crate) type WideFn =
    unsafe extern "sysv64" fn(*const f64, i64, *const f64, *const f64, *mut f64);

/// A compiled kernel: its code and its width.
pub(crate) struct Wide {
    pub(crate) native: Native,
    /// Registers of lanes per call (the kernel sums `LANES * groups` points).
    pub(crate) groups: usize,
}

/// Compiles what [`crate::LaneKernel::compile`] describes, for rows whose column `k` is
/// at `8 * col_width * k` bytes into the row (each value repeated `col_width` times, as
/// [`crate::LaneRows`] lays them out). As many groups of eight lanes as the registers
/// hold (8, else 4, 2, 1), and no more than `max_groups`.
///
/// # Errors
///
/// [`CompileError::Unsupported`] if the tape calls a Rust function or needs more
/// registers than there are even for one group; [`CompileError::Backend`] if the code
/// cannot be made executable.
pub(crate) fn compile(
    tape: &Tape,
    n_cols: usize,
    which: usize,
    lane_slots: &[u32],
    col_width: usize,
    max_groups: usize,
) -> Result<Wide, CompileError> {
    widest(max_groups, "wide_lanes", |groups| {
        assemble(tape, n_cols, which, lane_slots, col_width, groups)
    })
}

/// The kernel `assemble` writes for the most groups of eight lanes the registers hold
/// (8, else 4, 2, 1), and no more than `max_groups`.
fn widest(
    max_groups: usize,
    name: &str,
    assemble: impl Fn(usize) -> Result<Vec<u8>, CompileError>,
) -> Result<Wide, CompileError> {
    let mut last = CompileError::Unsupported("no groups".into());
    for groups in [8, 4, 2, 1].into_iter().filter(|&g| g <= max_groups.max(1)) {
        match assemble(groups) {
            Ok(bytes) => {
                let native = Native::from_bytes(&bytes, name)?;
                return Ok(Wide { native, groups });
            }
            Err(e @ CompileError::Unsupported(_)) => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// `fn(rows, n_rows, runs, settings, records, epochs)`: see [`compile_train`].
#[cfg(target_arch = "x86_64")]
pub(crate) type TrainFn =
    unsafe extern "sysv64" fn(*const f64, i64, *mut f64, *const f64, *mut f64, i64);

/// Compiles per-sample training of `model` by the workbook rule `opt` (SGD, momentum,
/// RMSProp, Adam: [`Optimizer::workbook_update`]) for `8 · groups` runs side by side,
/// each in a lane of its own, with as many groups as the registers hold (no more than
/// `max_groups`).
///
/// The function trains over `n_rows` rows (the model's columns, row after row) for
/// `epochs` epochs. `runs` holds each run's parameters and then its state variables
/// (variable `j` of lane `l` at `j · width + l`, the variables in [`State`]'s order),
/// read at the start and written back at the end; `settings` holds the rule's numbers
/// ([`Optimizer::workbook_hypers`]) as `h · width + l`; each epoch appends to `records`
/// ([`train_record_len`] doubles an epoch) its sum of errors and its largest error, a
/// register of each per group (`g · 16` doubles from the epoch's start, the sums first),
/// then every run's parameters and state at its end, laid out as `runs`: where a run
/// that goes bad in a later epoch takes up its training alone. A run is not stopped: a
/// lane whose error goes bad goes on computing, and its caller reads the records.
///
/// Each lane performs exactly the operations of the interpreter's step (the forward and
/// reverse passes by `emit`'s reverse pass, then `workbook_update`): a run whose
/// numbers stay finite is the interpreter's bit for bit, and one that a zero adjoint
/// would have spared a NaN (see `emit`'s docs) ends with a NaN.
///
/// [`State`]: gradsheet_train::State
///
/// # Errors
///
/// [`CompileError::Unsupported`] for another rule, a tape that calls a Rust function, or
/// one that needs more registers than there are even for one group.
pub(crate) fn compile_train(
    model: &CompiledModel,
    opt: &Optimizer,
    max_groups: usize,
) -> Result<Wide, CompileError> {
    widest(max_groups, "wide_train", |groups| {
        assemble_train(model, opt, groups)
    })
}

/// The doubles a training kernel of `groups` registers of runs, each run `n_run`
/// numbers (its parameters and state), appends to its records an epoch: each group's
/// sums and largest errors, then the runs (see [`compile_train`]).
pub(crate) fn train_record_len(groups: usize, n_run: usize) -> usize {
    16 * groups + n_run * groups * LANES
}

/// The machine code of a training kernel of `groups` registers of runs.
fn assemble_train(
    model: &CompiledModel,
    opt: &Optimizer,
    groups: usize,
) -> Result<Vec<u8>, CompileError> {
    let mut h = [0.0; gradsheet_train::optim::WORKBOOK_HYPERS];
    let n_hypers = opt.workbook_hypers(&mut h).ok_or_else(|| {
        CompileError::Unsupported(format!("{} is not a workbook rule", opt.name()))
    })?;
    let tape = crate::epoch::trained_tape(model)?;
    let (nc, np) = (model.n_cols, model.n_params);
    let ns = opt.state_vars().len();
    let width = LANES * groups;
    let mut t = Trace::default();
    // The registers that live for the whole call: each group's parameters and state
    // (in `runs`' order), then its sum and largest error.
    let n_run = np * (1 + ns);
    let run_regs: Vec<Vec<u32>> = (0..groups)
        .map(|_| (0..n_run).map(|_| t.vreg()).collect())
        .collect();
    let sums: Vec<u32> = (0..groups).map(|_| t.vreg()).collect();
    let maxes: Vec<u32> = (0..groups).map(|_| t.vreg()).collect();
    let pinned = t.n_vregs;

    let out = tape.output(1);
    let wrt: Vec<u32> = (nc..nc + np).map(|s| s as u32).collect();
    let need = crate::emit::needed(tape, &wrt);
    let nan = W::K(f64::NAN);
    let mut base = vec![nan; tape.n_slots()];
    for (k, v) in base.iter_mut().enumerate().take(nc) {
        *v = W::M(Mem::Row(k as u32));
    }
    for (j, &c) in model.constants.iter().enumerate() {
        if let Some(v) = base.get_mut(nc + np + j) {
            *v = W::K(c);
        }
    }
    for &(s, v) in tape.constants() {
        base[s as usize] = W::K(v);
    }
    // The registers of the exact gradients (`raw + 0.0`).
    let mut exact = Vec::new();
    for g in 0..groups {
        let regs = &run_regs[g];
        let mut vals = base.clone();
        for i in 0..np {
            vals[nc + i] = W::R(regs[i]);
        }
        for ins in tape.code() {
            vals[ins.dst as usize] = t.op(ins.code, &vals, ins.a, ins.b, ins.c);
        }
        let mut grads = vec![(W::K(0.0), false); np];
        crate::emit::backward(
            &mut t,
            tape,
            &need,
            &mut |_, s| vals[s as usize],
            out,
            &wrt,
            &mut |_, k, raw, canon| grads[k] = (raw, canon),
        );
        let err = t.reg(vals[out as usize]);
        t.ops.push(Op::Acc {
            acc: sums[g],
            src: err,
            fma: false,
        });
        t.ops.push(Op::Max {
            acc: maxes[g],
            src: err,
        });
        let settings: Vec<W> = (0..n_hypers)
            .map(|k| W::M(Mem::Lane((k * width + g * LANES) as u32)))
            .collect();
        // The interpreter's gradients: its `0.0 + c` where the pass took `c` itself.
        let grads: Vec<W> = grads
            .into_iter()
            .map(|(raw, canon)| {
                if !canon {
                    return raw;
                }
                let g = t.add(raw, W::K(0.0));
                if let W::R(r) = g {
                    exact.push(r);
                }
                g
            })
            .collect();
        // A parameter's update reads its own parameter and state, its gradient and the
        // settings: so each takes its new value at once, unless a gradient is another
        // parameter's register itself, which would then be read after it changed.
        let at_once = !grads.iter().any(|g| matches!(g, W::R(r) if *r < pinned));
        let mut moves = Vec::new();
        for (i, &grad) in grads.iter().enumerate() {
            let mut state: Vec<W> = (0..ns).map(|k| W::R(regs[np + k * np + i])).collect();
            let p = opt.workbook_update(&mut t, &settings, W::R(regs[i]), grad, &mut state);
            for (dst, v) in std::iter::once((regs[i], p))
                .chain((0..ns).map(|k| (regs[np + k * np + i], state[k])))
            {
                let src = t.reg(v);
                moves.push(Op::Mov { dst, src });
            }
            if at_once {
                t.ops.append(&mut moves);
            }
        }
        t.ops.append(&mut moves);
    }
    // The settings positive in every lane (`Optimizer::workbook_positive`), whose
    // products with an exact gradient need not add its `+ 0.0` first.
    let positive: Vec<Mem> = opt
        .workbook_positive()
        .iter()
        .take(n_hypers)
        .enumerate()
        .filter(|&(_, &p)| p)
        .flat_map(|(k, _)| (0..groups).map(move |g| Mem::Lane((k * width + g * LANES) as u32)))
        .collect();
    fuse_exact_products(&mut t.ops, &exact, &positive);
    let (zmm, kreg) = t.registers(pinned, groups)?;

    let mut a = Asm::default();
    // The rows' start and count, kept for each epoch.
    a.bytes(&[0x49, 0x89, 0xFA]); // mov r10, rdi
    a.bytes(&[0x49, 0x89, 0xF3]); // mov r11, rsi
                                  // vmovupd between each run's registers and `runs` (0x10 loads, 0x11 stores).
                                  // (At `base + from`, in `runs`' layout.)
    let move_runs = |a: &mut Asm, base: u8, from: usize, opcode: u8| {
        for (g, regs) in run_regs.iter().enumerate() {
            for (j, &r) in regs.iter().enumerate() {
                let at = (8 * (from + j * width + g * LANES)) as i32;
                a.evex(
                    OP_0F,
                    opcode,
                    zmm[r as usize],
                    0,
                    Rm::Base(base, at),
                    false,
                    0,
                );
            }
        }
    };
    move_runs(&mut a, RDX, 0, 0x10);
    let minus_inf = match t.pool(f64::NEG_INFINITY) {
        Mem::Pool(i) => i,
        _ => unreachable!("the pool gives pool entries"),
    };
    a.bytes(&[0x4D, 0x85, 0xC9]); // test r9, r9
    let to_exit = a.jump_forward(JLE);
    let epoch_top = a.code.len();
    for g in 0..groups {
        // The epoch's sums from +0.0 (as the loop's), its largest error from -inf.
        let s = zmm[sums[g] as usize];
        a.evex(OP_0F, 0xEF, s, s, Rm::Reg(s), false, 0);
        let m = zmm[maxes[g] as usize];
        a.evex(OP_0F38, 0x19, m, 0, Rm::Pool(minus_inf), false, 0);
    }
    a.bytes(&[0x4C, 0x89, 0xD7]); // mov rdi, r10
    a.bytes(&[0x4C, 0x89, 0xDE]); // mov rsi, r11
    a.row_loop(1, nc, |a| {
        let rm_of = |m: Mem| match m {
            Mem::Row(k) => Rm::Base(RDI, 8 * k as i32),
            Mem::Uniform(k) | Mem::Lane(k) => Rm::Base(RCX, 8 * k as i32),
            Mem::Pool(i) => Rm::Pool(i),
        };
        encode(a, &t.ops, &zmm, &kreg, None, &rm_of);
    })?;
    for g in 0..groups {
        for (k, r) in [sums[g], maxes[g]].into_iter().enumerate() {
            let disp = (8 * (16 * g + 8 * k)) as i32;
            // vmovupd [r8 + ...], zmm
            a.evex(
                OP_0F,
                0x11,
                zmm[r as usize],
                0,
                Rm::Base(R8, disp),
                false,
                0,
            );
        }
    }
    // The runs at the epoch's end, after its sums.
    move_runs(&mut a, R8, 16 * groups, 0x11);
    let record = train_record_len(groups, n_run);
    a.bytes(&[0x49, 0x81, 0xC0]); // add r8, 8 · record
    a.bytes(&((8 * record) as u32).to_le_bytes());
    a.bytes(&[0x49, 0xFF, 0xC9]); // dec r9
    a.jump_back(JNZ, epoch_top);
    a.land(to_exit);
    move_runs(&mut a, RDX, 0, 0x11);
    a.bytes(&[0xC5, 0xF8, 0x77, 0xC3]); // vzeroupper; ret
    Ok(a.finish(&t.pool))
}

/// Each exact gradient `g = raw + 0.0` (`exact`: the registers of such `g`) that only
/// one product reads, a product by a setting of `positive` (positive in every lane),
/// becomes one [`Op::Fma`], `fma(raw, h, +0.0)`: for a positive `h` it is `(raw + 0.0)·h`
/// bit for bit (see `Optimizer::workbook_positive`), one instruction fewer on the
/// vector pipes — for momentum on `a*x+b`, 18 a row where there were 20.
fn fuse_exact_products(ops: &mut Vec<Op>, exact: &[u32], positive: &[Mem]) {
    let mut reads: HashMap<u32, usize> = HashMap::new();
    let mut loaded: HashMap<u32, Mem> = HashMap::new();
    for op in ops.iter() {
        for r in op.vectors().0.into_iter().flatten() {
            *reads.entry(r).or_default() += 1;
        }
        if let Op::Bcast { dst, src } = *op {
            loaded.insert(dst, src);
        }
    }
    // A factor that is a positive setting: in memory, or loaded into a register.
    let positive_src = |s: Src| match s {
        Src::M(m) => positive.contains(&m),
        Src::R(r) => loaded.get(&r).is_some_and(|m| positive.contains(m)),
    };
    let mut dead = vec![false; ops.len()];
    for &g in exact {
        if reads.get(&g) != Some(&1) {
            continue;
        }
        let Some((i, raw)) = ops.iter().enumerate().find_map(|(i, op)| match *op {
            Op::Arith {
                op: Arith::Add,
                dst,
                a,
                ..
            } if dst == g => Some((i, a)),
            _ => None,
        }) else {
            continue;
        };
        let product = ops
            .iter()
            .enumerate()
            .skip(i + 1)
            .find_map(|(j, op)| match *op {
                Op::Arith {
                    op: Arith::Mul,
                    dst,
                    a,
                    b,
                } if b == Src::R(g) && positive_src(Src::R(a)) => Some((j, dst, Src::R(a))),
                Op::Arith {
                    op: Arith::Mul,
                    dst,
                    a,
                    b,
                } if a == g && positive_src(b) => Some((j, dst, b)),
                _ => None,
            });
        if let Some((j, dst, h)) = product {
            ops[j] = Op::Fma { dst, a: raw, b: h };
            dead[i] = true;
        }
    }
    let mut k = 0;
    ops.retain(|_| {
        k += 1;
        !dead[k - 1]
    });
}

/// The machine code of a kernel of `groups` registers of lanes.
fn assemble(
    tape: &Tape,
    n_cols: usize,
    which: usize,
    lane_slots: &[u32],
    col_width: usize,
    groups: usize,
) -> Result<Vec<u8>, CompileError> {
    // (The slots were checked by `LaneKernel::compile_at`, the one caller.)
    let nv = tape.n_vars();
    let width = LANES * groups;
    let mut t = Trace::default();
    // The registers that live for the whole call: each group's lane values and sums.
    let lane_regs: Vec<Vec<u32>> = (0..groups)
        .map(|_| lane_slots.iter().map(|_| t.vreg()).collect())
        .collect();
    let acc: Vec<u32> = (0..groups).map(|_| t.vreg()).collect();
    let pinned = t.n_vregs;

    // One pass of the loop's body: the values shared by every lane once (a broadcast
    // register, or an operand read from memory by the instruction that uses it), then
    // each group's own.
    let nan = W::K(f64::NAN);
    let mut shared = vec![nan; tape.n_slots()];
    for (k, v) in shared.iter_mut().enumerate().take(nv) {
        *v = if k < n_cols {
            W::M(Mem::Row(k as u32))
        } else {
            W::M(Mem::Uniform(k as u32))
        };
    }
    for &(s, v) in tape.constants() {
        shared[s as usize] = W::K(v);
    }
    let mut is_lane = vec![false; tape.n_slots()];
    for &s in lane_slots {
        is_lane[s as usize] = true;
    }
    for ins in tape.code() {
        is_lane[ins.dst as usize] = ins.reads().any(|s| is_lane[s as usize]);
        if !is_lane[ins.dst as usize] {
            shared[ins.dst as usize] = t.op(ins.code, &shared, ins.a, ins.b, ins.c);
        }
    }
    let out_slot = tape.output(which) as usize;
    for g in 0..groups {
        let mut vals = shared.clone();
        for (&s, &r) in lane_slots.iter().zip(&lane_regs[g]) {
            vals[s as usize] = W::R(r);
        }
        for ins in tape.code() {
            if is_lane[ins.dst as usize] {
                vals[ins.dst as usize] = t.op(ins.code, &vals, ins.a, ins.b, ins.c);
            }
        }
        let e = t.reg(vals[out_slot]);
        t.ops.push(Op::Acc {
            acc: acc[g],
            src: e,
            fma: false,
        });
    }
    // The machine has two pipes for additions and two for multiplications (and
    // multiply-adds). A sum of squared errors is mostly additions — W4's `(ax + b − y)²`
    // is three additions and one multiplication a lane — so the sums' additions go to
    // the multiply pipes when the additions outnumber the multiplications: as
    // `fma(e, 1, sum)`, which rounds `e + sum` once, as the addition does (`e·1` is
    // exact), the same bits.
    let adds = t.ops.iter().filter(|o| o.is_addition()).count();
    let muls = t.ops.iter().filter(|o| o.is_multiplication()).count();
    if adds > muls + 1 {
        let one = t.pool(1.0);
        for o in &mut t.ops {
            if let Op::Acc { fma, .. } = o {
                *fma = true;
            }
        }
        t.one = Some(one);
    }
    let (zmm, kreg) = t.registers(pinned, groups)?;

    // The code: load the lanes, zero the sums, loop over the rows, store the sums.
    let mut a = Asm::default();
    for (g, regs) in lane_regs.iter().enumerate() {
        for (j, &r) in regs.iter().enumerate() {
            let disp = 8 * (j * width + g * LANES);
            a.evex(
                OP_0F,
                0x10,
                zmm[r as usize],
                0,
                Rm::Base(RDX, disp as i32),
                false,
                0,
            );
        }
    }
    for &r in &acc {
        let z = zmm[r as usize];
        a.evex(OP_0F, 0xEF, z, z, Rm::Reg(z), false, 0);
    }
    a.row_loop(col_width, n_cols, |a| {
        let col = |k: u32| (8 * col_width * k as usize) as i32;
        let rm_of = |m: Mem| match m {
            Mem::Row(k) => Rm::Base(RDI, col(k)),
            Mem::Uniform(k) | Mem::Lane(k) => Rm::Base(RCX, 8 * k as i32),
            Mem::Pool(i) => Rm::Pool(i),
        };
        encode(a, &t.ops, &zmm, &kreg, t.one, &rm_of);
    })?;
    for (g, &r) in acc.iter().enumerate() {
        a.evex(
            OP_0F,
            0x11,
            zmm[r as usize],
            0,
            Rm::Base(R8, (64 * g) as i32),
            false,
            0,
        );
    }
    a.bytes(&[0xC5, 0xF8, 0x77, 0xC3]); // vzeroupper; ret
    Ok(a.finish(&t.pool))
}

/// The machine code of the loop body's instructions, with physical registers `zmm` and
/// `kreg` (from [`allocate`]) and memory operands where `rm_of` says.
fn encode(
    a: &mut Asm,
    ops: &[Op],
    zmm: &[u8],
    kreg: &[u8],
    one: Option<Mem>,
    rm_of: &dyn Fn(Mem) -> Rm,
) {
    let src_of = |s: Src| match s {
        Src::R(r) => (Rm::Reg(zmm[r as usize]), false),
        Src::M(m) => (rm_of(m), m.is_broadcast()),
    };
    for op in ops {
        match *op {
            Op::Bcast { dst, src } if src.is_broadcast() => {
                // vbroadcastsd zmm, m64
                a.evex(OP_0F38, 0x19, zmm[dst as usize], 0, rm_of(src), false, 0);
            }
            Op::Bcast { dst, src } => {
                // vmovupd zmm, m512
                a.evex(OP_0F, 0x10, zmm[dst as usize], 0, rm_of(src), false, 0);
            }
            Op::Arith { op, dst, a: x, b } => {
                let code = match op {
                    Arith::Add => 0x58,
                    Arith::Mul => 0x59,
                    Arith::Sub => 0x5C,
                    Arith::Div => 0x5E,
                    Arith::And => 0xDB, // vpandq
                    Arith::Xor => 0xEF, // vpxorq
                };
                let (rm, bc) = src_of(b);
                a.evex(OP_0F, code, zmm[dst as usize], zmm[x as usize], rm, bc, 0);
            }
            Op::Sqrt { dst, a: x } => {
                let (rm, bc) = src_of(x);
                a.evex(OP_0F, 0x51, zmm[dst as usize], 0, rm, bc, 0);
            }
            Op::Cmp { dst, pred, a: x, b } => {
                let (rm, bc) = src_of(b);
                a.evex(OP_0F, 0xC2, kreg[dst as usize], zmm[x as usize], rm, bc, 0);
                a.bytes(&[pred]);
            }
            Op::Blend {
                dst,
                mask,
                if_false,
                if_true,
            } => {
                let (rm, bc) = src_of(if_true);
                let k = kreg[mask as usize];
                a.evex(
                    OP_0F38,
                    0x65,
                    zmm[dst as usize],
                    zmm[if_false as usize],
                    rm,
                    bc,
                    k,
                );
            }
            Op::Not { dst, a: x } => a.knotw(kreg[dst as usize], kreg[x as usize]),
            Op::And { dst, a: x, b } => {
                a.kandw(kreg[dst as usize], kreg[x as usize], kreg[b as usize]);
            }
            Op::Acc { acc, src, fma } => {
                let s = zmm[acc as usize];
                match (fma, one) {
                    // vfmadd231pd sum, e, [one]{1to8}: sum = e·1 + sum.
                    (true, Some(Mem::Pool(i))) => {
                        a.evex(OP_0F38, 0xB8, s, zmm[src as usize], Rm::Pool(i), true, 0);
                    }
                    _ => a.evex(OP_0F, 0x58, s, s, Rm::Reg(zmm[src as usize]), false, 0),
                }
            }
            Op::Fma { dst, a: x, b } => {
                let d = zmm[dst as usize];
                // vpxorq dst, dst, dst (a zero idiom: no execution unit); then
                // vfmadd231pd dst, a, b: dst = a·b + dst, rounded once.
                a.evex(OP_0F, 0xEF, d, d, Rm::Reg(d), false, 0);
                let (rm, bc) = src_of(b);
                a.evex(OP_0F38, 0xB8, d, zmm[x as usize], rm, bc, 0);
            }
            Op::Max { acc, src } => {
                // vmaxpd acc, src, acc: the second source where either is NaN.
                let m = zmm[acc as usize];
                a.evex(OP_0F, 0x5F, m, zmm[src as usize], Rm::Reg(m), false, 0);
            }
            Op::Mov { dst, src } => {
                if dst != src {
                    // vmovapd dst, src
                    a.evex(
                        OP_0F,
                        0x28,
                        zmm[dst as usize],
                        0,
                        Rm::Reg(zmm[src as usize]),
                        false,
                        0,
                    );
                }
            }
        }
    }
}

/// Where a broadcast operand is read from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Mem {
    /// Column `k` of the current row.
    Row(u32),
    /// Variable `k` of the uniform values.
    Uniform(u32),
    /// Entry `i` of the constant pool.
    Pool(u32),
    /// A whole register of lanes at `8 * i` bytes into the lanes' own numbers (a
    /// training kernel's settings, one per run): read as it is, not broadcast.
    Lane(u32),
}

impl Mem {
    /// Whether an instruction reads it broadcast from one double.
    fn is_broadcast(self) -> bool {
        !matches!(self, Mem::Lane(_))
    }
}

/// A value while tracing: a constant, a double in memory (the same in every lane), or a
/// register of lanes.
#[derive(Clone, Copy, Debug)]
enum W {
    K(f64),
    M(Mem),
    R(u32),
}

/// A condition: known while compiling, or a mask register.
#[derive(Clone, Copy, Debug)]
enum Mk {
    Known(bool),
    K(u32),
}

/// An instruction's last operand: a register, or a double in memory broadcast to every
/// lane by the instruction itself (AVX-512's embedded broadcast: no register, no
/// separate load).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Src {
    R(u32),
    M(Mem),
}

#[derive(Clone, Copy, Debug)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    And,
    Xor,
}

/// One instruction of the loop's body, on virtual registers (vectors and masks
/// numbered apart).
#[derive(Clone, Copy, Debug)]
enum Op {
    Bcast {
        dst: u32,
        src: Mem,
    },
    Arith {
        op: Arith,
        dst: u32,
        a: u32,
        b: Src,
    },
    Sqrt {
        dst: u32,
        a: Src,
    },
    Cmp {
        dst: u32,
        pred: u8,
        a: u32,
        b: Src,
    },
    Blend {
        dst: u32,
        mask: u32,
        if_false: u32,
        if_true: Src,
    },
    Not {
        dst: u32,
        a: u32,
    },
    And {
        dst: u32,
        a: u32,
        b: u32,
    },
    /// `sum += src`, as an addition or as `fma(src, 1, sum)`.
    Acc {
        acc: u32,
        src: u32,
        fma: bool,
    },
    /// `dst = a·b + (+0.0)`, rounded once: the exact gradient `a + 0.0` times a factor
    /// `b` positive in every lane, in one instruction (see `fuse_exact_products`). Its
    /// `dst` is written before its operands are read (it is zeroed first), so it never
    /// shares their registers.
    Fma {
        dst: u32,
        a: u32,
        b: Src,
    },
    /// `acc = max(src, acc)`, `acc` kept where `src` is NaN (`vmaxpd`'s rule).
    Max {
        acc: u32,
        src: u32,
    },
    /// A pinned register (a run's parameter or state) takes its next value.
    Mov {
        dst: u32,
        src: u32,
    },
}

impl Op {
    /// The vector registers it reads and the one it writes.
    fn vectors(&self) -> ([Option<u32>; 3], Option<u32>) {
        let s = |x: Src| match x {
            Src::R(r) => Some(r),
            Src::M(_) => None,
        };
        match *self {
            Op::Bcast { dst, .. } => ([None; 3], Some(dst)),
            Op::Arith { dst, a, b, .. } | Op::Fma { dst, a, b } => {
                ([Some(a), s(b), None], Some(dst))
            }
            Op::Sqrt { dst, a } => ([s(a), None, None], Some(dst)),
            Op::Cmp { a, b, .. } => ([Some(a), s(b), None], None),
            Op::Blend {
                dst,
                if_false,
                if_true,
                ..
            } => ([Some(if_false), s(if_true), None], Some(dst)),
            Op::Not { .. } | Op::And { .. } => ([None; 3], None),
            Op::Acc { acc, src, .. } | Op::Max { acc, src } => ([Some(acc), Some(src), None], None),
            Op::Mov { src, .. } => ([Some(src), None, None], None),
        }
    }

    fn is_addition(&self) -> bool {
        matches!(
            self,
            Op::Arith {
                op: Arith::Add | Arith::Sub,
                ..
            } | Op::Acc { .. }
        )
    }

    fn is_multiplication(&self) -> bool {
        matches!(self, Op::Arith { op: Arith::Mul, .. } | Op::Fma { .. })
    }

    /// Whether it writes its register before reading its operands (so that register
    /// must be none of theirs).
    fn clobbers_early(&self) -> bool {
        matches!(self, Op::Fma { .. })
    }

    /// The mask registers it reads and the one it writes.
    fn masks(&self) -> ([Option<u32>; 2], Option<u32>) {
        match *self {
            Op::Cmp { dst, .. } => ([None; 2], Some(dst)),
            Op::Blend { mask, .. } => ([Some(mask), None], None),
            Op::Not { dst, a } => ([Some(a), None], Some(dst)),
            Op::And { dst, a, b } => ([Some(a), Some(b)], Some(dst)),
            _ => ([None; 2], None),
        }
    }
}

/// The body being traced: the engine's arithmetic ([`Slopes`], [`Values`]) recorded as
/// instructions on virtual registers.
#[derive(Default)]
struct Trace {
    ops: Vec<Op>,
    n_vregs: u32,
    n_masks: u32,
    /// Constants, as bits (so that −0 and NaN's payload are kept).
    pool: Vec<u64>,
    /// The register a double in memory was broadcast to, once per pass.
    loaded: HashMap<Mem, u32>,
    /// The first operation that needs a call.
    unsupported: Option<&'static str>,
    /// The pool's 1.0, when the sums are multiply-adds.
    one: Option<Mem>,
}

impl Trace {
    /// Physical registers for the traced body (see [`allocate`]), of which the first
    /// `pinned` vector registers live for the whole call.
    ///
    /// # Errors
    ///
    /// [`CompileError::Unsupported`] if the body calls a Rust function or needs more
    /// registers than there are for its `groups` groups.
    fn registers(&self, pinned: u32, groups: usize) -> Result<(Vec<u8>, Vec<u8>), CompileError> {
        if let Some(what) = self.unsupported {
            return Err(CompileError::Unsupported(format!(
                "{what} calls a Rust function"
            )));
        }
        allocate(&self.ops, pinned, self.n_vregs, self.n_masks).ok_or_else(|| {
            CompileError::Unsupported(format!("{groups} groups need more registers"))
        })
    }

    fn vreg(&mut self) -> u32 {
        self.n_vregs += 1;
        self.n_vregs - 1
    }

    fn pool(&mut self, v: f64) -> Mem {
        let bits = v.to_bits();
        let i = match self.pool.iter().position(|&b| b == bits) {
            Some(i) => i,
            None => {
                self.pool.push(bits);
                self.pool.len() - 1
            }
        };
        Mem::Pool(i as u32)
    }

    fn reg(&mut self, x: W) -> u32 {
        let m = match x {
            W::R(r) => return r,
            W::K(k) => self.pool(k),
            W::M(m) => m,
        };
        if let Some(&r) = self.loaded.get(&m) {
            return r;
        }
        let dst = self.vreg();
        self.ops.push(Op::Bcast { dst, src: m });
        self.loaded.insert(m, dst);
        dst
    }

    fn src(&mut self, x: W) -> Src {
        match x {
            W::R(r) => Src::R(r),
            W::K(k) => Src::M(self.pool(k)),
            W::M(m) => Src::M(m),
        }
    }

    fn arith(&mut self, op: Arith, x: W, y: W) -> W {
        let a = self.reg(x);
        let b = self.src(y);
        let dst = self.vreg();
        self.ops.push(Op::Arith { op, dst, a, b });
        W::R(dst)
    }

    fn cmp_pred(&mut self, pred: u8, x: W, y: W) -> Mk {
        let a = self.reg(x);
        let b = self.src(y);
        self.n_masks += 1;
        let dst = self.n_masks - 1;
        self.ops.push(Op::Cmp { dst, pred, a, b });
        Mk::K(dst)
    }

    /// One instruction of the tape on the values `vals`.
    fn op(&mut self, code: Code, vals: &[W], a: u32, b: u32, c: u32) -> W {
        let get = |s: u32| vals.get(s as usize).copied().unwrap_or(W::K(f64::NAN));
        let (a, b, c) = (get(a), get(b), get(c));
        match code {
            Code::Unary(u) => u.value(self, a),
            Code::Binary(o) => o.value(self, a, b),
            Code::Powi(n) => op::powi_value(self, a, n),
            Code::Fold(f) => f.value(self, a, b),
            Code::Select => op::select_value(self, a, b, c),
        }
    }
}

/// The comparison's predicate for `vcmppd` (the ordered, quiet forms; `<>` unordered, as
/// IEEE's `!=`).
fn predicate(c: Cmp) -> u8 {
    match c {
        Cmp::Lt => 0x11, // LT_OQ
        Cmp::Le => 0x12, // LE_OQ
        Cmp::Gt => 0x1E, // GT_OQ
        Cmp::Ge => 0x1D, // GE_OQ
        Cmp::Eq => 0x00, // EQ_OQ
        Cmp::Ne => 0x04, // NEQ_UQ
    }
}

/// UNORD_Q: true where either operand is NaN.
const UNORDERED: u8 = 0x03;

impl Slopes for Trace {
    type V = W;
    type B = Mk;
    fn num(&mut self, v: f64) -> W {
        W::K(v)
    }
    fn ln10(&mut self) -> W {
        W::K(std::f64::consts::LN_10)
    }
    fn add(&mut self, x: W, y: W) -> W {
        self.arith(Arith::Add, x, y)
    }
    fn sub(&mut self, x: W, y: W) -> W {
        self.arith(Arith::Sub, x, y)
    }
    fn mul(&mut self, x: W, y: W) -> W {
        // As `Ir::mul`: `1·y` is `y` and `2·y` is `y + y`, bit for bit.
        match (x, y) {
            (W::K(k), o) | (o, W::K(k)) if k == 1.0 => o,
            (W::K(k), o) | (o, W::K(k)) if k == 2.0 => self.arith(Arith::Add, o, o),
            _ => self.arith(Arith::Mul, x, y),
        }
    }
    fn div(&mut self, x: W, y: W) -> W {
        self.arith(Arith::Div, x, y)
    }
    fn neg(&mut self, x: W) -> W {
        // The sign bit flipped, as `-x` on a scalar (NaN's sign too).
        self.arith(Arith::Xor, x, W::K(-0.0))
    }
    fn powi(&mut self, x: W, n: i32) -> W {
        gradsheet_engine::arith::powi_by_squaring(self, x, n)
    }
    fn cmp(&mut self, c: Cmp, x: W, y: W) -> Mk {
        if let (W::K(a), W::K(b)) = (x, y) {
            return Mk::Known(c.holds(a, b));
        }
        self.cmp_pred(predicate(c), x, y)
    }
    fn select(&mut self, b: Mk, x: W, y: W) -> W {
        match b {
            Mk::Known(true) => x,
            Mk::Known(false) => y,
            Mk::K(mask) => {
                let if_false = self.reg(y);
                let if_true = self.src(x);
                let dst = self.vreg();
                self.ops.push(Op::Blend {
                    dst,
                    mask,
                    if_false,
                    if_true,
                });
                W::R(dst)
            }
        }
    }
    fn unary(&mut self, op: Unary, x: W) -> W {
        op.value(self, x)
    }
    fn binary(&mut self, op: Binary, x: W, y: W) -> W {
        op.value(self, x, y)
    }
}

impl crate::emit::Reverse for Trace {
    fn known(&self, v: W) -> Option<f64> {
        match v {
            W::K(k) => Some(k),
            _ => None,
        }
    }
}

impl Values for Trace {
    fn abs(&mut self, x: W) -> W {
        self.arith(Arith::And, x, W::K(f64::from_bits(!(1u64 << 63))))
    }
    fn sqrt(&mut self, x: W) -> W {
        let a = self.src(x);
        let dst = self.vreg();
        self.ops.push(Op::Sqrt { dst, a });
        W::R(dst)
    }
    fn call1(&mut self, f: Native1, _: W) -> W {
        self.unsupported.get_or_insert(f.symbol());
        W::K(f64::NAN)
    }
    fn call2(&mut self, f: Native2, _: W, _: W) -> W {
        self.unsupported.get_or_insert(f.symbol());
        W::K(f64::NAN)
    }
    fn is_nan(&mut self, x: W) -> Mk {
        match x {
            W::K(k) => Mk::Known(k.is_nan()),
            other => {
                let r = self.reg(other);
                self.cmp_pred(UNORDERED, W::R(r), W::R(r))
            }
        }
    }
    fn not(&mut self, b: Mk) -> Mk {
        match b {
            Mk::Known(k) => Mk::Known(!k),
            Mk::K(a) => {
                self.n_masks += 1;
                let dst = self.n_masks - 1;
                self.ops.push(Op::Not { dst, a });
                Mk::K(dst)
            }
        }
    }
    fn and(&mut self, b: Mk, c: Mk) -> Mk {
        match (b, c) {
            (Mk::Known(false), _) | (_, Mk::Known(false)) => Mk::Known(false),
            (Mk::Known(true), x) | (x, Mk::Known(true)) => x,
            (Mk::K(a), Mk::K(b)) => {
                self.n_masks += 1;
                let dst = self.n_masks - 1;
                self.ops.push(Op::And { dst, a, b });
                Mk::K(dst)
            }
        }
    }
}

/// Physical registers for a straight line of SSA instructions: each virtual register
/// takes a free one when written and gives it back after its last read (so an
/// instruction may write where its operand was: AVX's three operands allow it). The
/// first `pinned` vector registers (lanes and sums) hold theirs for the whole call.
/// `None` if more are alive at once than the machine has.
fn allocate(ops: &[Op], pinned: u32, n_vregs: u32, n_masks: u32) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut last_v = vec![usize::MAX; n_vregs as usize];
    let mut last_k = vec![usize::MAX; n_masks as usize];
    for (i, op) in ops.iter().enumerate() {
        for r in op.vectors().0.into_iter().flatten() {
            last_v[r as usize] = i;
        }
        for k in op.masks().0.into_iter().flatten() {
            last_k[k as usize] = i;
        }
    }
    if pinned > u32::from(ZMM) {
        return None;
    }
    let mut zmm = vec![u8::MAX; n_vregs as usize];
    for (r, z) in zmm.iter_mut().enumerate().take(pinned as usize) {
        *z = r as u8;
    }
    let mut free_v: Vec<u8> = (pinned as u8..ZMM).rev().collect();
    let mut kreg = vec![u8::MAX; n_masks as usize];
    let mut free_k: Vec<u8> = (1..=KREGS).rev().collect();
    for (i, op) in ops.iter().enumerate() {
        let (reads, write) = op.vectors();
        let take = |zmm: &mut Vec<u8>, free_v: &mut Vec<u8>| -> Option<()> {
            if let Some(w) = write {
                zmm[w as usize] = free_v.pop()?;
                if last_v[w as usize] == usize::MAX {
                    free_v.push(zmm[w as usize]);
                }
            }
            Some(())
        };
        if op.clobbers_early() {
            take(&mut zmm, &mut free_v)?;
        }
        let mut done: Vec<u32> = Vec::new();
        for r in reads.into_iter().flatten() {
            if r >= pinned && last_v[r as usize] == i && !done.contains(&r) {
                free_v.push(zmm[r as usize]);
                done.push(r);
            }
        }
        if !op.clobbers_early() {
            take(&mut zmm, &mut free_v)?;
        }
        let (reads, write) = op.masks();
        let mut done: Vec<u32> = Vec::new();
        for k in reads.into_iter().flatten() {
            if last_k[k as usize] == i && !done.contains(&k) {
                free_k.push(kreg[k as usize]);
                done.push(k);
            }
        }
        if let Some(w) = write {
            kreg[w as usize] = free_k.pop()?;
            if last_k[w as usize] == usize::MAX {
                free_k.push(kreg[w as usize]);
            }
        }
    }
    Some((zmm, kreg))
}

const RCX: u8 = 1;
const RDX: u8 = 2;
const RDI: u8 = 7;
const R8: u8 = 8;
/// Opcode maps.
const OP_0F: u8 = 1;
const OP_0F38: u8 = 2;

/// An instruction's register-or-memory operand.
#[derive(Clone, Copy, Debug)]
enum Rm {
    /// A vector register.
    Reg(u8),
    /// `[base + disp]`.
    Base(u8, i32),
    /// A constant of the pool, addressed relative to the instruction.
    Pool(u32),
}

/// Machine code being written, with the pool references to resolve at the end.
#[derive(Default)]
struct Asm {
    code: Vec<u8>,
    /// (where a displacement is, the pool entry it points at).
    fixups: Vec<(usize, u32)>,
}

/// The condition codes of the jumps used (`0F 8x rel32`).
const JLE: u8 = 0x8E;
const JNZ: u8 = 0x85;

impl Asm {
    fn bytes(&mut self, b: &[u8]) {
        self.code.extend_from_slice(b);
    }

    /// A conditional jump forward to a place not yet written: returns where its
    /// displacement is, for [`Asm::land`].
    fn jump_forward(&mut self, cc: u8) -> usize {
        self.bytes(&[0x0F, cc]);
        let at = self.code.len();
        self.bytes(&[0; 4]);
        at
    }

    /// Makes the jump forward whose displacement is at `at` land here.
    fn land(&mut self, at: usize) {
        let rel = (self.code.len() - at - 4) as i32;
        self.code[at..at + 4].copy_from_slice(&rel.to_le_bytes());
    }

    /// A conditional jump back to `top`.
    fn jump_back(&mut self, cc: u8, top: usize) {
        self.bytes(&[0x0F, cc]);
        let rel = top as i64 - (self.code.len() + 4) as i64;
        self.bytes(&(rel as i32).to_le_bytes());
    }

    /// `body` once per row: `rsi` rows from `rdi`, each `n_cols` values of `col_width`
    /// doubles (nothing where `rsi <= 0`).
    ///
    /// # Errors
    ///
    /// [`CompileError::Unsupported`] for rows too wide for a 32-bit stride.
    fn row_loop(
        &mut self,
        col_width: usize,
        n_cols: usize,
        body: impl FnOnce(&mut Asm),
    ) -> Result<(), CompileError> {
        let stride = u32::try_from(8 * col_width * n_cols)
            .map_err(|_| CompileError::Unsupported("rows too wide".into()))?;
        self.bytes(&[0x48, 0x85, 0xF6]); // test rsi, rsi
        let to_end = self.jump_forward(JLE);
        let top = self.code.len();
        body(self);
        self.bytes(&[0x48, 0x81, 0xC7]); // add rdi, stride
        self.bytes(&stride.to_le_bytes());
        self.bytes(&[0x48, 0xFF, 0xCE]); // dec rsi
        self.jump_back(JNZ, top);
        self.land(to_end);
        Ok(())
    }

    /// `knotw dst, a` (VEX.L0.0F.W0 44).
    fn knotw(&mut self, dst: u8, a: u8) {
        self.bytes(&[0xC5, 0xF8, 0x44, 0xC0 | dst << 3 | a]);
    }

    /// `kandw dst, a, b` (VEX.L1.0F.W0 41).
    fn kandw(&mut self, dst: u8, a: u8, b: u8) {
        self.bytes(&[
            0xC5,
            0x80 | (!a & 0xF) << 3 | 0x04,
            0x41,
            0xC0 | dst << 3 | b,
        ]);
    }

    /// A 512-bit EVEX instruction of prefix 66 and W1 (every packed-double and quadword
    /// instruction used here): `reg` the destination (or a store's source, or a mask),
    /// `vvvv` the first source (0 when unused), `rm` the last operand, `bcast` a memory
    /// operand broadcast from one double, `mask` the opmask (0 for none).
    #[allow(clippy::too_many_arguments)]
    fn evex(&mut self, map: u8, opcode: u8, reg: u8, vvvv: u8, rm: Rm, bcast: bool, mask: u8) {
        let bit = |v: u8, i: u8| (v >> i) & 1;
        let (b, x) = match rm {
            Rm::Reg(r) => (bit(r, 3), bit(r, 4)),
            Rm::Base(g, _) => (bit(g, 3), 0),
            Rm::Pool(_) => (0, 0),
        };
        let p0 =
            (1 - bit(reg, 3)) << 7 | (1 - x) << 6 | (1 - b) << 5 | (1 - bit(reg, 4)) << 4 | map;
        let p1 = 1 << 7 | (!vvvv & 0xF) << 3 | 1 << 2 | 1;
        let p2 = 0b10 << 5 | u8::from(bcast) << 4 | (1 - bit(vvvv, 4)) << 3 | mask;
        self.bytes(&[0x62, p0, p1, p2, opcode]);
        match rm {
            Rm::Reg(r) => self.bytes(&[0xC0 | (reg & 7) << 3 | (r & 7)]),
            Rm::Base(g, disp) => {
                // No base with low bits 100 (rsp, r12: they need a SIB byte).
                debug_assert_ne!(g & 7, 4);
                self.bytes(&[0x80 | (reg & 7) << 3 | (g & 7)]);
                self.bytes(&disp.to_le_bytes());
            }
            Rm::Pool(i) => {
                self.bytes(&[(reg & 7) << 3 | 5]);
                self.fixups.push((self.code.len(), i));
                self.bytes(&[0; 4]);
            }
        }
    }

    /// The code followed by the pool (8-byte aligned), each reference resolved. A
    /// reference is relative to the end of its instruction, which is its displacement's
    /// end except for `vcmppd`, whose predicate byte follows: so the pool offsets are
    /// fixed up knowing which instruction holds them.
    fn finish(mut self, pool: &[u64]) -> Vec<u8> {
        while !self.code.len().is_multiple_of(8) {
            self.code.push(0xCC);
        }
        let base = self.code.len();
        for &(at, i) in &self.fixups {
            // The instruction ends after the displacement, plus vcmppd's predicate.
            let opcode = self.code[at - 2];
            let end = at + 4 + usize::from(opcode == 0xC2);
            let target = base + 8 * i as usize;
            let rel = (target as i64 - end as i64) as i32;
            self.code[at..at + 4].copy_from_slice(&rel.to_le_bytes());
        }
        for &b in pool {
            self.code.extend_from_slice(&b.to_le_bytes());
        }
        self.code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(f: impl FnOnce(&mut Asm)) -> Vec<u8> {
        let mut a = Asm::default();
        f(&mut a);
        a.code
    }

    /// Each form the kernels use, against GNU as 2.40's encoding of the same
    /// instruction (`as --64`, `objdump -d -M intel`); where as chooses a one-byte
    /// displacement (`[rdi+0x10]` as `disp8 * 8`), the four-byte form written here was
    /// checked by disassembling it (`objdump -D -b binary -mi386:x86-64`).
    #[test]
    fn instructions_encode_as_the_assembler_does() {
        // vaddpd zmm1, zmm2, zmm3
        assert_eq!(
            one(|a| a.evex(OP_0F, 0x58, 1, 2, Rm::Reg(3), false, 0)),
            [0x62, 0xF1, 0xED, 0x48, 0x58, 0xCB]
        );
        // vmulpd zmm17, zmm25, zmm12
        assert_eq!(
            one(|a| a.evex(OP_0F, 0x59, 17, 25, Rm::Reg(12), false, 0)),
            [0x62, 0xC1, 0xB5, 0x40, 0x59, 0xCC]
        );
        // vsubpd zmm9, zmm30, [rdi+0x10]{1to8}  (disp32 form)
        assert_eq!(
            one(|a| a.evex(OP_0F, 0x5C, 9, 30, Rm::Base(RDI, 16), true, 0)),
            [0x62, 0x71, 0x8D, 0x50, 0x5C, 0x8F, 0x10, 0, 0, 0]
        );
        // vmovupd [r8+0x40], zmm31
        assert_eq!(
            one(|a| a.evex(OP_0F, 0x11, 31, 0, Rm::Base(R8, 64), false, 0)),
            [0x62, 0x41, 0xFD, 0x48, 0x11, 0xB8, 0x40, 0, 0, 0]
        );
        // vbroadcastsd zmm20, [rcx+0x18]
        assert_eq!(
            one(|a| a.evex(OP_0F38, 0x19, 20, 0, Rm::Base(RCX, 24), false, 0)),
            [0x62, 0xE2, 0xFD, 0x48, 0x19, 0xA1, 0x18, 0, 0, 0]
        );
        // vcmppd k3, zmm5, zmm22, 0x11
        assert_eq!(
            one(|a| {
                a.evex(OP_0F, 0xC2, 3, 5, Rm::Reg(22), false, 0);
                a.bytes(&[0x11]);
            }),
            [0x62, 0xB1, 0xD5, 0x48, 0xC2, 0xDE, 0x11]
        );
        // vblendmpd zmm2{k5}, zmm18, zmm7
        assert_eq!(
            one(|a| a.evex(OP_0F38, 0x65, 2, 18, Rm::Reg(7), false, 5)),
            [0x62, 0xF2, 0xED, 0x45, 0x65, 0xD7]
        );
        // vfmadd231pd zmm26, zmm5, [rcx+0x40]
        assert_eq!(
            one(|a| a.evex(OP_0F38, 0xB8, 26, 5, Rm::Base(RCX, 64), false, 0)),
            [0x62, 0x62, 0xD5, 0x48, 0xB8, 0x91, 0x40, 0, 0, 0]
        );
        // vfmadd231pd zmm3, zmm17, zmm9
        assert_eq!(
            one(|a| a.evex(OP_0F38, 0xB8, 3, 17, Rm::Reg(9), false, 0)),
            [0x62, 0xD2, 0xF5, 0x40, 0xB8, 0xD9]
        );
        // vsqrtpd zmm4, zmm16
        assert_eq!(
            one(|a| a.evex(OP_0F, 0x51, 4, 0, Rm::Reg(16), false, 0)),
            [0x62, 0xB1, 0xFD, 0x48, 0x51, 0xE0]
        );
        // vmovupd zmm3, [rdx+0x200]
        assert_eq!(
            one(|a| a.evex(OP_0F, 0x10, 3, 0, Rm::Base(RDX, 0x200), false, 0)),
            [0x62, 0xF1, 0xFD, 0x48, 0x10, 0x9A, 0, 2, 0, 0]
        );
        // vpxorq zmm7, zmm7, zmm7
        assert_eq!(
            one(|a| a.evex(OP_0F, 0xEF, 7, 7, Rm::Reg(7), false, 0)),
            [0x62, 0xF1, 0xC5, 0x48, 0xEF, 0xFF]
        );
        // knotw k2, k3; kandw k1, k6, k7
        assert_eq!(one(|a| a.knotw(2, 3)), [0xC5, 0xF8, 0x44, 0xD3]);
        assert_eq!(one(|a| a.kandw(1, 6, 7)), [0xC5, 0xCC, 0x41, 0xCF]);
    }

    /// `g = raw + 0.0` read by one product with a positive setting becomes one
    /// multiply-add, whose register is none of its operands'; read twice, or by a
    /// setting not known positive, it stays.
    #[test]
    fn exact_products_by_positive_settings_fuse() {
        let zero = Src::M(Mem::Pool(0));
        let (h, other) = (Mem::Lane(16), Mem::Lane(0));
        // r0 = raw (pinned), r1 = h, r2 = g = raw + 0, r3 = h·g, r4 = r3 + r3.
        let body = |factor: Mem, extra_read: bool| {
            let mut ops = vec![
                Op::Bcast {
                    dst: 1,
                    src: factor,
                },
                Op::Arith {
                    op: Arith::Add,
                    dst: 2,
                    a: 0,
                    b: zero,
                },
                Op::Arith {
                    op: Arith::Mul,
                    dst: 3,
                    a: 1,
                    b: Src::R(2),
                },
            ];
            let second = if extra_read { Src::R(2) } else { Src::R(3) };
            ops.push(Op::Arith {
                op: Arith::Add,
                dst: 4,
                a: 3,
                b: second,
            });
            ops
        };
        let mut ops = body(h, false);
        fuse_exact_products(&mut ops, &[2], &[h]);
        assert_eq!(ops.len(), 3);
        assert!(
            matches!(
                ops[1],
                Op::Fma {
                    dst: 3,
                    a: 0,
                    b: Src::R(1)
                }
            ),
            "{ops:?}"
        );
        // The multiply-add's register is neither of its operands' (it is zeroed first),
        // though the factor's last read is there.
        let (zmm, _) = allocate(&ops, 1, 5, 0).unwrap();
        assert_ne!(zmm[3], zmm[0]);
        assert_ne!(zmm[3], zmm[1]);
        // By a factor in memory too (`g·h` with `h` the instruction's operand).
        let mut ops = vec![
            Op::Arith {
                op: Arith::Add,
                dst: 1,
                a: 0,
                b: zero,
            },
            Op::Arith {
                op: Arith::Mul,
                dst: 2,
                a: 1,
                b: Src::M(h),
            },
        ];
        fuse_exact_products(&mut ops, &[1], &[h]);
        assert!(
            matches!(ops[..], [Op::Fma { dst: 2, a: 0, b: Src::M(m) }] if m == h),
            "{ops:?}"
        );
        for (factor, extra_read) in [(other, false), (h, true)] {
            let mut ops = body(factor, extra_read);
            fuse_exact_products(&mut ops, &[2], &[h]);
            assert_eq!(ops.len(), 4, "{factor:?} {extra_read}");
            assert!(!ops.iter().any(|o| matches!(o, Op::Fma { .. })));
        }
    }

    /// In the kernel that trains `a*x+b` by momentum, each parameter's `(1-β)·(g + 0)`
    /// is one multiply-add, a zeroing `vpxorq` before it; by SGD, whose rate may be 0,
    /// none is.
    #[test]
    fn momentums_products_with_the_gradient_are_multiply_adds() {
        use gradsheet_engine::{Dataset, Model, Roles};
        let model = Model::new("a*x+b", "squared", &Roles::with_columns(&["x", "y"])).unwrap();
        let trainer = gradsheet_train::Trainer::new(&model, &Dataset::graddesc()).unwrap();
        let fmas = |opt: Optimizer| {
            let code = assemble_train(&trainer.compiled, &opt, 1).unwrap();
            // vpxorq zmm, zmm, zmm (EVEX 0F map, EF, register form) then
            // vfmadd231pd (EVEX 0F38 map, B8) on the same register.
            code.windows(12)
                .filter(|w| {
                    let reg = |modrm: u8| (modrm >> 3) & 7;
                    w[0] == 0x62
                        && w[1] & 3 == 1
                        && w[4] == 0xEF
                        && w[5] >> 6 == 3
                        && w[6] == 0x62
                        && w[7] & 3 == 2
                        && w[10] == 0xB8
                        && reg(w[5]) == reg(w[11])
                })
                .count()
        };
        assert_eq!(
            fmas(Optimizer::Momentum {
                lr: 1e-4,
                beta: 0.9
            }),
            2
        );
        assert_eq!(fmas(Optimizer::sgd(1e-4)), 0);
    }

    /// A constant is addressed from the end of its instruction (after vcmppd's
    /// predicate byte) to its place in the pool after the code.
    #[test]
    fn constants_are_addressed_relative_to_their_instruction() {
        let mut a = Asm::default();
        // vpandq zmm1, zmm2, [rip + pool 1]{1to8}: 10 bytes, then vcmppd k1, zmm2,
        // [rip + pool 0]{1to8}, 0x11: 11 bytes; code padded to 24.
        a.evex(OP_0F, 0xDB, 1, 2, Rm::Pool(1), true, 0);
        a.evex(OP_0F, 0xC2, 1, 2, Rm::Pool(0), true, 0);
        a.bytes(&[0x11]);
        let code = a.finish(&[7, 9]);
        assert_eq!(code.len(), 24 + 16);
        assert_eq!(&code[..6], [0x62, 0xF1, 0xED, 0x58, 0xDB, 0x0D]);
        // From 10 to pool entry 1 at 32: 22.
        assert_eq!(&code[6..10], 22i32.to_le_bytes());
        // From 21 to entry 0 at 24: 3.
        assert_eq!(&code[16..20], 3i32.to_le_bytes());
        assert_eq!(&code[24..32], 7u64.to_le_bytes());
        assert_eq!(&code[21..24], [0xCC; 3]);
    }
}
