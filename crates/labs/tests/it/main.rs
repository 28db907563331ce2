//! One integration-test binary: every lab against the cached values of the golden
//! workbooks (../shared/golden), cell by cell.

mod grid;

mod collab;
mod conv;
mod entropy;
mod layers;
mod mom_bias;
mod small;
mod titanic;
