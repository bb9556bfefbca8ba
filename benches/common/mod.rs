//! What the engine and GPU benchmarks share: the Adult-like layout, its synthetic rows, medians.
use synthvol::internals::diffusion::Layout;
use synthvol::internals::encode::Encoded;

/// Adult-like row: 6 numeric columns and one-hot blocks adding up to 107 inputs (as PEERS.md).
pub fn layout() -> Layout {
    Layout {
        n_num: 6,
        blocks: vec![9, 16, 7, 15, 6, 5, 2, 41],
    }
}

/// The median (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `n` deterministic rows of `layout`, labels alternating between two classes.
pub fn data(layout: &Layout, n: usize) -> Encoded {
    let w = layout.width();
    let mut x = vec![0f32; n * w];
    for i in 0..n {
        for j in 0..layout.n_num {
            x[i * w + j] = (((i * 31 + j * 17) % 97) as f32 / 48.0) - 1.0;
        }
        let mut off = layout.n_num;
        for (b, &k) in layout.blocks.iter().enumerate() {
            x[i * w + off + (i + b) % k] = 1.0;
            off += k;
        }
    }
    Encoded {
        x,
        labels: Some((0..n).map(|i| (i % 2) as u32).collect()),
        n,
    }
}
