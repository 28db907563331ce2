//! The compiled form: a flat tape of instructions over a slot array.
//!
//! This is the hot path of everything, so it is laid out for speed: slots are one
//! `Vec<f64>` (variables first, then constants, then one slot per instruction, in
//! evaluation order); instructions are small `Copy` records; equal subexpressions share
//! a slot (hash-consing), so `x*x` or a model used twice in a loss is computed once; and
//! evaluation allocates nothing — the caller keeps a [`Workspace`] and reuses it.
//!
//! Reverse mode is micrograd's: one forward pass fills the values, then one backward pass
//! over the tape in reverse accumulates each instruction's local derivatives (`+=`) into
//! a separate adjoint array, which holds every variable's derivative at the end.
//!
//! The tape is also the reference for the native compiler (crates/jit): both must agree bit
//! for bit, so every local rule below is written in the operation order the compiler uses.

use std::collections::HashMap;

use crate::eval::UnknownName;
use crate::expr::Expr;
use crate::op::{self, Op};

/// One tape operation. `Powi` is `Pow` with a small whole exponent known when compiling;
/// `Select` is `IF`; `Max`/`Min` are binary (a variadic `MAX` becomes a left fold, which
/// keeps its tie rule).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Code {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
    /// `-a`.
    Neg,
    /// `a ^ b` (see [`op::pow`]).
    Pow,
    /// `a ^ n` for a whole `n` with `|n| <= 64`, by repeated multiplication.
    Powi(i32),
    /// A comparison (`<`, `<=`, ...), the [`Op`] says which.
    Cmp(Op),
    /// `MAX(a, b)`, ties to `a`.
    Max,
    /// `MIN(a, b)`, ties to `a`.
    Min,
    /// A one-argument function ([`Op::Abs`], [`Op::Exp`], ...).
    Unary(Op),
    /// `LOG(a, b)`.
    Log,
    /// `IF(a, b, c)`.
    Select,
}

/// An instruction: `dst = code(a, b, c)`, with unused operands 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Instr {
    /// What to compute.
    pub code: Code,
    /// The slot written.
    pub dst: u32,
    /// First operand slot.
    pub a: u32,
    /// Second operand slot.
    pub b: u32,
    /// Third operand slot (`Select` only).
    pub c: u32,
    /// Whether the backward pass skips this instruction when its adjoint is exactly zero.
    ///
    /// Set where an `IF`, `MAX` or `MIN` upstream may route a structural zero here: the
    /// branch not taken must contribute nothing, even where its own slope is infinite
    /// (`IF(x>0, LN(x), 0)` at `x = 0`), as in the symbolic derivative.
    pub guard: bool,
}

/// A compiled formula (or several sharing subexpressions).
///
/// # Examples
///
/// ```
/// use gradsheet_engine::{parse, Tape};
/// let e = parse("(a*x+b-y)^2").unwrap();
/// let names: Vec<String> = ["x", "y", "a", "b"].iter().map(|s| s.to_string()).collect();
/// let tape = Tape::compile(&e, &names).unwrap();
/// let mut ws = tape.workspace();
/// ws.vals[..4].copy_from_slice(&[14.0, 58.0, 1.0, 1.0]);
/// tape.forward(&mut ws.vals);
/// assert_eq!(ws.vals[tape.output(0) as usize], 1849.0); // (14+1-58)^2
/// tape.backward(&mut ws, 0);
/// assert_eq!(&ws.adj[2..4], &[-1204.0, -86.0]); // 2*(-43)*14, 2*(-43)
/// ```
#[derive(Clone, Debug)]
pub struct Tape {
    names: Vec<String>,
    consts: Vec<(u32, f64)>,
    code: Vec<Instr>,
    outputs: Vec<u32>,
    n_slots: usize,
}

/// The scratch memory of a [`Tape`]: values and adjoints of every slot. Create it once
/// with [`Tape::workspace`] and reuse it; evaluation never allocates.
#[derive(Clone, Debug)]
pub struct Workspace {
    /// Slot values; the first [`Tape::n_vars`] are the variables, set by the caller.
    pub vals: Vec<f64>,
    /// Slot adjoints after [`Tape::backward`]: `adj[i]` is ∂output/∂slot i.
    pub adj: Vec<f64>,
}

