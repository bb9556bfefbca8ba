//! `sv_model`: fit, fine-tune, sample, serialise, describe.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{
    check_out, guard, log, opt_str_arg, progress_adapter, put, str_arg, sv_bytes, sv_cancel,
    sv_progress_fn, sv_status, sv_table, Failure, FfiResult, SV_ABI_VERSION, SV_LOG_INFO,
};
use crate::model::{
    DpOptions, FineTuneOptions, FitOptions, SampleOptions, Synthesizer, DP_TIMESTEPS,
    FORMAT_VERSION,
};
use crate::table::{ColumnKind, PublicSchema, Table};

/// A fitted model: immutable and shareable. Sampling from one model on several threads at
/// once is safe and gives the same rows as sampling one call after another.
/// `sv_model_clone` makes a second handle to the same model (cheap).
pub struct sv_model {
    pub(crate) model: Arc<Synthesizer>,
}

/// Options of `sv_fit` and `sv_fine_tune`. Initialise with `sv_fit_options_init`, then set
/// fields. Zero in `steps`, `batch_size` or `learning_rate` means the call's default.
#[repr(C)]
pub struct sv_fit_options {
    /// `sizeof(sv_fit_options)`, set by `sv_fit_options_init`; a smaller value is refused.
    pub struct_size: usize,
    /// Target column (NUL-terminated) or NULL. A categorical target conditions generation.
    /// `sv_fine_tune` keeps the model's target: NULL or the same name.
    pub target: *const c_char,
    /// Training steps (0: 4000 for a fit, 1000 for a fine-tuning).
    pub steps: u64,
    /// Rows per step (0: 1024).
    pub batch_size: u64,
    /// Initial learning rate, decayed linearly to 0 (0: 0.002 for a fit, 0.001 for a
    /// fine-tuning).
    pub learning_rate: f64,
    /// Seed: the same seed gives the same model (except the DP noise, from the OS).
    pub seed: u64,
    /// Threads for the call (0: all cores).
    pub threads: u32,
    /// Privacy budget ε; 0 fits without differential privacy.
    pub epsilon: f64,
    /// δ of a private fit (default 1e-5).
    pub delta: f64,
    /// A public schema as JSON (what `synthvol schema` writes): required for a private fit;
    /// without DP it declares level sets and bounds. NULL for none. Not for `sv_fine_tune`.
    pub schema_json: *const c_char,
    /// Other options as a JSON object, or NULL: "layers" (array of widths), "timesteps"
    /// (default 200; 20 for a private fit), "time_dim", "weight_decay", "ema_rate", and for private fits "max_grad_norm",
    /// "sample_rate", "augment", "preprocessing_share", "categorical_weight", "noise_seed"
    /// (test only). An unknown key is an error.
    pub extra_json: *const c_char,
}

/// Fills `options` with the defaults (and `struct_size`).
#[no_mangle]
pub extern "C" fn sv_fit_options_init(options: *mut sv_fit_options) -> sv_status {
    guard(|| {
        check_out(options, "options")?;
        // SAFETY: checked pointer to caller memory of the struct's size.
        unsafe {
            options.write(sv_fit_options {
                struct_size: std::mem::size_of::<sv_fit_options>(),
                target: std::ptr::null(),
                steps: 0,
                batch_size: 0,
                learning_rate: 0.0,
                seed: 0,
                threads: 0,
                epsilon: 0.0,
                delta: 1e-5,
                schema_json: std::ptr::null(),
                extra_json: std::ptr::null(),
            })
        };
        Ok(())
    })
}

fn put_model(out: *mut *mut sv_model, model: Synthesizer) {
    put(
        out,
        sv_model {
            model: Arc::new(model),
        },
    );
}

fn model_ref<'a>(m: *const sv_model) -> FfiResult<&'a Arc<Synthesizer>> {
    if m.is_null() {
        return Err(Failure::null("model"));
    }
    // SAFETY: a live handle.
    Ok(unsafe { &(*m).model })
}

fn table_arg<'a>(t: *const sv_table, what: &str) -> FfiResult<&'a Table> {
    if t.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: a live handle.
    Ok(unsafe { &(*t).table })
}

/// What the options say, checked.
struct Parsed {
    fit: FitOptions,
    tune: FineTuneOptions,
    dp: Option<DpOptions>,
    schema: Option<PublicSchema>,
    target: Option<String>,
}

