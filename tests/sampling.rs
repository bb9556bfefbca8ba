//! Sampling at any volume: row r is the same bytes whatever the batch size, the thread count,
//! the range or the shard that asks for it; rows stream with bounded memory; a cancelled or
//! failed sample leaves no file under its name; labels can be given.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use synthvol::model::{shard_range, SampleOptions, Synthesizer, BLOCK_ROWS};
use synthvol::table::{write_csv_to, ColumnData, Table};

fn csv(t: &Table) -> Vec<u8> {
    let mut out = Vec::new();
    write_csv_to(t, &mut out).unwrap();
    out
}

fn opts(batch: usize, threads: usize) -> SampleOptions {
    SampleOptions {
        batch_size: batch,
        threads,
        ..SampleOptions::default()
    }
}

fn model() -> Synthesizer {
    fit(&mixed_table(400, 3), &quick_options(1))
}

#[test]
fn rows_do_not_depend_on_batch_size_threads_or_range() {
    let m = model();
    let n = 700;
    let reference = m.sample(n, 9, &opts(4096, 2), &mut no_progress()).unwrap();
    for (batch, threads) in [(1, 1), (100, 2), (4096, 1), (256, 2), (1000, 1)] {
        let t = m
            .sample(n, 9, &opts(batch, threads), &mut no_progress())
            .unwrap();
        assert_eq!(
            csv(&t),
            csv(&reference),
            "batch {batch}, {threads} thread(s)"
        );
    }
    // Ranges that cut blocks anywhere concatenate to the whole.
    for cuts in [
        vec![0, 1, 255, 256, 257, 700],
        vec![0, 333, 700],
        vec![0, 699, 700],
    ] {
        let mut parts: Option<Table> = None;
        for w in cuts.windows(2) {
            let part = m
                .sample_range(
                    w[0] as u64,
                    w[1] - w[0],
                    9,
                    &opts(512, 1),
                    &mut no_progress(),
                )
                .unwrap();
            parts = Some(match parts {
                None => part,
                Some(p) => p.concat(&part).unwrap(),
            });
        }
        assert_eq!(csv(&parts.unwrap()), csv(&reference), "cuts {cuts:?}");
    }
    // Another seed gives other rows.
    let other = m.sample(n, 10, &opts(4096, 2), &mut no_progress()).unwrap();
    assert_ne!(csv(&other), csv(&reference));
    // A range far out is reachable without making the rows before it.
    let far = m
        .sample_range(1 << 40, 3, 9, &opts(64, 1), &mut no_progress())
        .unwrap();
    assert_eq!(far.n_rows(), 3);
}

#[test]
fn streams_hand_over_every_row_once_in_order_and_stop_on_a_sink_error() {
    let m = model();
    let whole = m
        .sample(1500, 4, &opts(300, 2), &mut no_progress())
        .unwrap();
    let mut got: Option<Table> = None;
    let mut chunks = 0;
    m.sample_stream(0, 1500, 4, &opts(300, 2), &mut no_progress(), &mut |t| {
        chunks += 1;
        // Bounded: at most the blocks in flight per chunk.
        assert!(t.n_rows() <= 300usize.div_ceil(BLOCK_ROWS) * BLOCK_ROWS);
        got = Some(match got.take() {
            None => t.clone(),
            Some(g) => g.concat(t).unwrap(),
        });
        Ok(())
    })
    .unwrap();
    assert!(chunks > 1);
    assert_eq!(csv(&got.unwrap()), csv(&whole));
    let e = m
        .sample_stream(0, 1500, 4, &opts(300, 2), &mut no_progress(), &mut |_| {
            Err(synthvol::Error::data("disk full"))
        })
        .unwrap_err();
    assert_eq!(e.message, "disk full", "the sink's own error comes back");
}

#[test]
fn shards_cover_the_rows_once() {
    for (rows, k) in [(10u64, 3u64), (1_000_003, 7), (5, 5)] {
        let mut next = 0;
        for i in 0..k {
            let (lo, hi) = shard_range(rows, i, k).unwrap();
            assert_eq!(lo, next);
            assert!(hi > lo);
            next = hi;
        }
        assert_eq!(next, rows);
    }
    assert!(shard_range(10, 3, 3).is_err());
    assert!(shard_range(10, 0, 0).is_err());
    assert!(shard_range(3, 0, 4).is_err());
}