impl Tape {
    /// Compiles one formula over the variables `names` (slot `i` is `names[i]`).
    ///
    /// # Errors
    ///
    /// [`UnknownName`] for a name not in `names`.
    pub fn compile(e: &Expr, names: &[String]) -> Result<Tape, UnknownName> {
        let mut b = TapeBuilder::new(names);
        let out = b.add(e, &HashMap::new())?;
        Ok(b.finish(vec![out]))
    }

    /// The variable names, in slot order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// The number of variables (the first slots).
    pub fn n_vars(&self) -> usize {
        self.names.len()
    }
    /// The number of slots.
    pub fn n_slots(&self) -> usize {
        self.n_slots
    }
    /// The instructions, in evaluation order.
    pub fn code(&self) -> &[Instr] {
        &self.code
    }
    /// The constant slots and their values.
    pub fn constants(&self) -> &[(u32, f64)] {
        &self.consts
    }
    /// The slot of output `i`.
    pub fn output(&self, i: usize) -> u32 {
        self.outputs[i]
    }
    /// All output slots.
    pub fn outputs(&self) -> &[u32] {
        &self.outputs
    }

    /// A workspace with the constants filled in and the variables at 0.
    pub fn workspace(&self) -> Workspace {
        let mut vals = vec![0.0; self.n_slots];
        for &(slot, v) in &self.consts {
            vals[slot as usize] = v;
        }
        Workspace {
            vals,
            adj: vec![0.0; self.n_slots],
        }
    }

    /// Evaluates every instruction; `vals` must come from [`Tape::workspace`] with the
    /// variables set.
    #[inline]
    pub fn forward(&self, vals: &mut [f64]) {
        for ins in &self.code {
            let (a, b) = (vals[ins.a as usize], vals[ins.b as usize]);
            vals[ins.dst as usize] = match ins.code {
                Code::Add => a + b,
                Code::Sub => a - b,
                Code::Mul => a * b,
                Code::Div => a / b,
                Code::Neg => -a,
                Code::Pow => op::pow(a, b),
                Code::Powi(n) => a.powi(n),
                Code::Cmp(o) => o.eval2(a, b),
                Code::Unary(o) => o.eval1(a),
                Code::Max => op::max2(a, b),
                Code::Min => op::min2(a, b),
                Code::Log => a.ln() / b.ln(),
                Code::Select => {
                    if a.is_nan() {
                        f64::NAN
                    } else if a != 0.0 {
                        b
                    } else {
                        vals[ins.c as usize]
                    }
                }
            };
        }
    }

    /// Accumulates the derivatives of output `which` into `ws.adj`, after [`Tape::forward`].
    #[inline]
    pub fn backward(&self, ws: &mut Workspace, which: usize) {
        let Workspace { vals, adj } = ws;
        adj.fill(0.0);
        adj[self.outputs[which] as usize] = 1.0;
        for ins in self.code.iter().rev() {
            let g = adj[ins.dst as usize];
            if ins.guard && g == 0.0 {
                continue;
            }
            let (ia, ib) = (ins.a as usize, ins.b as usize);
            let (a, b, out) = (vals[ia], vals[ib], vals[ins.dst as usize]);
            match ins.code {
                Code::Add => {
                    adj[ia] += g;
                    adj[ib] += g;
                }
                Code::Sub => {
                    adj[ia] += g;
                    adj[ib] -= g;
                }
                Code::Mul => {
                    adj[ia] += g * b;
                    adj[ib] += g * a;
                }
                Code::Div => {
                    adj[ia] += g / b;
                    adj[ib] -= g * a / (b * b);
                }
                Code::Neg => adj[ia] -= g,
                Code::Pow => {
                    adj[ia] += g * (b * op::pow(a, b - 1.0));
                    adj[ib] += g * (out * a.ln());
                }
                Code::Powi(n) => adj[ia] += g * (n as f64 * a.powi(n - 1)),
                Code::Cmp(_) => {}
                Code::Max => {
                    if a >= b || b.is_nan() {
                        adj[ia] += g
                    } else {
                        adj[ib] += g
                    }
                }
                Code::Min => {
                    if a <= b || b.is_nan() {
                        adj[ia] += g
                    } else {
                        adj[ib] += g
                    }
                }
                Code::Unary(o) => adj[ia] += g * unary_slope(o, a, out),
                Code::Log => {
                    let lb = b.ln();
                    adj[ia] += g / (a * lb);
                    adj[ib] -= g * out / (b * lb);
                }
                Code::Select => {
                    if a.is_nan() {
                        adj[ib] += f64::NAN;
                    } else if a != 0.0 {
                        adj[ib] += g;
                    } else {
                        adj[ins.c as usize] += g;
                    }
                }
            }
        }
    }

