//! Differential privacy: the Rényi accountant (a pure leaf: numbers in, numbers out), the
//! Gaussian count release of private preprocessing, and the empirical audit of DP-SGD (which
//! runs the trainer, so this module sits above `train`).

pub mod accountant;
pub mod audit;
mod counts;
mod plan;

pub use counts::{gaussian_counts, gaussian_release};
pub use plan::{plan_epsilon, plan_sigma, PlanEpsilon, DEFAULT_DELTA};
