//! What the terminal shows of a run: the first and last rows of its tables, however long
//! the run, so that printing it takes memory bounded by what is shown.

use std::collections::VecDeque;

/// The first `k` and the last `k` items of a sequence, and how many there were.
#[derive(Clone, Debug)]
pub struct Ends<T> {
    head: Vec<T>,
    tail: VecDeque<T>,
    seen: usize,
    k: usize,
}

impl<T: Clone> Ends<T> {
    /// Keeps the first and last `k`.
    pub fn new(k: usize) -> Ends<T> {
        Ends {
            head: Vec::new(),
            tail: VecDeque::new(),
            seen: 0,
            k: k.max(1),
        }
    }

    /// Adds an item, reusing the storage of one that falls out (`set` fills it from `v`).
    pub fn push_with<V: ?Sized>(
        &mut self,
        v: &V,
        make: impl Fn(&V) -> T,
        set: impl Fn(&mut T, &V),
    ) {
        self.seen += 1;
        if self.head.len() < self.k {
            self.head.push(make(v));
        } else if self.tail.len() < self.k {
            self.tail.push_back(make(v));
        } else if let Some(mut old) = self.tail.pop_front() {
            set(&mut old, v);
            self.tail.push_back(old);
        }
    }

    /// How many items there were.
    pub fn seen(&self) -> usize {
        self.seen
    }

    /// How many are not kept (between the first and the last).
    pub fn skipped(&self) -> usize {
        self.seen - self.head.len() - self.tail.len()
    }

    /// The first kept items.
    pub fn head(&self) -> &[T] {
        &self.head
    }

    /// The last kept items.
    pub fn tail(&self) -> impl Iterator<Item = &T> {
        self.tail.iter()
    }

    /// The last item.
    pub fn last(&self) -> Option<&T> {
        self.tail.back().or(self.head.last())
    }
}

/// Rows of a table: the first ones, a row of `…` where some are left out, the last ones.
pub fn rows<T>(ends: &Ends<T>, width: usize, row: impl Fn(&T) -> Vec<String>) -> Vec<Vec<String>>
where
    T: Clone,
{
    let mut out: Vec<Vec<String>> = ends.head().iter().map(&row).collect();
    if ends.skipped() > 0 {
        let mut gap = vec![String::new(); width];
        if let Some(first) = gap.first_mut() {
            *first = "…".into();
        }
        out.push(gap);
    }
    out.extend(ends.tail().map(&row));
    out
}

pub use gradsheet_report::grouped;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ends_of_a_long_sequence() {
        let mut e: Ends<Vec<u32>> = Ends::new(3);
        for i in 0..10u32 {
            e.push_with(&i, |v| vec![*v], |t, v| t[0] = *v);
        }
        assert_eq!(e.seen(), 10);
        assert_eq!(e.skipped(), 4);
        let r = rows(&e, 1, |v| vec![v[0].to_string()]);
        let col: Vec<&str> = r.iter().map(|x| x[0].as_str()).collect();
        assert_eq!(col, ["0", "1", "2", "…", "7", "8", "9"]);
        assert_eq!(e.last(), Some(&vec![9]));
        let mut short: Ends<Vec<u32>> = Ends::new(3);
        for i in 0..5u32 {
            short.push_with(&i, |v| vec![*v], |t, v| t[0] = *v);
        }
        assert_eq!(rows(&short, 1, |v| vec![v[0].to_string()]).len(), 5);
    }
}