fn parse_options(o: *const sv_fit_options) -> FfiResult<Parsed> {
    if o.is_null() {
        return Err(Failure::null("options"));
    }
    // SAFETY: struct_size is the first field of every version of the struct.
    let size = unsafe { std::ptr::addr_of!((*o).struct_size).read() };
    let ours = std::mem::size_of::<sv_fit_options>();
    if size < ours {
        return Err(Failure::invalid(format!(
            "options.struct_size is {size}; this library's sv_fit_options has {ours} bytes (call sv_fit_options_init)"
        )));
    }
    // SAFETY: the caller's struct holds at least our fields.
    let o = unsafe { &*o };
    let target = opt_str_arg(o.target, "options.target")?.map(String::from);
    let mut fit = FitOptions {
        target: target.clone(),
        seed: o.seed,
        threads: o.threads as usize,
        ..FitOptions::default()
    };
    let mut tune = FineTuneOptions {
        seed: o.seed,
        threads: o.threads as usize,
        ..FineTuneOptions::default()
    };
    for optim in [&mut fit.optim, &mut tune.optim] {
        if o.steps > 0 {
            optim.steps = usize::try_from(o.steps)
                .map_err(|_| Failure::invalid("options.steps is too large"))?;
        }
        if o.batch_size > 0 {
            optim.batch_size = usize::try_from(o.batch_size)
                .map_err(|_| Failure::invalid("options.batch_size is too large"))?;
        }
        if o.learning_rate != 0.0 {
            if !(o.learning_rate > 0.0 && o.learning_rate.is_finite()) {
                return Err(Failure::invalid(format!(
                    "options.learning_rate must be positive, got {}",
                    o.learning_rate
                )));
            }
            optim.lr = o.learning_rate;
        }
    }
    if o.epsilon.is_nan() || o.epsilon < 0.0 {
        return Err(Failure::invalid(format!(
            "options.epsilon must be 0 (not private) or positive, got {}",
            o.epsilon
        )));
    }
    let mut dp = (o.epsilon > 0.0).then(|| DpOptions {
        epsilon: o.epsilon,
        delta: o.delta,
        ..DpOptions::default()
    });
    let schema = opt_str_arg(o.schema_json, "options.schema_json")?
        .map(PublicSchema::from_json)
        .transpose()
        .map_err(|e| Failure::from(e).prefixed("options.schema_json: "))?;
    if let Some(extra) = opt_str_arg(o.extra_json, "options.extra_json")? {
        let v: Value = serde_json::from_str(extra)
            .map_err(|e| Failure::invalid(format!("options.extra_json is not JSON: {e}")))?;
        let Value::Object(map) = v else {
            return Err(Failure::invalid("options.extra_json must be a JSON object"));
        };
        if dp.is_some() && !map.contains_key("timesteps") {
            fit.timesteps = DP_TIMESTEPS;
        }
        apply_extra(&map, &mut fit, &mut tune, &mut dp)?;
    } else if dp.is_some() {
        fit.timesteps = DP_TIMESTEPS;
    }
    Ok(Parsed {
        fit,
        tune,
        dp,
        schema,
        target,
    })
}

impl Failure {
    fn prefixed(mut self, p: &str) -> Self {
        self.message = format!("{p}{}", self.message);
        self
    }
}

fn apply_extra(
    map: &Map<String, Value>,
    fit: &mut FitOptions,
    tune: &mut FineTuneOptions,
    dp: &mut Option<DpOptions>,
) -> FfiResult<()> {
    let num = |k: &str, v: &Value| {
        v.as_f64()
            .ok_or_else(|| Failure::invalid(format!("extra_json.{k} must be a number")))
    };
    let uint = |k: &str, v: &Value| {
        v.as_u64()
            .and_then(|x| usize::try_from(x).ok())
            .ok_or_else(|| Failure::invalid(format!("extra_json.{k} must be a whole number")))
    };
    let need_dp = |k: &str, dp: &mut Option<DpOptions>| -> FfiResult<()> {
        if dp.is_none() {
            return Err(Failure::invalid(format!(
                "extra_json.{k} applies to private fits only (set options.epsilon)"
            )));
        }
        Ok(())
    };
    for (k, v) in map {
        match k.as_str() {
            "layers" => {
                let arr = v.as_array().ok_or_else(|| {
                    Failure::invalid("extra_json.layers must be an array of widths")
                })?;
                fit.layers = arr
                    .iter()
                    .map(|w| uint("layers[]", w))
                    .collect::<FfiResult<Vec<_>>>()?;
            }
            "timesteps" => fit.timesteps = uint(k, v)?,
            "time_dim" => fit.dim_t = uint(k, v)?,
            "weight_decay" => {
                fit.optim.weight_decay = num(k, v)?;
                tune.optim.weight_decay = fit.optim.weight_decay;
            }
            "ema_rate" => {
                fit.optim.ema_rate = num(k, v)?;
                tune.optim.ema_rate = fit.optim.ema_rate;
            }
            "max_grad_norm"
            | "sample_rate"
            | "augment"
            | "preprocessing_share"
            | "categorical_weight"
            | "noise_seed" => {
                need_dp(k, dp)?;
                let d = dp.as_mut().expect("checked");
                match k.as_str() {
                    "max_grad_norm" => d.max_grad_norm = num(k, v)?,
                    "sample_rate" => d.sample_rate = Some(num(k, v)?),
                    "augment" => d.augment = uint(k, v)?,
                    "preprocessing_share" => d.preprocessing_share = num(k, v)?,
                    "categorical_weight" => d.categorical_weight = num(k, v)?,
                    _ => d.noise_seed = Some(uint(k, v)? as u64),
                }
            }
            other => {
                return Err(Failure::invalid(format!(
                    "extra_json has an unknown option '{other}'"
                )))
            }
        }
    }
    Ok(())
}

