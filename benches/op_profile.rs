//! Where a network call spends its time in tract: every node of the optimised plan, timed over several calls.
//!
//!     cargo bench --bench op_profile -- [MODEL] [WxH]      # default: every embedded model, 640x480
//!
//! Prints, per model, the time per op kind (sum over nodes, median call) and the ten slowest nodes.

use std::collections::BTreeMap;

use coldframe::models::{resolve, Role, EMBEDDED};
use coldframe::restorer::Restorer;

mod frames;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let models: Vec<String> = match args.first() {
        Some(m) => vec![m.clone()],
        None => EMBEDDED
            .iter()
            .filter(|m| m.role == Role::Restorer)
            .map(|m| m.name.to_string())
            .collect(),
    };
    let (w, h) = match args.get(1) {
        Some(s) => {
            let (w, h) = s
                .split_once('x')
                .ok_or_else(|| anyhow::anyhow!("size is WxH"))?;
            (w.parse()?, h.parse()?)
        }
        None => (640, 480),
    };
    let calls = 7;
    for name in models {
        let (bytes, source) = resolve(&name)?;
        let mut r = Restorer::from_bytes(&bytes, &source)?;
        let x = frames::frame(w, h, r.info.in_channels());
        r.profile(&x, 12)?;
        let mut runs: Vec<Vec<coldframe::restorer::NodeTime>> = (0..calls)
            .map(|_| r.profile(&x, 12))
            .collect::<anyhow::Result<_>>()?;
        runs.sort_by(|a, b| {
            let sa: f64 = a.iter().map(|n| n.ms).sum();
            let sb: f64 = b.iter().map(|n| n.ms).sum();
            sa.total_cmp(&sb)
        });
        let median = &runs[calls / 2];
        let total: f64 = median.iter().map(|n| n.ms).sum();
        println!("== {name} {w}x{h}: {total:.1} ms, {} nodes", median.len());
        let mut by_op: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
        for n in median {
            let e = by_op.entry(&n.op).or_default();
            e.0 += n.ms;
            e.1 += 1;
        }
        let mut by_op: Vec<_> = by_op.into_iter().collect();
        by_op.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0));
        for (op, (ms, count)) in by_op {
            println!(
                "  {op:<28} {count:>3} nodes {ms:>8.2} ms {:>5.1}%",
                100.0 * ms / total
            );
        }
        let mut slow: Vec<_> = median.iter().collect();
        slow.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        for n in slow.iter().take(12) {
            println!("    {:>8.2} ms  {:<24} {}", n.ms, n.op, n.node);
        }
    }
    Ok(())
}
