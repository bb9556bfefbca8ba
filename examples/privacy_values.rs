//! Prints ε for DESIGN.md's check plans with the default orders.
use synthvol::privacy::accountant::{default_orders, epsilon, Phase};
fn main() {
    for (q, sigma, steps) in [(0.04, 1.5, 2250u64), (0.01, 1.0, 1000), (0.1, 4.0, 100)] {
        let (e, a) = epsilon(&[Phase { q, sigma, steps }], 1e-5, &default_orders());
        println!("q={q} σ={sigma} steps={steps} δ=1e-5: ε = {e:.6} (order {a})");
    }
}
