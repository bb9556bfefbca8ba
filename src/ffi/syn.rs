//! The Syn workflow through the C ABI: volume tuning (with a built-in or a caller's analysis)
//! and inference with corrected standard errors.

use std::ffi::{c_char, c_void};

use super::{
    check_out, guard, opt_str_arg, progress_adapter, put, sv_bytes, sv_cancel, sv_model,
    sv_progress_fn, sv_status, sv_table, Failure,
};
use crate::error::{Error, Result};
use crate::syn::{infer, syn_test_request, tune, tune_builtin, SynTestRequest, TuneOptions};
use crate::table::Table;

/// A caller's analysis for `sv_tune`: train on `train`, score on `valid`, write the error to
/// minimise to `*error` and return 0; any other return value fails the tuning. Both tables are
/// borrowed for the call only. Called on the thread that called `sv_tune`.
pub type sv_analysis_fn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        train: *const sv_table,
        valid: *const sv_table,
        error: *mut f64,
    ) -> i32,
>;

/// Tunes the synthetic volume: for each ratio ρ, trains the analysis on m = ρ·n rows drawn
/// from `model` (n = rows of `raw`; with "with_raw" together with the raw rows) and scores it
/// on `valid`; writes the curve and the chosen m as JSON into new bytes `*result_json`
/// (`synthvol tune --json`). With `analysis` NULL the built-in analysis of `target` is used
/// (by option "analysis": "linear", the default, is logistic regression for a categorical
/// target and least squares for a numeric one; "boosting" is gradient-boosted trees);
/// otherwise `analysis` is called with `analysis_user` and `target` may be NULL.
/// `options_json` (may be NULL): "ratios" (array, default 1..30), "repeats" (3), "with_raw"
/// (false), "seed", "threads", "device", "analysis", "label" (draw every synthetic row with
/// this class of the model's target: a model conditioned on a group column, sampled for one
/// group); an unknown key is an error. Progress and cancellation as `sv_fit`.
#[no_mangle]
pub extern "C" fn sv_tune(
    model: *const sv_model,
    raw: *const sv_table,
    valid: *const sv_table,
    target: *const c_char,
    options_json: *const c_char,
    analysis: sv_analysis_fn,
    analysis_user: *mut c_void,
    progress: sv_progress_fn,
    user: *mut c_void,
    cancel: *const sv_cancel,
    result_json: *mut *mut sv_bytes,
) -> sv_status {
    guard(|| {
        if model.is_null() {
            return Err(Failure::null("model"));
        }
        if raw.is_null() {
            return Err(Failure::null("raw"));
        }
        if valid.is_null() {
            return Err(Failure::null("valid"));
        }
        check_out(result_json, "result_json")?;
        let target = opt_str_arg(target, "target")?;
        // SAFETY: live handles, checked above.
        let (m, raw, valid) = unsafe { (&(*model).model, &(*raw).table, &(*valid).table) };
        let opts = parse_tune_options(options_json)?;
        let mut cb = progress_adapter(progress, user, cancel);
        let r = match analysis {
            None => {
                let t = target.ok_or_else(|| {
                    Failure::invalid("target is NULL: the built-in analysis needs a target column")
                })?;
                tune_builtin(m, raw, valid, t, &opts, &mut cb)?
            }
            Some(f) => {
                let mut call = |train: &Table, va: &Table| -> Result<f64> {
                    let (tr, va) = (
                        sv_table {
                            table: train.clone(),
                        },
                        sv_table { table: va.clone() },
                    );
                    let mut e = f64::NAN;
                    // SAFETY: the caller's callback with live, borrowed tables.
                    let rc = unsafe { f(analysis_user, &tr, &va, &mut e) };
                    if rc != 0 {
                        return Err(Error::data(format!(
                            "the analysis callback failed (it returned {rc})"
                        )));
                    }
                    Ok(e)
                };
                tune(m, raw, valid, &mut call, "custom", &opts, &mut cb)?
            }
        };
        let text = serde_json::to_string(&r)
            .map_err(|e| Failure::invalid(format!("tuning result: {e}")))?;
        put(result_json, sv_bytes::text(text));
        Ok(())
    })
}

