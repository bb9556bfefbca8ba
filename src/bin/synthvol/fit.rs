//! `synthvol fit` (a new fit, or a fine-tuning with --init) and `synthvol schema`.

use std::path::{Path, PathBuf};

use clap::Args;

use synthvol::model::{FitRequest, Synthesizer};
use synthvol::table::PublicSchema;
use synthvol::{Error, Result};

use super::output::{check_outputs, progress_bar, write_text};
use super::ColumnTypes;

/// The training options of a fit request (the engine fills what is not given).
#[derive(Args)]
pub struct TrainingArgs {
    /// Training steps, or with --epochs the most [default: 500 epochs of the rows, at most
    /// 4000 steps; private fits: 4000; fine-tuning: 200 epochs, at most 1000].
    #[arg(long)]
    steps: Option<usize>,
    /// Rows per training step [default: 1024].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Widths of the denoiser's hidden layers, comma-separated [default: 512,512; a fit
    /// without DP on fewer than 8192 rows: 256,256, or 64,64 when its rows have at most 12
    /// numeric values and levels].
    #[arg(long, value_delimiter = ',')]
    layers: Option<Vec<usize>>,
    /// Number of diffusion steps T [default: 200; private fits: 20, which learns better under
    /// DP-SGD's noise].
    #[arg(long)]
    timesteps: Option<usize>,
    /// Width of the time embedding and of the first hidden layer [default: 128].
    #[arg(long)]
    time_dim: Option<usize>,
    /// Initial learning rate, decayed linearly to 0 [default: 0.002; fine-tuning: 0.001].
    #[arg(long)]
    lr: Option<f64>,
    /// AdamW weight decay [default: 0.0001].
    #[arg(long)]
    weight_decay: Option<f64>,
    /// EMA rate of the sampling weights [default: 0.999].
    #[arg(long)]
    ema_rate: Option<f64>,
    /// Share of the rows held out to choose the steps by their validation loss (early
    /// stopping; --steps is then the most), then retrain on every row [default: 0, off; not
    /// under DP].
    #[arg(long)]
    holdout: Option<f64>,
    /// Set the steps from this many passes over the rows (at most --steps; not for a new
    /// private fit) [default without --steps and without DP: 500; fine-tuning: 200].
    #[arg(long)]
    epochs: Option<f64>,
    /// Fine-tuning: the parameters trained, the others kept as pre-trained: all, head (the
    /// output head, every bias and the label embedding) or biases [default: all; biases under
    /// DP].
    #[arg(long, value_parser = ["all", "head", "biases"])]
    trainable: Option<String>,
    /// Match the model's level frequencies to the rows' counts after training: a fine-tuning's
    /// (under DP noisy counts from the preprocessing share) or a private fit's noisy counts
    /// [default: true for a private fine-tuning, false otherwise].
    #[arg(long)]
    calibrate: Option<bool>,
    /// Random seed [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Threads [default: 0, all cores].
    #[arg(long)]
    threads: Option<usize>,
    /// Where to train: auto, cpu or cuda:N [default: auto].
    #[arg(long)]
    device: Option<String>,
    /// Generated numbers at the decimals of the training values (input) or at full precision
    /// (full) [default: input; full for a private fit].
    #[arg(long, value_parser = ["input", "full"])]
    precision: Option<String>,
    /// A new fit without DP: also train on one smoothed copy of each row, its numeric values
    /// moved within the spread its label, numeric target and categorical cells leave, by this
    /// bandwidth (0 to 10; 0: none; the copies count in the epoch budget) [default: 0].
    #[arg(long)]
    smoothing: Option<f64>,
}