    /// Output `i` for the variables `vars` (a convenience that allocates; the hot path
    /// uses [`Tape::forward`] on a kept [`Workspace`]).
    pub fn eval(&self, vars: &[f64], i: usize) -> f64 {
        let mut ws = self.workspace();
        ws.vals[..vars.len()].copy_from_slice(vars);
        self.forward(&mut ws.vals);
        ws.vals[self.outputs[i] as usize]
    }

    /// Output `i` and its gradient with respect to every variable (allocates; see [`Tape::eval`]).
    pub fn eval_grad(&self, vars: &[f64], i: usize) -> (f64, Vec<f64>) {
        let mut ws = self.workspace();
        ws.vals[..vars.len()].copy_from_slice(vars);
        self.forward(&mut ws.vals);
        self.backward(&mut ws, i);
        (
            ws.vals[self.outputs[i] as usize],
            ws.adj[..self.n_vars()].to_vec(),
        )
    }
}

/// The local slope of a one-argument function at `a`, where `out` is its value.
#[inline(always)]
pub fn unary_slope(o: Op, a: f64, out: f64) -> f64 {
    match o {
        Op::Neg => -1.0,
        Op::Abs => op::sign(a),
        Op::Exp => out,
        Op::Ln => 1.0 / a,
        Op::Log10 => 1.0 / (a * std::f64::consts::LN_10),
        Op::Sqrt => 1.0 / (2.0 * out),
        Op::Tanh => 1.0 - out * out,
        Op::Relu if a >= 0.0 => 1.0,
        Op::Sigmoid => out * (1.0 - out),
        _ => 0.0,
    }
}

/// Builds a tape from one or more expressions, sharing equal subexpressions.
#[derive(Debug)]
pub struct TapeBuilder {
    names: Vec<String>,
    var_slot: HashMap<String, u32>,
    consts: Vec<(u32, f64)>,
    const_slot: HashMap<u64, u32>,
    code: Vec<Instr>,
    seen: HashMap<(CodeKey, u32, u32, u32), u32>,
    next: u32,
}

/// A hashable form of [`Code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum CodeKey {
    Plain(u8),
    Op(Op),
    Powi(i32),
}

fn key(code: Code) -> CodeKey {
    match code {
        Code::Add => CodeKey::Plain(0),
        Code::Sub => CodeKey::Plain(1),
        Code::Mul => CodeKey::Plain(2),
        Code::Div => CodeKey::Plain(3),
        Code::Neg => CodeKey::Plain(4),
        Code::Pow => CodeKey::Plain(5),
        Code::Max => CodeKey::Plain(6),
        Code::Min => CodeKey::Plain(7),
        Code::Log => CodeKey::Plain(8),
        Code::Select => CodeKey::Plain(9),
        Code::Powi(n) => CodeKey::Powi(n),
        Code::Cmp(o) | Code::Unary(o) => CodeKey::Op(o),
    }
}

impl TapeBuilder {
    /// A builder whose first slots are the variables `names`.
    pub fn new(names: &[String]) -> TapeBuilder {
        let var_slot = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        TapeBuilder {
            names: names.to_vec(),
            var_slot,
            consts: Vec::new(),
            const_slot: HashMap::new(),
            code: Vec::new(),
            seen: HashMap::new(),
            next: names.len() as u32,
        }
    }

