//! Calibration of a model's categorical frequencies to released counts.
//!
//! The multinomial diffusion draws each categorical level from the softmax of the head's
//! outputs, so a shift of one output's bias shifts that level's frequency in every sample.
//! Calibration samples the model, compares each categorical block's frequencies with the
//! target counts, and moves the block's output biases by the log ratio, for a few rounds
//! (raking in logit space). It reads only the model and the counts: given noisy counts
//! released under DP, it is post-processing and costs no privacy. Unlike reweighting sampled
//! rows, it can give mass to a level that the model nearly never draws (a pre-trained model
//! fine-tuned on a group that pre-training lacked).

use serde::{Deserialize, Serialize};

use super::{SampleOptions, Synthesizer};
use crate::encode::{BlockSource, Encoder};
use crate::error::{Error, Result};
use crate::nn::Denoiser;
use crate::progress::ProgressFn;
use crate::table::{ColumnData, Table, MISSING};

/// The most rounds of calibration: the frequencies usually settle within sampling noise after
/// a few; calibration stops earlier once every level is within [`CALIBRATION_TOLERANCE`].
pub const CALIBRATION_ROUNDS: usize = 10;

/// The largest level-frequency error at which calibration stops (about three standard errors
/// of a frequency near 0.5 in [`CALIBRATION_ROWS`] rows).
pub const CALIBRATION_TOLERANCE: f64 = 0.02;

/// Rows sampled per round: a level's frequency is then known to about ±0.7 points.
pub const CALIBRATION_ROWS: usize = 4096;

/// The largest change of one output bias in one round: a model that never drew a level may
/// hold its logit tens of units below the others', but one round's jump is bounded so that
/// the rounds converge rather than overshoot.
const MAX_SHIFT: f64 = 8.0;

/// The largest multiple of the log ratio one step takes.
const MAX_FACTOR: f64 = 8.0;

/// What a calibration did, as the model records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationRecord {
    /// "released counts" (the fine-tuning's noisy counts) or the caller's description.
    pub source: String,
    /// Rounds run (each samples, compares, shifts).
    pub rounds: usize,
    pub rows_per_round: usize,
    /// The largest difference between a level's frequency and its target in the first
    /// round's sample and in the last.
    pub max_error_before: f64,
    pub max_error_after: f64,
    /// The counts matched, per categorical block (under DP the released noisy counts, which
    /// are public by then).
    #[serde(default)]
    pub counts: Vec<Vec<f64>>,
}

/// Each categorical block's level counts in `table` (in the encoder's schema): a column's
/// levels with "missing" last where the block has it; a missing indicator's (present,
/// missing).
pub(crate) fn block_counts(encoder: &Encoder, table: &Table) -> Vec<Vec<f64>> {
    encoder
        .blocks
        .iter()
        .map(|b| {
            let mut c = vec![0.0; b.size];
            match (&b.source, table.columns()) {
                (&BlockSource::Column { column, .. }, cols) => {
                    if let ColumnData::Categorical(v) = &cols[column] {
                        for &x in v {
                            let i = if x == MISSING { b.size - 1 } else { x as usize };
                            if i < b.size {
                                c[i] += 1.0;
                            }
                        }
                    }
                }
                (&BlockSource::MissingIndicator { column }, cols) => {
                    if let ColumnData::Numeric(v) = &cols[column] {
                        for &x in v {
                            c[x.is_nan() as usize] += 1.0;
                        }
                    }
                }
            }
            c
        })
        .collect()
}

/// Shares from counts: negative counts (noise) are zero; a block without signal is `None`.
fn shares(counts: &[f64]) -> Option<Vec<f64>> {
    let c: Vec<f64> = counts.iter().map(|&x| x.max(0.0)).collect();
    let total: f64 = c.iter().sum();
    (total > 0.0 && total.is_finite()).then(|| c.iter().map(|x| x / total).collect())
}

/// The largest |share − target| over the blocks with a target.
fn max_error(got: &[Vec<f64>], targets: &[Option<Vec<f64>>]) -> f64 {
    got.iter()
        .zip(targets)
        .filter_map(|(g, t)| t.as_ref().map(|t| (g, t)))
        .flat_map(|(g, t)| {
            let total: f64 = g.iter().sum::<f64>().max(1.0);
            g.iter()
                .zip(t)
                .map(move |(x, y)| (x / total - y).abs())
                .collect::<Vec<_>>()
        })
        .fold(0.0, f64::max)
}

