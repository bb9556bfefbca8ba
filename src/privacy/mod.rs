//! Differential privacy: the accountant (and, with DP-SGD, the mechanism's bookkeeping).

pub mod accountant;
pub mod audit;
pub mod noise;
