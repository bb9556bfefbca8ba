//! Progress reports of long calls (ground level: every layer that runs long work reports
//! through it, and every shell relays it).

/// What a progress callback sees.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// "train", "sample" or "evaluate".
    pub stage: &'static str,
    pub done: usize,
    pub total: usize,
    /// Mean training loss over the last reporting window (NaN while sampling).
    pub loss: f64,
}

/// A progress callback: return `false` to cancel the call.
pub type ProgressFn<'a> = &'a mut dyn FnMut(&Progress) -> bool;
