//! The workbook reader and recalculation against fast.ai's own workbooks (outside the
//! repository: skipped loudly without them, mandatory in CI) and against learner-style
//! workbooks built here.

mod explain;
mod features;
mod hostile;
mod learner;
mod ods;
mod props;
mod shared;
mod solver;
