//! A tape evaluated over many *lanes* at once: the same formula at many parameter values
//! (a loss surface, a grid of runs) or over many rows, instruction by instruction over
//! contiguous arrays, so that the compiler vectorises each instruction's loop.
//!
//! A slot is either *uniform* (one value for every lane: a constant, or a data value
//! shared by all lanes) or holds one value per lane. An instruction whose operands are
//! all uniform is computed once; otherwise it runs over the lanes, reading a uniform
//! operand as a scalar. Each lane computes exactly what [`Tape::forward`] computes for
//! its values (the same operations in the same order), so lane `i` of an output is bit
//! for bit the interpreter's.
//!
//! # Examples
//!
//! The squared error of `a*x+b` at one data row for three values of `b` at once:
//!
//! ```
//! use gradsheet_engine::batch::Lanes;
//! use gradsheet_engine::{parse, Tape};
//! let names: Vec<String> = ["x", "y", "a", "b"].iter().map(|s| s.to_string()).collect();
//! let tape = Tape::compile(&parse("(a*x+b-y)^2").unwrap(), &names).unwrap();
//! let mut lanes = Lanes::new(&tape, 3);
//! lanes.set_uniform(0, 14.0); // x
//! lanes.set_uniform(1, 58.0); // y
//! lanes.set_uniform(2, 1.0); // a
//! lanes.set_lanes(3, &[1.0, 2.0, 44.0]); // b
//! lanes.forward(&tape);
//! assert_eq!(lanes.lane_values(tape.output(0)), &[1849.0, 1764.0, 0.0]);
//! ```

use crate::arith::F64;
use crate::op;
use crate::tape::{Code, Tape};

/// The values of every slot of a [`Tape`] across `n` lanes (slot-major, so that each
/// instruction reads and writes contiguous arrays). Create once, reuse: evaluation does
/// not allocate.
#[derive(Clone, Debug)]
pub struct Lanes {
    n: usize,
    vals: Vec<f64>,
    uniform: Vec<bool>,
    scalar: Vec<f64>,
}

impl Lanes {
    /// Lanes for `tape`, `n` of them, with the constants set and the variables uniform 0.
    pub fn new(tape: &Tape, n: usize) -> Lanes {
        let slots = tape.n_slots();
        let mut l = Lanes {
            n,
            vals: vec![0.0; slots * n],
            uniform: vec![true; slots],
            scalar: vec![0.0; slots],
        };
        for &(s, v) in tape.constants() {
            l.scalar[s as usize] = v;
        }
        l
    }

    /// The number of lanes.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there are no lanes.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Sets variable `slot` to one value for every lane.
    pub fn set_uniform(&mut self, slot: u32, v: f64) {
        self.uniform[slot as usize] = true;
        self.scalar[slot as usize] = v;
    }

    /// Sets variable `slot` lane by lane.
    ///
    /// # Panics
    ///
    /// If `values` does not have one value per lane.
    pub fn set_lanes(&mut self, slot: u32, values: &[f64]) {
        assert_eq!(values.len(), self.n, "one value per lane");
        let s = slot as usize;
        self.uniform[s] = false;
        self.vals[s * self.n..(s + 1) * self.n].copy_from_slice(values);
    }

    /// The values of `slot` in every lane, after [`Lanes::forward`] (a uniform slot is
    /// spread out first, hence `&mut`).
    pub fn lane_values(&mut self, slot: u32) -> &[f64] {
        let s = slot as usize;
        let n = self.n;
        if self.uniform[s] {
            let v = self.scalar[s];
            self.vals[s * n..(s + 1) * n]
                .iter_mut()
                .for_each(|x| *x = v);
        }
        &self.vals[s * n..(s + 1) * n]
    }

    /// Adds the values of `slot` into `acc`, lane by lane (`acc[i] += value[i]`).
    ///
    /// # Panics
    ///
    /// If `acc` does not have one value per lane.
    pub fn accumulate(&self, slot: u32, acc: &mut [f64]) {
        assert_eq!(acc.len(), self.n, "one value per lane");
        let s = slot as usize;
        if self.uniform[s] {
            let v = self.scalar[s];
            acc.iter_mut().for_each(|a| *a += v);
        } else {
            for (a, v) in acc.iter_mut().zip(&self.vals[s * self.n..(s + 1) * self.n]) {
                *a += v;
            }
        }
    }

    /// Evaluates every instruction of `tape` in every lane.
    pub fn forward(&mut self, tape: &Tape) {
        let n = self.n;
        for ins in tape.code() {
            let (ia, ib, ic, d) = (
                ins.a as usize,
                ins.b as usize,
                ins.c as usize,
                ins.dst as usize,
            );
            if ins.reads().all(|s| self.uniform[s as usize]) {
                let c = self.scalar[ic];
                self.scalar[d] = scalar(ins.code, self.scalar[ia], self.scalar[ib], c);
                self.uniform[d] = true;
                continue;
            }
            self.uniform[d] = false;
            // Operands precede their destination on the tape, so splitting at the
            // destination gives the operands (below) and the destination (above).
            let (lo, hi) = self.vals.split_at_mut(d * n);
            let out = &mut hi[..n];
            let a = Operand::of(lo, &self.uniform, &self.scalar, ia, n);
            let b = Operand::of(lo, &self.uniform, &self.scalar, ib, n);
            match ins.code {
                Code::Unary(u) => u.with_value_fn(Map1 { out, a }),
                Code::Binary(o) => o.with_value_fn(Zip2 { out, a, b }),
                // `powi` with an exponent known only at run time is compiler-rt's
                // square-and-multiply; the common squares and cubes are spelt out in
                // the same order so that the loop vectorises.
                Code::Powi(2) => map1(out, a, |x| x * x),
                Code::Powi(3) => map1(out, a, |x| x * (x * x)),
                Code::Powi(k) => map1(out, a, |x| op::powi_value(&mut F64, x, k)),
                Code::Fold(f) => f.with_value_fn(Zip2 { out, a, b }),
                Code::Select => {
                    let c = Operand::of(lo, &self.uniform, &self.scalar, ic, n);
                    for (i, o) in out.iter_mut().enumerate() {
                        *o = op::select_value(&mut F64, a.get(i), b.get(i), c.get(i));
                    }
                }
            }
        }
    }
}