fn parse_tune_options(p: *const c_char) -> std::result::Result<TuneOptions, Failure> {
    Ok(match opt_str_arg(p, "options_json")? {
        Some(text) => crate::options::from_json(text, "options_json")?,
        None => TuneOptions::default(),
    })
}

/// Fits least squares (numeric target) or logistic regression (two-class target) on `m`
/// syntheses of equal size drawn from a generator that learned from `real_rows` real rows,
/// and writes estimates with naive and corrected standard errors as JSON into new bytes
/// `*result_json` (`synthvol infer --json`).
#[no_mangle]
pub extern "C" fn sv_infer(
    syntheses: *const *const sv_table,
    m: usize,
    target: *const c_char,
    real_rows: usize,
    result_json: *mut *mut sv_bytes,
) -> sv_status {
    guard(|| {
        if syntheses.is_null() {
            return Err(Failure::null("syntheses"));
        }
        check_out(result_json, "result_json")?;
        let target = super::str_arg(target, "target")?;
        let mut tables = Vec::with_capacity(m);
        for i in 0..m {
            // SAFETY: the caller passes m readable pointers.
            let p = unsafe { *syntheses.add(i) };
            if p.is_null() {
                return Err(Failure::null(&format!("syntheses[{i}]")));
            }
            // SAFETY: a live handle.
            tables.push(unsafe { (*p).table.clone() });
        }
        let r = infer(&tables, target, real_rows)?;
        let text = serde_json::to_string(&r)
            .map_err(|e| Failure::invalid(format!("inference result: {e}")))?;
        put(result_json, sv_bytes::text(text));
        Ok(())
    })
}

/// Syn-Test (Shen, Liu & Shen 2023) of the hypothesis that "features" are irrelevant to
/// "target" given the other columns: twin generators fine-tuned from `pretrained` on halves of
/// `data`, the prediction models on `training` (real rows kept apart from `data`; may be NULL,
/// then on one twin's synthetic rows), the volume chosen by the estimated Type-I error. Writes
/// the result as JSON (`synthvol test --json`) into new bytes `*result_json`. `request_json`:
/// "target", "features" (array), and optionally "ratios", "mc", "alpha", "model_rows", "seed",
/// "fine_tune" (a fit request object: "steps", "lr", "threads", "device", ...); an unknown key
/// is an error. Progress and cancellation as `sv_fit`.
#[no_mangle]
pub extern "C" fn sv_syn_test(
    pretrained: *const sv_model,
    data: *const sv_table,
    training: *const sv_table,
    request_json: *const c_char,
    progress: sv_progress_fn,
    user: *mut c_void,
    cancel: *const sv_cancel,
    result_json: *mut *mut sv_bytes,
) -> sv_status {
    guard(|| {
        if pretrained.is_null() {
            return Err(Failure::null("pretrained"));
        }
        if data.is_null() {
            return Err(Failure::null("data"));
        }
        check_out(result_json, "result_json")?;
        let text = super::str_arg(request_json, "request_json")?;
        let req: SynTestRequest = crate::options::from_json(text, "request_json")?;
        // SAFETY: live handles (training may be NULL).
        let (m, d, t) = unsafe {
            (
                &(*pretrained).model,
                &(*data).table,
                training.as_ref().map(|t| &t.table),
            )
        };
        let mut cb = progress_adapter(progress, user, cancel);
        let r = syn_test_request(m, d, t, &req, &mut cb)?;
        let text = serde_json::to_string(&r)
            .map_err(|e| Failure::invalid(format!("Syn-Test result: {e}")))?;
        put(result_json, sv_bytes::text(text));
        Ok(())
    })
}