#[test]
fn given_labels_are_the_rows_labels() {
    let m = model();
    let labels: Vec<String> = (0..50)
        .map(|i| ["no", "yes"][i % 3 / 2].to_string())
        .collect();
    let o = SampleOptions {
        labels: Some(labels.clone()),
        ..opts(4096, 1)
    };
    let t = m.sample(50, 2, &o, &mut no_progress()).unwrap();
    let y = t.schema().require("y").unwrap();
    let synthvol::table::ColumnKind::Categorical { levels } = &t.schema().columns[y].kind else {
        panic!()
    };
    let ColumnData::Categorical(codes) = t.column(y) else {
        panic!()
    };
    let got: Vec<&str> = codes.iter().map(|&c| levels[c as usize].as_str()).collect();
    assert_eq!(got, labels.iter().map(String::as_str).collect::<Vec<_>>());
    let bad = SampleOptions {
        labels: Some(vec!["maybe".into(); 50]),
        ..opts(4096, 1)
    };
    let e = m.sample(50, 2, &bad, &mut no_progress()).unwrap_err();
    assert!(
        e.message
            .contains("'maybe' is not a class of the target 'y'"),
        "{}",
        e.message
    );
    let short = SampleOptions {
        labels: Some(vec!["no".into(); 3]),
        ..opts(4096, 1)
    };
    assert!(m.sample(50, 2, &short, &mut no_progress()).is_err());
}

fn synthvol_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_synthvol"))
}

fn save_model(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("m.svmodel");
    model().save(&p).unwrap();
    p
}

/// K local processes in parallel, as a Slurm job array runs them, each writing its shard;
/// their files concatenated are the single run's bytes.
#[test]
fn shard_processes_concatenate_to_the_single_run() {
    let dir = tempfile::tempdir().unwrap();
    let m = save_model(dir.path());
    let rows = "2000";
    let single = dir.path().join("single.csv");
    let st = synthvol_bin()
        .args([
            "sample",
            "--model",
            m.to_str().unwrap(),
            "--rows",
            rows,
            "--seed",
            "5",
            "--out",
        ])
        .arg(&single)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let want = std::fs::read(&single).unwrap();
    for k in [1usize, 3, 7] {
        let children: Vec<_> = (0..k)
            .map(|i| {
                synthvol_bin()
                    .args([
                        "sample",
                        "--model",
                        m.to_str().unwrap(),
                        "--rows",
                        rows,
                        "--seed",
                        "5",
                    ])
                    .args(["--shard", &format!("{i}/{k}"), "--threads", "1", "--out"])
                    .arg(dir.path().join(format!("shard_{k}_{i}.csv")))
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        let mut got = Vec::new();
        for i in 0..k {
            got.extend(std::fs::read(dir.path().join(format!("shard_{k}_{i}.csv"))).unwrap());
        }
        assert!(got == want, "{k} shards differ from the single run");
    }
}

/// The child's peak resident memory in MB, from the kernel's accounting of waited children.
fn children_max_rss_mb() -> f64 {
    // SAFETY: getrusage fills the struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    ru.ru_maxrss as f64 / 1024.0
}

#[test]
fn two_million_rows_stream_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = quick_options(1);
    o.layers = vec![16];
    o.timesteps = 4;
    let m = fit(&mixed_table(300, 8), &o);
    let p = dir.path().join("small.svmodel");
    m.save(&p).unwrap();
    let out = dir.path().join("big.csv");
    let st = synthvol_bin()
        .args([
            "sample",
            "--model",
            p.to_str().unwrap(),
            "--rows",
            "2000000",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let rss = children_max_rss_mb();
    assert!(rss < 200.0, "peak memory {rss:.0} MB");
    let lines = std::fs::read(&out)
        .unwrap()
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    assert_eq!(lines, 2_000_001);
}

#[test]
fn a_cancelled_or_failed_sample_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let m = save_model(dir.path());
    let out = dir.path().join("never.csv");
    let mut child = synthvol_bin()
        .args([
            "sample",
            "--model",
            m.to_str().unwrap(),
            "--rows",
            "100000000",
            "--out",
        ])
        .arg(&out)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(130));
    assert!(!out.exists());
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "only the model remains");
    // A range that runs past the last row number fails before any file is made.
    let st = synthvol_bin()
        .args([
            "sample",
            "--model",
            m.to_str().unwrap(),
            "--start",
            "18446744073709551615",
        ])
        .args(["--count", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!st.status.success());
    assert!(String::from_utf8_lossy(&st.stderr).contains("run past the last row number"));
    assert!(!out.exists());
}
