//! Evaluation of synthetic rows, as JSON.

use std::ffi::{c_char, c_void};

use super::{
    check_out, guard, opt_str_arg, progress_adapter, put, sv_bytes, sv_cancel, sv_progress_fn,
    sv_status, sv_table, Failure,
};
use crate::metrics::{evaluate, EvaluateOptions};

/// Evaluates `synthetic` against `real` (the rows the model was trained on), with an optional
/// `holdout` of real rows the model never saw (privacy risk; utility with a target), and
/// writes the report of `synthvol evaluate --json` (keys in docs/evaluation.md) into new bytes
/// `*report_json`. `options_json` (may be NULL) is a JSON object with any of "target", "seed",
/// "wasserstein_rows", "privacy_rows", "propensity_rows", "detection_folds", "threads".
/// Progress and cancellation as `sv_fit`.
#[no_mangle]
pub extern "C" fn sv_evaluate(
    real: *const sv_table,
    synthetic: *const sv_table,
    holdout: *const sv_table,
    options_json: *const c_char,
    progress: sv_progress_fn,
    user: *mut c_void,
    cancel: *const sv_cancel,
    report_json: *mut *mut sv_bytes,
) -> sv_status {
    guard(|| {
        if real.is_null() {
            return Err(Failure::null("real"));
        }
        if synthetic.is_null() {
            return Err(Failure::null("synthetic"));
        }
        check_out(report_json, "report_json")?;
        let opts: EvaluateOptions = match opt_str_arg(options_json, "options_json")? {
            Some(text) => crate::options::from_json(text, "options_json")?,
            None => EvaluateOptions::default(),
        };
        // SAFETY: live handles (checked non-NULL above; holdout may be NULL).
        let (r, s, h) = unsafe {
            (
                &(*real).table,
                &(*synthetic).table,
                holdout.as_ref().map(|h| &h.table),
            )
        };
        let mut cb = progress_adapter(progress, user, cancel);
        let report = evaluate(r, s, h, &opts, &mut cb)?;
        put(report_json, sv_bytes::text(report.to_json()));
        Ok(())
    })
}