impl Synthesizer {
    /// Each categorical block's level counts in `table` (matched to the model by column name
    /// and level label): what [`Synthesizer::calibrated`] takes.
    pub fn block_counts(&self, table: &Table) -> Result<Vec<Vec<f64>>> {
        Ok(block_counts(
            &self.encoder,
            &table.conform_to(self.schema())?,
        ))
    }

    /// The model with its categorical output biases moved so that its samples' level
    /// frequencies match `counts` (one vector per categorical block of the encoder, as
    /// [`Synthesizer::block_counts`] gives them; noisy counts are fine). `source` names the
    /// counts in the record. Sampling uses `opts` (threads, device) and seeds derived from
    /// `seed`.
    pub fn calibrated(
        &self,
        counts: &[Vec<f64>],
        source: &str,
        seed: u64,
        opts: &SampleOptions,
        progress: ProgressFn,
    ) -> Result<(Synthesizer, CalibrationRecord)> {
        let blocks = &self.encoder.blocks;
        if counts.len() != blocks.len() || counts.iter().zip(blocks).any(|(c, b)| c.len() != b.size)
        {
            return Err(Error::invalid(
                "calibration counts do not match the model's categorical blocks",
            ));
        }
        let targets: Vec<Option<Vec<f64>>> = counts.iter().map(|c| shares(c)).collect();
        let net = Denoiser::new(self.net.clone());
        let mut offsets = Vec::with_capacity(blocks.len());
        let mut off = net.head.b + self.encoder.n_numeric();
        for b in blocks {
            offsets.push(off);
            off += b.size;
        }
        let mut model = self.clone();
        let opts = SampleOptions {
            label: None,
            labels: None,
            ..opts.clone()
        };
        let mut first = f64::NAN;
        let mut rounds = 0;
        // Per block and level: the last step's factor and the side of the target it was on.
        let mut last: Vec<Vec<(f64, f64)>> =
            blocks.iter().map(|b| vec![(0.5, 0.0); b.size]).collect();
        let mut after = f64::NAN;
        for round in 0..=CALIBRATION_ROUNDS {
            let rows = model.sample(
                CALIBRATION_ROWS,
                seed ^ (0xCA1 + round as u64),
                &opts,
                &mut *progress,
            )?;
            let got = block_counts(&model.encoder, &rows);
            after = max_error(&got, &targets);
            if round == 0 {
                first = after;
            }
            if after <= CALIBRATION_TOLERANCE || round == CALIBRATION_ROUNDS {
                break;
            }
            rounds += 1;
            for (b, ((g, t), &o)) in got.iter().zip(&targets).zip(&offsets).enumerate() {
                let Some(t) = t else { continue };
                let total: f64 = g.iter().sum::<f64>().max(1.0);
                // Half a row of smoothing keeps the log finite for a level never drawn or
                // never wanted.
                let a = 0.5 / total;
                for (l, (&gl, &tl)) in g.iter().zip(t).enumerate() {
                    let ratio = ((tl + a) / (gl / total + a)).ln();
                    // The log ratio is raking's step in logit space; the diffusion passes on
                    // only part of a shift, so a level still on the same side of its target
                    // doubles its step (up to 8×), and one that crossed starts again at 1×.
                    let (factor, side) = last[b][l];
                    let factor = if side * ratio > 0.0 {
                        (factor * 2.0).min(MAX_FACTOR)
                    } else {
                        1.0
                    };
                    let shift = (factor * ratio).clamp(-MAX_SHIFT, MAX_SHIFT);
                    model.weights[o + l] += shift as f32;
                    last[b][l] = (factor, ratio.signum());
                }
            }
        }
        Ok((
            model,
            CalibrationRecord {
                source: source.to_string(),
                rounds,
                rows_per_round: CALIBRATION_ROWS,
                max_error_before: first,
                max_error_after: after,
                counts: counts.to_vec(),
            },
        ))
    }
}