/// An operand: a scalar for every lane, or one value per lane.
#[derive(Clone, Copy)]
enum Operand<'a> {
    Uniform(f64),
    Lanes(&'a [f64]),
}

impl<'a> Operand<'a> {
    fn of(lo: &'a [f64], uniform: &[bool], scalar: &[f64], s: usize, n: usize) -> Operand<'a> {
        if uniform[s] {
            Operand::Uniform(scalar[s])
        } else {
            Operand::Lanes(&lo[s * n..(s + 1) * n])
        }
    }
    #[inline(always)]
    fn get(&self, i: usize) -> f64 {
        match *self {
            Operand::Uniform(v) => v,
            Operand::Lanes(l) => l[i],
        }
    }
}

/// [`map1`] with the function of an operation (one copy of the loop per operation).
struct Map1<'a, 'o> {
    out: &'o mut [f64],
    a: Operand<'a>,
}

impl op::WithFn1 for Map1<'_, '_> {
    type Out = ();
    #[inline(always)]
    fn call(self, value: impl Fn(f64) -> f64 + Copy) {
        map1(self.out, self.a, value)
    }
}

/// [`zip2`] with the function of an operation (one copy of the loop per operation).
struct Zip2<'a, 'o> {
    out: &'o mut [f64],
    a: Operand<'a>,
    b: Operand<'a>,
}

impl op::WithFn2 for Zip2<'_, '_> {
    type Out = ();
    #[inline(always)]
    fn call(self, value: impl Fn(f64, f64) -> f64 + Copy) {
        zip2(self.out, self.a, self.b, value)
    }
}

/// `out[i] = f(a[i], b[i])`, with one loop per uniformity so that each vectorises.
#[inline(always)]
fn zip2(out: &mut [f64], a: Operand<'_>, b: Operand<'_>, f: impl Fn(f64, f64) -> f64) {
    match (a, b) {
        (Operand::Lanes(a), Operand::Lanes(b)) => {
            for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
                *o = f(*x, *y);
            }
        }
        (Operand::Lanes(a), Operand::Uniform(y)) => {
            for (o, x) in out.iter_mut().zip(a) {
                *o = f(*x, y);
            }
        }
        (Operand::Uniform(x), Operand::Lanes(b)) => {
            for (o, y) in out.iter_mut().zip(b) {
                *o = f(x, *y);
            }
        }
        (Operand::Uniform(x), Operand::Uniform(y)) => out.iter_mut().for_each(|o| *o = f(x, y)),
    }
}

#[inline(always)]
fn map1(out: &mut [f64], a: Operand<'_>, f: impl Fn(f64) -> f64) {
    match a {
        Operand::Lanes(a) => {
            for (o, x) in out.iter_mut().zip(a) {
                *o = f(*x);
            }
        }
        Operand::Uniform(x) => out.iter_mut().for_each(|o| *o = f(x)),
    }
}

/// One instruction on scalars, as [`Tape::forward`] computes it.
fn scalar(code: Code, a: f64, b: f64, c: f64) -> f64 {
    let ar = &mut F64;
    match code {
        Code::Unary(u) => u.value(ar, a),
        Code::Binary(o) => o.value(ar, a, b),
        Code::Powi(n) => op::powi_value(ar, a, n),
        Code::Fold(f) => f.value(ar, a, b),
        Code::Select => op::select_value(ar, a, b, c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    #[test]
    fn every_lane_is_the_interpreter() {
        let names: Vec<String> = ["x", "y", "a", "b"].iter().map(|s| s.to_string()).collect();
        for f in [
            "(a*x+b-y)^2",
            "(MAX(a*x+b,0)*a-y)^3+EXP(-b)",
            "IF(a>b,LN(ABS(a)),SQRT(ABS(b)))/(x+1)",
            "SIGMOID(a*x)-TANH(b)+(a-y)^-2+LOG(ABS(a)+1,2)+ABS(b)^0.5",
        ] {
            let tape = Tape::compile(&parse(f).unwrap(), &names).unwrap();
            let bs: Vec<f64> = (0..37).map(|i| i as f64 * 0.37 - 5.0).collect();
            let mut lanes = Lanes::new(&tape, bs.len());
            lanes.set_uniform(0, 1.5);
            lanes.set_uniform(1, -0.5);
            lanes.set_uniform(2, 0.75);
            lanes.set_lanes(3, &bs);
            lanes.forward(&tape);
            let got = lanes.lane_values(tape.output(0)).to_vec();
            for (i, b) in bs.iter().enumerate() {
                let want = tape.eval(&[1.5, -0.5, 0.75, *b], 0);
                assert!(
                    want.to_bits() == got[i].to_bits() || (want.is_nan() && got[i].is_nan()),
                    "{f} at b = {b}"
                );
            }
        }
    }
}