/// Fits a model to `data`. With `options->epsilon` > 0 the fit is (ε, δ)-differentially private
/// with respect to one row and needs `options->schema_json`. `progress` (may be NULL) is called
/// on this thread; it or `cancel` (may be NULL) can stop the fit, which then returns
/// `SV_E_CANCELLED`. On success `*out` is a new model to free with `sv_model_free`; on failure
/// `*out` is untouched.
#[no_mangle]
pub extern "C" fn sv_fit(
    data: *const sv_table,
    options: *const sv_fit_options,
    progress: sv_progress_fn,
    user: *mut c_void,
    cancel: *const sv_cancel,
    out: *mut *mut sv_model,
) -> sv_status {
    guard(|| {
        let table = table_arg(data, "data")?;
        check_out(out, "out")?;
        let p = parse_options(options)?;
        let mut cb = progress_adapter(progress, user, cancel);
        let model = match (p.dp, p.schema) {
            (Some(dp), Some(schema)) => {
                Synthesizer::fit_private(table, &schema, &p.fit, &dp, &mut cb)?
            }
            (Some(_), None) => return Err(Failure::invalid(
                "a private fit (options.epsilon > 0) needs a public schema in options.schema_json",
            )),
            (None, Some(schema)) => Synthesizer::fit(&schema.apply(table)?, &p.fit, &mut cb)?,
            (None, None) => Synthesizer::fit(table, &p.fit, &mut cb)?,
        };
        put_model(out, model);
        Ok(())
    })
}

/// Fine-tunes `pretrained` on `data` (columns and levels matched by name and label) into a new
/// model `*out`; `pretrained` is unchanged. The network's shape comes from `pretrained`; of
/// `options` the steps, batch size, learning rate, seed, threads, privacy settings and
/// "weight_decay"/"ema_rate" apply. Levels the model lacks extend it without DP (a
/// `SV_LOG_INFO` message says which) and are an error under DP. Progress and cancellation as
/// `sv_fit`.
#[no_mangle]
pub extern "C" fn sv_fine_tune(
    pretrained: *const sv_model,
    data: *const sv_table,
    options: *const sv_fit_options,
    progress: sv_progress_fn,
    user: *mut c_void,
    cancel: *const sv_cancel,
    out: *mut *mut sv_model,
) -> sv_status {
    guard(|| {
        let pre = model_ref(pretrained)?;
        let table = table_arg(data, "data")?;
        check_out(out, "out")?;
        let p = parse_options(options)?;
        if p.schema.is_some() {
            return Err(Failure::invalid(
                "options.schema_json declares level sets at pre-training; a fine-tuning uses the pre-trained model's",
            ));
        }
        if let Some(t) = &p.target {
            if pre.record.options.target.as_deref() != Some(t.as_str()) {
                return Err(Failure::invalid(format!(
                    "options.target '{t}' differs from the pre-trained model's target; a fine-tuning keeps it"
                )));
            }
        }
        let mut cb = progress_adapter(progress, user, cancel);
        let (model, notices) = pre.fine_tune(table, &p.tune, p.dp.as_ref(), &mut cb)?;
        for n in &notices {
            log(SV_LOG_INFO, n);
        }
        put_model(out, model);
        Ok(())
    })
}

/// Draws `n` synthetic rows into a new table `*out` (free with `sv_table_free`). The same seed
/// gives the same rows whatever `threads` (0: all cores). Progress and cancellation as `sv_fit`.
#[no_mangle]
pub extern "C" fn sv_sample(
    model: *const sv_model,
    n: usize,
    seed: u64,
    threads: u32,
    progress: sv_progress_fn,
    user: *mut c_void,
    cancel: *const sv_cancel,
    out: *mut *mut sv_table,
) -> sv_status {
    guard(|| {
        let m = model_ref(model)?;
        check_out(out, "out")?;
        let opts = SampleOptions {
            threads: threads as usize,
            ..SampleOptions::default()
        };
        let mut cb = progress_adapter(progress, user, cancel);
        let table = m.sample(n, seed, &opts, &mut cb)?;
        put(out, sv_table { table });
        Ok(())
    })
}

