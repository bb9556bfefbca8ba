//! The Syn workflow on top of the engine: knowledge transfer ([`crate::model::Synthesizer::fine_tune`]),
//! generational-effect tuning of the synthetic volume ([`tune()`]), Syn-Test ([`syn_test()`]),
//! and honest inference from synthetic rows ([`infer()`]).

mod analysis;
mod inference;
mod plot;
mod syn_test;
mod tune;

pub use analysis::{builtin, builtin_kind, Analysis, AnalysisKind};
pub use inference::{infer, infer_named, Coefficient, Inference};
pub use plot::tune_svg;
pub use syn_test::{
    hommel, syn_test, syn_test_request, twins, SynTestOptions, SynTestPoint, SynTestRequest,
    SynTestResult, Twins,
};
pub use tune::{tune, tune_builtin, TuneOptions, TunePoint, TuneResult};