    fn constant(&mut self, v: f64) -> u32 {
        if let Some(&s) = self.const_slot.get(&v.to_bits()) {
            return s;
        }
        let s = self.next;
        self.next += 1;
        self.consts.push((s, v));
        self.const_slot.insert(v.to_bits(), s);
        s
    }

    fn emit(&mut self, code: Code, a: u32, b: u32, c: u32) -> u32 {
        let k = (key(code), a, b, c);
        if let Some(&s) = self.seen.get(&k) {
            return s;
        }
        let dst = self.next;
        self.next += 1;
        self.code.push(Instr {
            code,
            dst,
            a,
            b,
            c,
            guard: false,
        });
        self.seen.insert(k, dst);
        dst
    }

    /// Adds `e`, with the names in `bound` standing for slots already computed (such as
    /// `pred` in a loss), and returns the slot of its value.
    ///
    /// # Errors
    ///
    /// [`UnknownName`] for a name that is neither a variable nor bound.
    pub fn add(&mut self, e: &Expr, bound: &HashMap<String, u32>) -> Result<u32, UnknownName> {
        Ok(match e {
            Expr::Num(v) => self.constant(*v),
            Expr::Var(n) => match bound.get(n).or_else(|| self.var_slot.get(n)) {
                Some(&s) => s,
                None => return Err(UnknownName(n.clone())),
            },
            Expr::Apply(op, args) => {
                let mut slots = Vec::with_capacity(args.len());
                for a in args {
                    slots.push(self.add(a, bound)?);
                }
                self.apply(*op, args, &slots)
            }
        })
    }

    fn apply(&mut self, op: Op, args: &[Expr], s: &[u32]) -> u32 {
        let bin = |code| (code, s[0], s.get(1).copied().unwrap_or(0));
        let (code, a, b) = match op {
            Op::Add => bin(Code::Add),
            Op::Sub => bin(Code::Sub),
            Op::Mul => bin(Code::Mul),
            Op::Div => bin(Code::Div),
            Op::Neg => bin(Code::Neg),
            Op::Pow => match args[1].as_num() {
                Some(n) if n.fract() == 0.0 && n.abs() <= op::POWI_LIMIT => {
                    (Code::Powi(n as i32), s[0], 0)
                }
                _ => bin(Code::Pow),
            },
            Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::Eq | Op::Ne => bin(Code::Cmp(op)),
            Op::Max | Op::Min => {
                let code = if op == Op::Max { Code::Max } else { Code::Min };
                let mut acc = s[0];
                for &next in &s[1..] {
                    acc = self.emit(code, acc, next, 0);
                }
                return acc;
            }
            Op::Log => bin(Code::Log),
            Op::If => {
                let c = match s.get(2) {
                    Some(&c) => c,
                    None => self.constant(0.0),
                };
                return self.emit(Code::Select, s[0], s[1], c);
            }
            Op::Abs
            | Op::Sign
            | Op::Exp
            | Op::Ln
            | Op::Log10
            | Op::Sqrt
            | Op::Tanh
            | Op::Relu
            | Op::Sigmoid => bin(Code::Unary(op)),
        };
        self.emit(code, a, b, 0)
    }

    /// Finishes the tape with the given output slots, marking the instructions whose
    /// adjoint may be a structural zero (see [`Instr::guard`]).
    pub fn finish(mut self, outputs: Vec<u32>) -> Tape {
        let n_slots = self.next as usize;
        let mut zero_prone = vec![false; n_slots];
        for ins in self.code.iter_mut().rev() {
            let dst = ins.dst as usize;
            ins.guard = zero_prone[dst];
            let branches: &[u32] = match ins.code {
                Code::Select => &[ins.b, ins.c],
                Code::Max | Code::Min => &[ins.a, ins.b],
                Code::Unary(Op::Relu) => &[ins.a],
                _ if zero_prone[dst] => &[ins.a, ins.b, ins.c],
                _ => &[],
            };
            for &s in branches {
                zero_prone[s as usize] = true;
            }
        }
        Tape {
            names: self.names,
            consts: self.consts,
            code: self.code,
            outputs,
            n_slots,
        }
    }
}
