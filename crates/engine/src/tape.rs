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
//! The tape is also the reference for the native compiler (`gradsheet_jit`): both must
//! agree bit for bit, so both run each operation's one definition in [`crate::op`],
//! written over [`crate::arith`], in the same operation order.

use std::collections::HashMap;

use crate::arith::{Term, F64};
use crate::eval::UnknownName;
use crate::expr::Expr;
use crate::op::{self, Binary, Fold, Op, Unary};

/// One tape operation, its arity in its type. `Powi` is `^` with a small whole exponent
/// known when compiling; `Fold` is `MAX` or `MIN` of two slots (a longer `MAX` becomes
/// a fold from the right, which keeps its tie rule); `Select` is `IF`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// A one-argument operation of slot `a`.
    Unary(Unary),
    /// A two-argument operation of slots `a` and `b`.
    Binary(Binary),
    /// `a ^ n` for a whole `n` with `|n| <= 64`, by repeated multiplication.
    Powi(i32),
    /// `MAX` or `MIN` of slots `a` and `b`, ties to `a`.
    Fold(Fold),
    /// `IF(a, b, c)`.
    Select,
}

impl Code {
    /// The operands the instruction reads.
    pub fn operands(self) -> &'static [Operand] {
        match self {
            Code::Unary(_) | Code::Powi(_) => &[Operand::A],
            Code::Binary(_) | Code::Fold(_) => &[Operand::A, Operand::B],
            Code::Select => &[Operand::A, Operand::B, Operand::C],
        }
    }
}

/// Which operand of an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// `a`.
    A,
    /// `b`.
    B,
    /// `c`.
    C,
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
}

impl Instr {
    /// The slot of an operand.
    pub fn slot(&self, o: Operand) -> u32 {
        match o {
            Operand::A => self.a,
            Operand::B => self.b,
            Operand::C => self.c,
        }
    }

    /// The slots the instruction reads.
    pub fn reads(&self) -> impl Iterator<Item = u32> + '_ {
        self.code.operands().iter().map(|o| self.slot(*o))
    }
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
#[derive(Clone, Debug, Default)]
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
        let mut ws = Workspace::default();
        self.reset_workspace(&mut ws);
        ws
    }

    /// Makes `ws` what [`Tape::workspace`] makes, whatever tape it served before, in
    /// its memory where that is large enough (a caller running many short runs keeps
    /// one).
    pub fn reset_workspace(&self, ws: &mut Workspace) {
        for v in [&mut ws.vals, &mut ws.adj] {
            v.clear();
            v.resize(self.n_slots, 0.0);
        }
        for &(slot, v) in &self.consts {
            ws.vals[slot as usize] = v;
        }
    }

    /// Evaluates every instruction; `vals` must come from [`Tape::workspace`] with the
    /// variables set.
    #[inline]
    pub fn forward(&self, vals: &mut [f64]) {
        let ar = &mut F64;
        for ins in &self.code {
            let (a, b) = (vals[ins.a as usize], vals[ins.b as usize]);
            vals[ins.dst as usize] = match ins.code {
                Code::Unary(u) => u.value(ar, a),
                Code::Binary(o) => o.value(ar, a, b),
                Code::Powi(n) => op::powi_value(ar, a, n),
                Code::Fold(f) => f.value(ar, a, b),
                Code::Select => op::select_value(ar, a, b, vals[ins.c as usize]),
            };
        }
    }

    /// Accumulates the derivatives of output `which` into `ws.adj`, after [`Tape::forward`].
    ///
    /// An instruction whose adjoint is exactly zero contributes nothing, whatever its
    /// local slopes (the zero-adjoint rule of [`crate::op`]).
    #[inline]
    pub fn backward(&self, ws: &mut Workspace, which: usize) {
        let Workspace { vals, adj } = ws;
        adj.fill(0.0);
        adj[self.outputs[which] as usize] = 1.0;
        let ar = &mut F64;
        let add = |adj: &mut [f64], s: u32, t: Option<Term<f64>>| match t {
            Some(Term::Plus(c)) => adj[s as usize] += c,
            Some(Term::Minus(c)) => adj[s as usize] -= c,
            None => {}
        };
        for ins in self.code.iter().rev() {
            let g = adj[ins.dst as usize];
            if g == 0.0 {
                continue;
            }
            let (a, b, out) = (
                vals[ins.a as usize],
                vals[ins.b as usize],
                vals[ins.dst as usize],
            );
            match ins.code {
                Code::Unary(u) => add(adj, ins.a, u.contribution(ar, g, a, out)),
                Code::Binary(o) => {
                    let [ta, tb] = o.contributions(ar, [Some(g), Some(g)], a, b, out);
                    add(adj, ins.a, ta);
                    add(adj, ins.b, tb);
                }
                Code::Powi(n) => add(adj, ins.a, Some(op::powi_contribution(ar, g, a, n))),
                Code::Fold(f) => {
                    let [ta, tb] = f.contributions(ar, [Some(g), Some(g)], a, b);
                    add(adj, ins.a, ta);
                    add(adj, ins.b, tb);
                }
                Code::Select => {
                    let [tb, tc] = op::select_contributions(ar, g, a, [true, true]);
                    add(adj, ins.b, tb.map(Term::Plus));
                    add(adj, ins.c, tc.map(Term::Plus));
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

/// Builds a tape from one or more expressions, sharing equal subexpressions.
#[derive(Debug)]
pub struct TapeBuilder {
    names: Vec<String>,
    var_slot: HashMap<String, u32>,
    consts: Vec<(u32, f64)>,
    const_slot: HashMap<u64, u32>,
    code: Vec<Instr>,
    seen: HashMap<(Code, u32, u32, u32), u32>,
    next: u32,
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
        let k = (code, a, b, c);
        if let Some(&s) = self.seen.get(&k) {
            return s;
        }
        let dst = self.next;
        self.next += 1;
        self.code.push(Instr { code, dst, a, b, c });
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
        match (op, s) {
            (Op::Unary(u), &[a]) => self.emit(Code::Unary(u), a, 0, 0),
            (Op::Binary(Binary::Pow), &[a, b]) => match args[1].as_num() {
                Some(n) if n.fract() == 0.0 && n.abs() <= op::POWI_LIMIT => {
                    self.emit(Code::Powi(n as i32), a, 0, 0)
                }
                _ => self.emit(Code::Binary(Binary::Pow), a, b, 0),
            },
            (Op::Binary(o), &[a, b]) => self.emit(Code::Binary(o), a, b, 0),
            (Op::Fold(f), [first, rest @ ..]) => {
                let mut acc = *first;
                if let Some((&last, middle)) = rest.split_last() {
                    acc = last;
                    for &next in middle.iter().rev() {
                        acc = self.emit(Code::Fold(f), next, acc, 0);
                    }
                    acc = self.emit(Code::Fold(f), *first, acc, 0);
                }
                acc
            }
            (Op::If, &[c, a, ref rest @ ..]) => {
                let b = match rest.first() {
                    Some(&b) => b,
                    None => self.constant(0.0),
                };
                self.emit(Code::Select, c, a, b)
            }
            // A tree whose arguments do not fit its operation (built by hand): NaN.
            (Op::Unary(_) | Op::Binary(_) | Op::Fold(_) | Op::If, _) => self.constant(f64::NAN),
        }
    }

    /// Finishes the tape with the given output slots.
    pub fn finish(self, outputs: Vec<u32>) -> Tape {
        let n_slots = self.next as usize;
        Tape {
            names: self.names,
            consts: self.consts,
            code: self.code,
            outputs,
            n_slots,
        }
    }
}
