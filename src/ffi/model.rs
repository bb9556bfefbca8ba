//! `sv_model`: fit, fine-tune, sample, serialise, describe.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use serde_json::json;

use super::{
    check_out, guard, log, opt_str_arg, progress_adapter, put, str_arg, sv_bytes, sv_cancel,
    sv_progress_fn, sv_status, sv_table, Failure, FfiResult, SV_ABI_VERSION, SV_LOG_INFO,
};
use crate::model::{FitRequest, SampleOptions, Synthesizer};
use crate::table::{PublicSchema, Table};

/// A fitted model: immutable and shareable. Sampling from one model on several threads at
/// once is safe and gives the same rows as sampling one call after another.
/// `sv_model_clone` makes a second handle to the same model (cheap).
pub struct sv_model {
    pub(crate) model: Arc<Synthesizer>,
}

/// Options of `sv_fit` and `sv_fine_tune`: the common settings as fields, any other option
/// of the fit request in `extra_json`. Initialise with `sv_fit_options_init`, then set fields.
/// A field left at its initial value (0 or NULL) takes the engine's default; the defaults and
/// every rule live in the engine, which names the option at fault in its message.
#[repr(C)]
pub struct sv_fit_options {
    /// `sizeof(sv_fit_options)`, set by `sv_fit_options_init`; a smaller value is refused.
    pub struct_size: usize,
    /// Target column (NUL-terminated) or NULL. A categorical target conditions generation.
    /// `sv_fine_tune` keeps the model's target: NULL or the same name.
    pub target: *const c_char,
    /// Training steps, or with "epochs" the most (0: the default; a fit without DP runs 500
    /// epochs of its rows, at most 4000 steps; a private fit 4000 steps; a fine-tuning 200
    /// epochs, at most 1000 steps).
    pub steps: u64,
    /// Rows per step (0: the default, 1024).
    pub batch_size: u64,
    /// Initial learning rate, decayed linearly to 0 (0: the default, 0.002 for a fit and
    /// 0.001 for a fine-tuning).
    pub learning_rate: f64,
    /// Seed: the same seed gives the same model (except the DP noise, from the OS).
    pub seed: u64,
    /// Threads for the call (0: all cores).
    pub threads: u32,
    /// Privacy budget ε; 0 fits without differential privacy.
    pub epsilon: f64,
    /// δ of a private fit (0: the default, 1e-5).
    pub delta: f64,
    /// A public schema as JSON (what `synthvol schema` writes): required for a private fit;
    /// without DP it declares level sets and bounds. NULL for none. Not for `sv_fine_tune`.
    pub schema_json: *const c_char,
    /// Other options of the fit request as a JSON object, or NULL: "layers" (array of
    /// widths; default [512, 512], [256, 256] for a fit without DP on fewer than 8192 rows, [64, 64] when those rows encode to at most 12 numeric values and levels), "smoothing" (a fit without DP: the bandwidth of one smoothed copy of each row trained on beside it, 0 to 10; default 0, none; not under DP or for a fine-tuning), "timesteps" (default 200; 20 for a private fit), "time_dim", "weight_decay",
    /// "ema_rate", "device" ("auto", "cpu", "cuda:N"), "precision" ("input": numbers at the
    /// training values' decimals, the default; "full"), "holdout" (share of the rows held out
    /// to choose the steps by early stopping; default 0, off; not under DP), "epochs"
    /// (steps from passes over the rows, at most "steps"; default without DP when "steps" is
    /// not set: 500 for a fit, 200 for a fine-tuning; not for a new private fit), "trainable" (fine-tuning: "all", "head" or "biases"; default
    /// "all", "biases" under DP), "calibrate" (match the level frequencies to the rows'
    /// counts after training, noisy counts under DP: a fine-tuning, default true under DP, or
    /// a private fit, default false), and for private fits "max_grad_norm",
    /// "sample_rate", "augment", "preprocessing_share" (default 0.1; 0.3 for a new fit below 10,000 rows), "categorical_weight", "quantile_map"
    /// (a new private fit: map the numeric output onto the noisy quantiles after training;
    /// post-processing; default true), "pair_share" (a new private fit with a categorical
    /// target: the share of ε spent on the target's pair counts with every other column,
    /// which sampling rakes to; default 0.4 below 10,000 rows, else 0), "noise_seed" (test
    /// only). The fields above may also be given here by their request names
    /// ("target", "steps", "batch_size", "lr", "seed", "threads", "epsilon", "delta",
    /// "schema"), but not both here and in a field. An unknown key is an error.
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
                delta: 0.0,
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

/// The fit request the options stand for (checked by the engine, not here).
fn request(o: *const sv_fit_options) -> FfiResult<FitRequest> {
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
    let extra = match opt_str_arg(o.extra_json, "options.extra_json")? {
        Some(text) => FitRequest::from_json_as(text, "options.extra_json")?,
        None => FitRequest::default(),
    };
    let big = |v: u64, field: &str| {
        usize::try_from(v).map_err(|_| Failure::invalid(format!("options.{field} is too large")))
    };
    let schema = opt_str_arg(o.schema_json, "options.schema_json")?
        .map(PublicSchema::from_json)
        .transpose()
        .map_err(|e| Failure::from(e).prefixed("options.schema_json: "))?;
    let fields = FitRequest {
        target: opt_str_arg(o.target, "options.target")?.map(String::from),
        steps: (o.steps > 0).then(|| big(o.steps, "steps")).transpose()?,
        batch_size: (o.batch_size > 0)
            .then(|| big(o.batch_size, "batch_size"))
            .transpose()?,
        lr: (o.learning_rate != 0.0).then_some(o.learning_rate),
        seed: (o.seed != 0).then_some(o.seed),
        threads: (o.threads != 0).then_some(o.threads as usize),
        epsilon: (o.epsilon != 0.0).then_some(o.epsilon),
        delta: (o.delta != 0.0).then_some(o.delta),
        schema,
        ..FitRequest::default()
    };
    let req = fields.merge(&extra, "the options' fields", "options.extra_json")?;
    Ok(req)
}

impl Failure {
    fn prefixed(mut self, p: &str) -> Self {
        self.message = format!("{p}{}", self.message);
        self
    }
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
        let req = request(options)?;
        let mut cb = progress_adapter(progress, user, cancel);
        let model = Synthesizer::fit(table, &req, &mut cb)?;
        put_model(out, model);
        Ok(())
    })
}