/// The privacy options of a fit request.
#[derive(Args)]
pub struct DpArgs {
    /// Fit under (ε, δ)-differential privacy with this ε (a new fit needs --schema).
    #[arg(long)]
    epsilon: Option<f64>,
    /// δ of the privacy guarantee [default: 1e-5].
    #[arg(long)]
    delta: Option<f64>,
    /// The public schema (levels, bounds, missingness): required for a private fit; without
    /// --epsilon it declares the level sets and bounds of a non-private fit.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Clipping norm C of each row's gradient [default: 1].
    #[arg(long)]
    max_grad_norm: Option<f64>,
    /// Poisson sampling rate q [default: batch size / rows].
    #[arg(long)]
    sample_rate: Option<f64>,
    /// Draws per row and step (augmentation multiplicity K) [default: 1].
    #[arg(long)]
    augment: Option<usize>,
    /// Share of ε spent on the noisy preprocessing statistics [default: 0.1; 0.3 for a new
    /// private fit on fewer than 10,000 rows; 0.7 for a private fine-tuning that calibrates].
    #[arg(long)]
    preprocessing_share: Option<f64>,
    /// Weight of the categorical part of the loss under DP (clipping otherwise lets the
    /// numeric part crowd it out) [default: 20].
    #[arg(long)]
    categorical_weight: Option<f64>,
    /// A new private fit: map each numeric column's output onto the quantiles of its noisy
    /// histogram after training, so that its generated marginal is the released one
    /// (post-processing, no privacy cost) [default: true].
    #[arg(long)]
    quantile_map: Option<bool>,
    /// A new private fit with a categorical --target: the share of ε spent on the target's
    /// pair counts with every other column, which sampling rakes to (0: none) [default: 0.4
    /// below 10,000 rows, else 0].
    #[arg(long)]
    pair_share: Option<f64>,
    /// TEST ONLY: fix the mechanism's randomness (the model records it; no privacy against
    /// anyone who knows the seed).
    #[arg(long)]
    noise_seed: Option<u64>,
}

#[derive(Args)]
pub struct FitArgs {
    /// Training data (CSV with a header; .csv.gz accepted).
    #[arg(long)]
    data: PathBuf,
    /// Column to condition generation on (categorical) or to learn as an outcome.
    #[arg(long)]
    target: Option<String>,
    /// Fine-tune this pre-trained model on --data instead of fitting a new one (columns and
    /// levels matched by name; the model's network shape, diffusion steps and target are kept).
    #[arg(long)]
    init: Option<PathBuf>,
    #[command(flatten)]
    training: TrainingArgs,
    #[command(flatten)]
    types: ColumnTypes,
    #[command(flatten)]
    dp: DpArgs,
    /// A fit request as a JSON file: any option by its key, as the C ABI and the R package
    /// take them ("steps", "layers", "epsilon", "schema", ...); an option given here and as a
    /// flag is an error.
    #[arg(long)]
    request: Option<PathBuf>,
    /// Where to write the model.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
pub struct SchemaArgs {
    /// The data file.
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    types: ColumnTypes,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn read_schema(path: &Path) -> Result<PublicSchema> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))?;
    PublicSchema::from_json(&text)
        .map_err(|e| Error::new(e.kind, format!("{}: {}", path.display(), e.message)))
}

impl FitArgs {
    /// The fit request these arguments state.
    fn request(&self) -> Result<FitRequest> {
        let (t, d) = (&self.training, &self.dp);
        let flags = FitRequest {
            target: self.target.clone(),
            steps: t.steps,
            batch_size: t.batch_size,
            layers: t.layers.clone(),
            timesteps: t.timesteps,
            time_dim: t.time_dim,
            lr: t.lr,
            weight_decay: t.weight_decay,
            ema_rate: t.ema_rate,
            holdout: t.holdout,
            epochs: t.epochs,
            trainable: t
                .trainable
                .as_deref()
                .map(synthvol::model::Trainable::parse)
                .transpose()
                .map_err(|e| Error::invalid(format!("--trainable: {e}")))?,
            calibrate: t.calibrate,
            seed: t.seed,
            threads: t.threads,
            device: super::device(&t.device)?,
            precision: t
                .precision
                .as_deref()
                .map(|p| serde_json::from_value(serde_json::Value::String(p.into())))
                .transpose()
                .map_err(|e| Error::invalid(format!("--precision: {e}")))?,
            smoothing: t.smoothing,
            epsilon: d.epsilon,
            delta: d.delta,
            max_grad_norm: d.max_grad_norm,
            sample_rate: d.sample_rate,
            augment: d.augment,
            preprocessing_share: d.preprocessing_share,
            categorical_weight: d.categorical_weight,
            quantile_map: d.quantile_map,
            pair_share: d.pair_share,
            noise_seed: d.noise_seed,
            schema: d.schema.as_deref().map(read_schema).transpose()?,
            annotations: None,
        };
        let Some(path) = &self.request else {
            return Ok(flags);
        };
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))?;
        let file = FitRequest::from_json_as(&text, &path.display().to_string())?;
        flags.merge(&file, "the flags", &path.display().to_string())
    }
}

