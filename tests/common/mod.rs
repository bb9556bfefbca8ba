//! Shared fixtures for the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use synthvol::model::{FitOptions, FitRequest, Synthesizer};
use synthvol::progress::Progress;
use synthvol::table::{ColumnData, ColumnKind, ColumnSpec, Schema, Table, MISSING};

/// A seeded stream of uniforms and normals for test data (an LCG: good enough for fixtures,
/// and the same on every platform).
pub struct Lcg(pub u64);

impl Lcg {
    /// Uniform in (0, 1).
    pub fn u(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller, one of the pair).
    pub fn normal(&mut self) -> f64 {
        (-2.0 * self.u().ln()).sqrt() * (std::f64::consts::TAU * self.u()).cos()
    }
}

/// A numeric (non-integer) column spec.
pub fn num(name: &str) -> ColumnSpec {
    ColumnSpec {
        name: name.into(),
        kind: ColumnKind::Numeric { integer: false },
    }
}

/// A categorical column spec with these levels.
pub fn cat(name: &str, levels: &[&str]) -> ColumnSpec {
    ColumnSpec {
        name: name.into(),
        kind: ColumnKind::Categorical {
            levels: levels.iter().map(|l| l.to_string()).collect(),
        },
    }
}

/// A small mixed table: a normal column, an integer column with few values, a skewed column
/// with 10% missing, a categorical column with missing values, and a binary target.
pub fn mixed_table(n: usize, seed: u64) -> Table {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut u = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let (mut a, mut b, mut c, mut d, mut y) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let z = (-2.0 * u().ln()).sqrt() * (std::f64::consts::TAU * u()).cos();
        a.push(10.0 + 3.0 * z);
        b.push((u() * 5.0).floor());
        c.push(if u() < 0.1 {
            f64::NAN
        } else {
            (u() * 3.0).exp()
        });
        d.push(if u() < 0.05 {
            MISSING
        } else if z > 0.5 {
            0
        } else {
            (u() * 3.0) as u32
        });
        y.push((z + 0.5 * (u() - 0.5) > 0.0) as u32);
    }
    let schema = Schema {
        columns: vec![
            ColumnSpec {
                name: "a".into(),
                kind: ColumnKind::Numeric { integer: false },
            },
            ColumnSpec {
                name: "b".into(),
                kind: ColumnKind::Numeric { integer: true },
            },
            ColumnSpec {
                name: "c".into(),
                kind: ColumnKind::Numeric { integer: false },
            },
            ColumnSpec {
                name: "d".into(),
                kind: ColumnKind::Categorical {
                    levels: vec!["x".into(), "y".into(), "z".into()],
                },
            },
            ColumnSpec {
                name: "y".into(),
                kind: ColumnKind::Categorical {
                    levels: vec!["no".into(), "yes".into()],
                },
            },
        ],
    };
    Table::new(
        schema,
        vec![
            ColumnData::Numeric(a),
            ColumnData::Numeric(b),
            ColumnData::Numeric(c),
            ColumnData::Categorical(d),
            ColumnData::Categorical(y),
        ],
    )
    .expect("valid table")
}

/// Small, fast training settings.
pub fn quick_options(threads: usize) -> FitOptions {
    let mut o = FitOptions {
        target: Some("y".into()),
        layers: vec![32, 32],
        dim_t: 16,
        timesteps: 20,
        seed: 7,
        threads,
        ..FitOptions::default()
    };
    o.optim.steps = 40;
    o.optim.batch_size = 64;
    o
}

pub fn no_progress() -> impl FnMut(&Progress) -> bool {
    |_: &Progress| true
}

pub fn fit(table: &Table, opts: &FitOptions) -> Synthesizer {
    Synthesizer::fit(table, &FitRequest::from_options(opts), &mut no_progress()).expect("fit")
}

/// Runs a program: its status and its stdout and stderr together.
pub fn output(cmd: &mut Command, what: &str) -> (Output, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e} (run ./scripts/bootstrap)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

/// Runs a program that must succeed; its stdout and stderr together.
pub fn run(cmd: &mut Command, what: &str) -> String {
    let (out, text) = output(cmd, what);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

/// `n` rows of a small ward table in `dir/data.csv` (age, ward, stay, outcome) and the schema
/// the CLI writes for it in `dir/schema.json`, for the example programs.
pub fn ward_data(dir: &Path, n: u32) -> (PathBuf, PathBuf) {
    let csv = dir.join("data.csv");
    let mut text = String::from("age,ward,stay,outcome\n");
    for i in 0..n {
        text += &format!(
            "{},{},{},{}\n",
            20 + (i * 37) % 60,
            ["surgery", "medicine", "icu"][(i % 3) as usize],
            1 + (i * 7) % 20,
            if (i * 13) % 5 < 2 {
                "readmitted"
            } else {
                "home"
            }
        );
    }
    std::fs::write(&csv, text).unwrap();
    let schema = dir.join("schema.json");
    run(
        Command::new(env!("CARGO_BIN_EXE_synthvol"))
            .args(["schema", "--data"])
            .arg(&csv)
            .arg("--out")
            .arg(&schema),
        "synthvol schema",
    );
    (csv, schema)
}