/// Fine-tunes `pretrained` on `data` (columns and levels matched by name and label) into a new
/// model `*out`; `pretrained` is unchanged. The network's shape comes from `pretrained`; of
/// `options` the steps, batch size, learning rate, seed, threads, privacy settings and
/// "weight_decay"/"ema_rate"/"holdout"/"epochs"/"trainable"/"calibrate" apply (without "steps"
/// and without DP, the steps are 200 epochs of `data`, at most 1000; under DP the default
/// trains the biases and the label embedding only and calibrates the level frequencies to
/// noisy counts from 0.7 of ε). Levels the model lacks extend it without DP (a
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
        let req = request(options)?;
        let mut cb = progress_adapter(progress, user, cancel);
        let (model, notices) = pre.fine_tune(table, &req, &mut cb)?;
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

fn sample_options(json: *const c_char) -> FfiResult<SampleOptions> {
    Ok(match opt_str_arg(json, "options_json")? {
        Some(text) => crate::options::from_json(text, "options_json")?,
        None => SampleOptions::default(),
    })
}

/// Draws rows `start` to `start + count - 1` of the sample of `model` with `seed` into a new
/// table `*out` (free with `sv_table_free`). Row r is the same whatever the batch size, the
/// thread count and the range: the tables of consecutive ranges, stacked, are the table of one
/// range over them all (`sv_sample` is the range from row 0). `options_json` (may be NULL):
/// "threads" (0: all cores), "device" ("auto", "cpu", "cuda:N"), "batch_size" (rows denoised
/// together; speed and memory only), "labels" (the target's class per row, by label, for a
/// model with a categorical target), "label" (one class for every row; not with "labels");
/// a private model with target pairs rakes its drawn rows to them (each 256-row block chosen
/// from four of the network's), but rows of given classes come as the network makes them;
/// an unknown key is an error. The whole range is held in
/// memory: `sv_sample_stream` is for large volumes. Progress and cancellation as `sv_fit`.
#[no_mangle]
pub extern "C" fn sv_sample_range(
    model: *const sv_model,
    seed: u64,
    start: u64,
    count: usize,
    options_json: *const c_char,
    progress: sv_progress_fn,
    user: *mut c_void,
    cancel: *const sv_cancel,
    out: *mut *mut sv_table,
) -> sv_status {
    guard(|| {
        let m = model_ref(model)?;
        check_out(out, "out")?;
        let opts = sample_options(options_json)?;
        let mut cb = progress_adapter(progress, user, cancel);
        let table = m.sample_range(start, count, seed, &opts, &mut cb)?;
        put(out, sv_table { table });
        Ok(())
    })
}

