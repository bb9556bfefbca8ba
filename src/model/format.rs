//! The model file: a magic number, a format version, a JSON header (schema, encoder, network
//! shape, training record), the weights as little-endian f32, and a CRC-32 of everything
//! before it. A truncated, corrupted, foreign or future-version file is an error that says so.

use serde::{Deserialize, Serialize};

use super::{Synthesizer, TargetPairs, TrainingRecord};
use crate::encode::Encoder;
use crate::error::{Error, Result};
use crate::limits::{MAX_LAYERS, MAX_TIMESTEPS, MAX_WIDTH};
use crate::nn::{Denoiser, DenoiserConfig};

const MAGIC: &[u8; 8] = b"SYNTHVOL";
/// The format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 3;
const FIXED: usize = 8 + 4 + 4 + 8;

#[derive(Serialize, Deserialize)]
struct Header {
    encoder: Encoder,
    net: DenoiserConfig,
    timesteps: usize,
    record: TrainingRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pairs: Option<TargetPairs>,
}

impl Synthesizer {
    /// The model as bytes (what `save` writes).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = Header {
            encoder: self.encoder.clone(),
            net: self.net.clone(),
            timesteps: self.timesteps,
            record: self.record.clone(),
            pairs: self.pairs.clone(),
        };
        let json = serde_json::to_vec(&header)
            .map_err(|e| Error::format(format!("cannot serialise the model: {e}")))?;
        let mut out = Vec::with_capacity(FIXED + json.len() + 8 + 4 * self.weights.len() + 4);
        out.extend_from_slice(MAGIC);
        // A model that samples by target pairs needs a reader that knows them: an older build
        // would ignore the field and sample other rows without a word.
        let version = if self.pairs.is_some() {
            FORMAT_VERSION
        } else {
            2
        };
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        out.extend_from_slice(&(self.weights.len() as u64).to_le_bytes());
        for w in &self.weights {
            out.extend_from_slice(&w.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    /// Reads a model from bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Synthesizer> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(Error::format(
                "not a synthvol model (the magic number is missing)",
            ));
        }
        if bytes.len() < FIXED {
            return Err(Error::format(
                "the model is truncated (shorter than its fixed header)",
            ));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version > FORMAT_VERSION {
            return Err(Error::format(format!(
                "the model uses format version {version}, written by a newer synthvol; this build ({}) reads versions up to {FORMAT_VERSION}",
                env!("CARGO_PKG_VERSION")
            )));
        }
        if version == 0 {
            return Err(Error::format(
                "the model declares format version 0, which does not exist",
            ));
        }
        let hlen = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
        let truncated = || Error::format("the model is truncated");
        // Every size read from the file is checked against the file's length without overflow
        // (a fuzzer found the sum of a huge header length and 8 wrapping around).
        let len = bytes.len() as u64;
        let hend = (FIXED as u64)
            .checked_add(hlen)
            .filter(|&e| e.checked_add(8).is_some_and(|x| x <= len))
            .ok_or_else(truncated)? as usize;
        let nw = u64::from_le_bytes(bytes[hend..hend + 8].try_into().expect("8 bytes"));
        let wend = nw
            .checked_mul(4)
            .and_then(|b| b.checked_add(hend as u64 + 8))
            .filter(|&w| w.checked_add(4).is_some_and(|x| x <= len))
            .ok_or_else(truncated)? as usize;
        if wend + 4 != bytes.len() {
            return Err(Error::format(
                "the model has trailing bytes after its checksum",
            ));
        }
        let stored = u32::from_le_bytes(bytes[wend..wend + 4].try_into().expect("4 bytes"));
        if crc32fast::hash(&bytes[..wend]) != stored {
            return Err(Error::format("the model is corrupted (checksum mismatch)"));
        }
        let header: Header = serde_json::from_slice(&bytes[FIXED..hend])
            .map_err(|e| Error::format(format!("the model's header is invalid: {e}")))?;
        let weights: Vec<f32> = bytes[hend + 8..wend]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        header.encoder.validate()?;
        // The shape sets allocations: bounded as a fit bounds it, before anything is built.
        let n = &header.net;
        if n.layers.is_empty()
            || n.layers.len() > MAX_LAYERS
            || n.layers.iter().any(|&w| w == 0 || w > MAX_WIDTH)
            || n.dim_t < 2
            || n.dim_t % 2 == 1
            || n.dim_t > MAX_WIDTH
            || n.d_in != header.encoder.width()
            || n.n_classes != header.encoder.n_classes()
        {
            return Err(Error::format("the model's network shape is invalid"));
        }
        if !(2..=MAX_TIMESTEPS).contains(&header.timesteps) {
            return Err(Error::format(format!(
                "the model's number of diffusion steps ({}) is outside 2 to {MAX_TIMESTEPS}",
                header.timesteps
            )));
        }
        if let Some(p) = &header.pairs {
            p.validate(&header.encoder.schema)?;
        }
        let net = Denoiser::new(header.net.clone());
        if net.n_params != weights.len() {
            return Err(Error::format(
                "the model is inconsistent (weights do not match its network shape)",
            ));
        }
        if weights.iter().any(|w| !w.is_finite()) {
            return Err(Error::format(
                "the model's weights contain non-finite values",
            ));
        }
        Ok(Synthesizer {
            encoder: header.encoder,
            net: header.net,
            timesteps: header.timesteps,
            weights,
            record: header.record,
            pairs: header.pairs,
        })
    }

    /// Writes the model to a file whole or not at all (a temporary file beside it, renamed
    /// when complete; see [`crate::files`]).
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        crate::files::write_atomic(path, &self.to_bytes()?)
    }

    /// Reads a model from a file.
    pub fn load(path: &std::path::Path) -> Result<Synthesizer> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
        Synthesizer::from_bytes(&bytes)
            .map_err(|e| Error::new(e.kind, format!("{}: {}", path.display(), e.message)))
    }
}
