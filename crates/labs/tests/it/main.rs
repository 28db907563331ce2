//! One integration-test binary: every lab against the cached values of the golden
//! workbooks (tests/data/golden, and course22's outside the repository: see `grid`),
//! cell by cell.

mod grid;

mod collab;
mod conv;
mod entropy;
mod layers;
mod mom_bias;
mod small;
mod titanic;