/// Receives the rows of `sv_sample_stream` a block at a time: `rows` is borrowed for the call
/// only (copy what you keep). Return 0 to go on; anything else stops the sampling, which then
/// returns `SV_E_CANCELLED`. Called on the thread that called `sv_sample_stream`, in row
/// order.
pub type sv_rows_fn = Option<unsafe extern "C" fn(user: *mut c_void, rows: *const sv_table) -> i32>;

/// As `sv_sample_range`, for any number of rows: instead of one table, `sink` receives the rows
/// in order, a few blocks at a time, while they are made, so memory stays bounded by the rows
/// in flight ("batch_size") whatever `count` is. Progress and cancellation as `sv_fit`.
#[no_mangle]
pub extern "C" fn sv_sample_stream(
    model: *const sv_model,
    seed: u64,
    start: u64,
    count: u64,
    options_json: *const c_char,
    sink: sv_rows_fn,
    sink_user: *mut c_void,
    progress: sv_progress_fn,
    user: *mut c_void,
    cancel: *const sv_cancel,
) -> sv_status {
    guard(|| {
        let m = model_ref(model)?;
        let Some(f) = sink else {
            return Err(Failure::null("sink"));
        };
        let opts = sample_options(options_json)?;
        let mut cb = progress_adapter(progress, user, cancel);
        let mut on_rows = |t: &Table| -> crate::error::Result<()> {
            let borrowed = sv_table { table: t.clone() };
            // SAFETY: the caller's callback with a live, borrowed table.
            let rc = unsafe { f(sink_user, &borrowed) };
            if rc == 0 {
                Ok(())
            } else {
                Err(crate::error::Error::cancelled())
            }
        };
        m.sample_stream(start, count, seed, &opts, &mut cb, &mut on_rows)?;
        Ok(())
    })
}

/// The rows of shard `i` of `k` of a sample of `rows` rows: `*start` and `*count` for
/// `sv_sample_range` or `sv_sample_stream`. Shards 0..k-1 cover the rows once, in order, so
/// `k` processes (a Slurm job array, a Spark job) make exactly one run's rows.
#[no_mangle]
pub extern "C" fn sv_shard_range(
    rows: u64,
    i: u64,
    k: u64,
    start: *mut u64,
    count: *mut u64,
) -> sv_status {
    guard(|| {
        check_out(start, "start")?;
        check_out(count, "count")?;
        let (lo, hi) = crate::model::shard_range(rows, i, k)?;
        // SAFETY: checked out-pointers.
        unsafe {
            *start = lo;
            *count = hi - lo;
        }
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
        let mut v = m.info_json();
        v["versions"]["abi"] = json!(SV_ABI_VERSION);
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
