//! Aggregation grids (in progress).

pub mod h3;
pub mod square;
