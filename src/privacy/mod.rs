//! Differential privacy: the accountant (and, with DP-SGD, the mechanism's bookkeeping).

pub mod accountant;
mod aes_ctr;
pub mod audit;
pub mod noise;
