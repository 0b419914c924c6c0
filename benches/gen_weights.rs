//! Writes float32 values of a normal distribution (mean 0, standard deviation 0.02, like trained
//! model weights), little-endian, to stdout: `gen_weights MIB SEED`. Compiled by the benchmark
//! scripts with plain `rustc -O` (no dependencies) so the generated cube needs no numpy.

use std::io::Write;

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .expect("usage: gen_weights MIB SEED");
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    // xorshift64*: fast and reproducible; the statistics of the bytes are what matter here.
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out.lock());
    let mut buf = Vec::with_capacity(1 << 20);
    for _ in 0..mib {
        buf.clear();
        while buf.len() < 1 << 20 {
            // Box-Muller: two uniforms in (0, 1] give two independent normal values.
            let u1 = ((next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
            let u2 = (next() >> 11) as f64 / (1u64 << 53) as f64;
            let r = (-2.0 * u1.ln()).sqrt() * 0.02;
            let t = 2.0 * std::f64::consts::PI * u2;
            buf.extend_from_slice(&((r * t.cos()) as f32).to_le_bytes());
            buf.extend_from_slice(&((r * t.sin()) as f32).to_le_bytes());
        }
        out.write_all(&buf).expect("write to stdout");
    }
    out.flush().expect("write to stdout");
}