/// Saves a model to a file (written whole or not at all).
#[no_mangle]
pub extern "C" fn sv_model_save(model: *const sv_model, path: *const c_char) -> sv_status {
    guard(|| {
        let m = model_ref(model)?;
        let path = str_arg(path, "path")?;
        m.save(path.as_ref())?;
        Ok(())
    })
}

/// Loads a model from a file written by `sv_model_save` or `synthvol fit`.
#[no_mangle]
pub extern "C" fn sv_model_load(path: *const c_char, out: *mut *mut sv_model) -> sv_status {
    guard(|| {
        let path = str_arg(path, "path")?;
        check_out(out, "out")?;
        let model = Synthesizer::load(path.as_ref())?;
        put_model(out, model);
        Ok(())
    })
}

/// Serialises a model (the file format, in memory) into new bytes `*out`.
#[no_mangle]
pub extern "C" fn sv_model_to_bytes(model: *const sv_model, out: *mut *mut sv_bytes) -> sv_status {
    guard(|| {
        let m = model_ref(model)?;
        check_out(out, "out")?;
        put(out, sv_bytes::binary(m.to_bytes()?));
        Ok(())
    })
}

/// Reads a model from `len` bytes (copied; the buffer may be freed after the call). Bytes that
/// are not a model, are damaged or come from a newer format give `SV_E_FORMAT`.
#[no_mangle]
pub extern "C" fn sv_model_from_bytes(
    data: *const u8,
    len: usize,
    out: *mut *mut sv_model,
) -> sv_status {
    guard(|| {
        if data.is_null() {
            return Err(Failure::null("data"));
        }
        check_out(out, "out")?;
        // SAFETY: the caller passes len readable bytes.
        let bytes = unsafe { std::slice::from_raw_parts(data, len) };
        let model = Synthesizer::from_bytes(bytes)?;
        put_model(out, model);
        Ok(())
    })
}

/// A second handle to the same (immutable) model; free each handle with `sv_model_free`.
#[no_mangle]
pub extern "C" fn sv_model_clone(model: *const sv_model, out: *mut *mut sv_model) -> sv_status {
    guard(|| {
        let m = model_ref(model)?;
        check_out(out, "out")?;
        put(out, sv_model { model: m.clone() });
        Ok(())
    })
}

/// Frees a model handle (NULL is allowed).
#[no_mangle]
pub extern "C" fn sv_model_free(model: *mut sv_model) {
    if !model.is_null() {
        // SAFETY: a handle made by the library, freed once.
        drop(unsafe { Box::from_raw(model) });
    }
}

/// A description of the model as JSON (new bytes `*out`): "versions" (library, ABI, model
/// format), "schema" (columns with kind, levels, integer flag), "target", "training" (the
/// fit's settings, loss history, time, privacy and fine-tunings).
#[no_mangle]
pub extern "C" fn sv_model_info_json(model: *const sv_model, out: *mut *mut sv_bytes) -> sv_status {
    guard(|| {
        let m = model_ref(model)?;
        check_out(out, "out")?;
        let columns: Vec<Value> = m
            .schema()
            .columns
            .iter()
            .map(|c| match &c.kind {
                ColumnKind::Numeric { integer } => {
                    json!({"name": c.name, "kind": "numeric", "integer": integer})
                }
                ColumnKind::Categorical { levels } => {
                    json!({"name": c.name, "kind": "categorical", "levels": levels})
                }
            })
            .collect();
        let v = json!({
            "versions": {
                "library": env!("CARGO_PKG_VERSION"),
                "abi": SV_ABI_VERSION,
                "model_format": FORMAT_VERSION,
            },
            "schema": columns,
            "target": m.record.options.target,
            "training": m.record,
        });
        put(out, sv_bytes::text(v.to_string()));
        Ok(())
    })
}

/// What the model spent under differential privacy, as JSON (new bytes `*out`): the fit's
/// privacy record (or `"private": false`) and a "fine_tuning" list, as
/// `synthvol privacy --model --json` prints it.
#[no_mangle]
pub extern "C" fn sv_model_privacy_json(
    model: *const sv_model,
    out: *mut *mut sv_bytes,
) -> sv_status {
    guard(|| {
        let m = model_ref(model)?;
        check_out(out, "out")?;
        let v = m.privacy_json();
        put(out, sv_bytes::text(v.to_string()));
        Ok(())
    })
}
