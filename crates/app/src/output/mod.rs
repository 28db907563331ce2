//! Files in and out, and tables for the terminal: one module per concept, none of them
//! depending on the commands that use them.

pub mod atomic;
pub mod import;
pub mod table;
pub mod term;

pub use atomic::{write_atomic, write_atomic_with, write_chart, AtomicFile};
pub use import::{read_csv, read_data, read_to_string, DataOptions};
pub use table::{cell, fitted, table, Cell, Column};