pub fn fit(a: FitArgs) -> Result<()> {
    let mut inputs: Vec<(&str, &Path)> = vec![("data", &a.data)];
    if let Some(p) = &a.init {
        inputs.push(("pre-trained model", p));
    }
    if let Some(p) = &a.dp.schema {
        inputs.push(("schema", p));
    }
    if let Some(p) = &a.request {
        inputs.push(("request", p));
    }
    check_outputs(std::slice::from_ref(&a.out), &inputs)?;
    let request = a.request()?;
    // Check the options before reading a large file.
    if a.init.is_none() {
        request.check()?;
    }
    let table = a.types.read(&a.data)?;
    if let Some(init) = &a.init {
        let pre = Synthesizer::load(init)?;
        eprintln!(
            "fine-tuning {} on {} rows × {} columns from {}",
            init.display(),
            table.n_rows(),
            table.n_cols(),
            a.data.display()
        );
        let (model, notices) = pre.fine_tune(&table, &request, &mut progress_bar())?;
        for n in &notices {
            eprintln!("note: {n}");
        }
        model.save(&a.out)?;
        let rec = model
            .record()
            .fine_tuning
            .last()
            .ok_or_else(|| Error::invalid("a fine-tuning without a record"))?;
        match &rec.privacy {
            Some(p) => eprintln!(
                "fine-tuned in {:.1} s under ({:.4}, {:e})-DP with respect to the fine-tuning rows (σ = {:.3}, q = {:.4}, {} steps); model written to {}",
                rec.seconds, p.epsilon, p.delta, p.noise_multiplier, p.sample_rate, p.steps, a.out.display()
            ),
            None => {
                let last = rec.loss_history.last().map_or(f64::NAN, |l| l.1);
                eprintln!("fine-tuned in {:.1} s (final loss {last:.4}); model written to {}", rec.seconds, a.out.display());
            }
        }
        return Ok(());
    }
    eprintln!(
        "fitting on {} rows × {} columns from {}",
        table.n_rows(),
        table.n_cols(),
        a.data.display()
    );
    let model = Synthesizer::fit(&table, &request, &mut progress_bar())?;
    model.save(&a.out)?;
    let r = model.record();
    match &r.privacy {
        Some(p) => eprintln!(
            "fitted in {:.1} s under ({:.4}, {:e})-DP (σ = {:.3}, q = {:.4}, {} steps); model written to {}",
            r.seconds, p.epsilon, p.delta, p.noise_multiplier, p.sample_rate, p.steps, a.out.display()
        ),
        None => {
            let last = r.loss_history.last().map_or(f64::NAN, |l| l.1);
            eprintln!(
                "fitted in {:.1} s (final loss {last:.4}); model written to {}",
                r.seconds,
                a.out.display()
            );
        }
    }
    Ok(())
}

pub fn schema(a: SchemaArgs) -> Result<()> {
    if let Some(out) = &a.out {
        check_outputs(std::slice::from_ref(out), &[("data", &a.data)])?;
    }
    let table = a.types.read(&a.data)?;
    let text = PublicSchema::from_table(&table).to_json() + "\n";
    eprintln!(
        "note: the levels and bounds were read off {}; under differential privacy they must be public knowledge, so review them and replace what is not (for example with documented ranges) before a private fit",
        a.data.display()
    );
    match &a.out {
        Some(p) => write_text(&text, p),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
