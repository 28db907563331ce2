//! Columns of numbers handed to numpy without a copy.
//!
//! A run's steps are kept column by column in one buffer (every value of a column
//! contiguous, one column after another), so that numpy can take the buffer as a
//! `(columns, rows)` float64 array, and pandas its transpose as the one block of a
//! DataFrame, neither copying it. The hand-over uses numpy's array interface (a
//! dictionary naming the address, shape and type), which needs no numpy headers and works
//! under the stable ABI; numpy keeps the [`Block`] alive as the array's base.

use std::mem::ManuallyDrop;

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A table built column by column: `width` columns of `len` values, each column holding
/// `cap` slots (the buffer grows by doubling, moving each column to its new place).
#[derive(Debug)]
pub struct Columns<T> {
    width: usize,
    len: usize,
    cap: usize,
    data: Vec<T>,
}

impl<T: Copy + Default> Columns<T> {
    /// An empty table of `width` columns with room for `rows` rows.
    pub fn new(width: usize, rows: usize) -> Columns<T> {
        Columns {
            width,
            len: 0,
            cap: rows,
            data: vec![T::default(); width * rows],
        }
    }

    /// Appends a row of `width` values (the first `width` of `row`).
    pub fn push(&mut self, row: impl IntoIterator<Item = T>) {
        if self.len == self.cap {
            self.grow();
        }
        for (k, v) in row.into_iter().take(self.width).enumerate() {
            self.data[k * self.cap + self.len] = v;
        }
        self.len += 1;
    }

    fn grow(&mut self) {
        let cap = (self.cap * 2).max(256);
        let mut data = vec![T::default(); self.width * cap];
        for k in 0..self.width {
            data[k * cap..k * cap + self.len]
                .copy_from_slice(&self.data[k * self.cap..k * self.cap + self.len]);
        }
        self.data = data;
        self.cap = cap;
    }

    /// The values, column after column with no gap (`width × len`).
    pub fn into_packed(mut self) -> Vec<T> {
        if self.len < self.cap {
            for k in 1..self.width {
                self.data
                    .copy_within(k * self.cap..k * self.cap + self.len, k * self.len);
            }
            self.data.truncate(self.width * self.len);
        }
        self.data
    }
}

/// A numeric element type numpy knows: its type string in the array interface.
pub trait Element: Copy + Default + Send + 'static {
    /// numpy's type string, e.g. `<f8`.
    const TYPESTR: &'static str;
}

impl Element for f64 {
    const TYPESTR: &'static str = "<f8";
}

impl Element for i64 {
    const TYPESTR: &'static str = "<i8";
}

/// The buffer of a [`Block`], given up by its `Vec` so that no Rust reference to it
/// exists while numpy reads and writes it.
struct Raw {
    ptr: usize,
    len: usize,
    cap: usize,
    free: unsafe fn(usize, usize, usize),
}

/// Rebuilds the `Vec<T>` a [`Raw`] came from and drops it.
///
/// # Safety
///
/// `(ptr, len, cap)` must come from a `Vec<T>` given up with [`ManuallyDrop`], once.
unsafe fn free<T>(ptr: usize, len: usize, cap: usize) {
    // SAFETY: the caller passes the parts of a `Vec<T>` that nothing else owns.
    drop(unsafe { Vec::from_raw_parts(ptr as *mut T, len, cap) });
}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: `Raw` is built only by `Block::new`, from a `Vec` of the element type
        // `free` was instantiated with, and dropped once.
        unsafe { (self.free)(self.ptr, self.len, self.cap) }
    }
}

/// A 2-D array of numbers owned by Rust and lent to numpy: `numpy.asarray(block)` is a
/// `(columns, rows)` array over the block's memory, with the block as its base.
#[pyclass(frozen, module = "gradsheet._gradsheet")]
pub struct Block {
    raw: Raw,
    shape: (usize, usize),
    typestr: &'static str,
}

impl Block {
    /// A block of `rows` values per column over `values` (column after column).
    pub fn new<T: Element>(values: Vec<T>, columns: usize, rows: usize) -> Block {
        debug_assert_eq!(values.len(), columns * rows);
        let mut v = ManuallyDrop::new(values);
        Block {
            raw: Raw {
                ptr: v.as_mut_ptr() as usize,
                len: v.len(),
                cap: v.capacity(),
                free: free::<T>,
            },
            shape: (columns, rows),
            typestr: T::TYPESTR,
        }
    }

    /// A block of a table built with [`Columns`].
    pub fn from_columns<T: Element>(c: Columns<T>) -> Block {
        let (w, n) = (c.width, c.len);
        Block::new(c.into_packed(), w, n)
    }
}

#[pymethods]
impl Block {
    /// numpy's array interface (version 3): the address of the values, the shape and
    /// the element type; writable, since the block is numpy's alone once lent.
    #[getter]
    fn __array_interface__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("version", 3)?;
        d.set_item("shape", self.shape)?;
        d.set_item("typestr", self.typestr)?;
        d.set_item("data", (self.raw.ptr, false))?;
        Ok(d)
    }

    /// `(columns, rows)`.
    #[getter]
    fn shape(&self) -> (usize, usize) {
        self.shape
    }
}

// The buffer is reached only through its address, by numpy, under the GIL: Rust keeps
// no reference into it (Raw holds integers), so moving or sharing a Block across threads
// touches nothing but those integers.
// SAFETY: see above; `free` is a plain function pointer.
unsafe impl Send for Raw {}
// SAFETY: as for Send: no method of Raw reads the buffer.
unsafe impl Sync for Raw {}
