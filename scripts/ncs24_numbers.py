"""NCS24's numbers for every polymer run of a results folder, read from the metrics files.

    PYTHONPATH=src python scripts/ncs24_numbers.py results/folds

Per run: V's critical points in the data range (type, Hessian index, the decoded chain's
extension and fold ratio |x_N + x_1| / extension, the minima an index-1 saddle joins) and
whether a folded saddle joins two stretched minima; per test ensemble the largest error over
time of the mean and of the std of the extension, in units of the ensemble's std, and the
unfolding-time W1 / mean by both definitions (ours: a fixed threshold; NCS24's: 0.95 × the
path's final extension), and the chart's own share of the errors (the held-out paths encoded and
decoded: zero where the extension is a latent coordinate); corr(|Z2|, |x_N − x_1|) and corr(|Z3|, |x_N + x_1|) on training data.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from onsagerflow.analysis.folds import folded_saddle_summary


def fmt(x) -> str:
    """Three significant digits; – where there is no number (e.g. every path had escaped)."""
    return "–" if x is None else f"{x:.3g}"


def report(metrics: Path) -> str:
    m = json.loads(metrics.read_text())
    lines = [f"## {m['system']} / {m['model']}  ({m['model_type']}, {m['param_count']} parameters)"]
    critical = m.get("critical_points")
    if critical is None:
        lines.append("V: none (no potential)")
    else:
        for i, c in enumerate(critical):
            conf = c.get("conformation", {})
            lines.append(
                f"  [{i}] {c['type']:<15} index {c['index']}  V {c['V']:.4g}  z {[round(v, 2) for v in c['x']]}"
                f"  extension {fmt(conf.get('extension_latent'))} (decoded {fmt(conf.get('extension'))})"
                f"  fold {fmt(conf.get('fold_ratio'))}"
                + (f"  joins {c['connects']}" if "connects" in c else "")
                + ("" if c.get("in_data_range", True) else "  (outside the data)")
            )
        s = folded_saddle_summary(critical)
        lines.append(
            f"  in the data: {s['minima']} minima ({s['stretched_minima']} stretched), {s['index1_saddles']} index-1 "
            f"saddles ({s['folded_saddles']} folded, largest fold {fmt(s['largest_saddle_fold_ratio'])}); "
            f"a folded saddle joins two stretched minima: {s['folded_saddle_joins_stretched_minima']}"
        )
    for e in m["ensembles"]:
        by = e.get("unfolding_time_by_definition", {})
        w1 = "  ".join(f"W1/mean {k} {fmt(v['wasserstein1_relative'])}" for k, v in by.items())
        floor = e.get("extension_closure_floor") or {}
        lines.append(
            f"  ensemble {e['ensemble']} ({e['label']}): max mean error {fmt(e['extension']['max_mean_error'])}, "
            f"max std error {fmt(e['extension']['max_std_error'])}, {w1}; closure floor "
            f"{fmt(floor.get('max_mean_error'))}, {fmt(floor.get('max_std_error'))}"
        )
    c = m.get("correlations") or {}
    lines.append(
        f"  corr(|Z2|, |xN−x1|) {fmt(c.get('Z2_vs_end_to_end_diff'))}, "
        f"corr(|Z3|, |xN+x1|) {fmt(c.get('Z3_vs_end_to_end_sum'))} (training frames)"
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__)
        return 2
    files = sorted(Path(argv[0]).glob("eval/*/*/metrics.json"))
    polymer = [f for f in files if "ensembles" in json.loads(f.read_text())]
    if not polymer:
        print(f"no polymer metrics under {argv[0]}/eval")
        return 1
    print("\n".join(report(f) for f in polymer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
