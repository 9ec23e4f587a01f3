"""Run deepscope's benchmark suite and print a table (results also in benchmarks/results.json).

    python benchmarks/run.py                 # everything (~10 min on a 2-core CPU)
    python benchmarks/run.py --quick         # fewer epochs / steps / repeats (~2 min)
    python benchmarks/run.py --only or_fit   # one workload (or_fit, mlp_b1, mlp_b128, mlp_b2000, cifar_cnn, mnist_tta)

Each workload runs deepscope and its references interleaved in this one process (see common.py);
the table shows medians, min-max, the ratio to the row's baseline (< 1 = faster than it) and the
achieved GFLOP/s as a fraction of the fp32 GEMM peak measured at the start of the same run.
Keras 3 (torch backend) is a reference only when ``import keras`` works.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

import torch  # noqa: E402

from benchmarks import cifar_cnn, common, mlp_epoch, mnist_tta, or_fit  # noqa: E402

WORKLOADS = {
    "or_fit": or_fit.run,
    "mlp_b1": lambda quick, repeats: mlp_epoch.run(quick, repeats, batch_size=1),
    "mlp_b128": lambda quick, repeats: mlp_epoch.run(quick, repeats, batch_size=128),
    "mlp_b2000": lambda quick, repeats: mlp_epoch.run(quick, repeats, batch_size=2000),
    "cifar_cnn": cifar_cnn.run,
    "mnist_tta": mnist_tta.run,
}


def fmt_row(cells, widths):
    return "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs, steps and repeats")
    parser.add_argument("--only", action="append", choices=list(WORKLOADS), help="run only this workload (repeatable)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per contender (default 5, quick 3)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (3 if args.quick else 5)
    peak = common.gemm_peak()
    env = {"torch": torch.__version__, "threads": torch.get_num_threads(), "python": platform.python_version(),
           "machine": platform.machine(), "gemm_peak_gflops": peak / 1e9, "quick": args.quick, "repeats": repeats,
           "command": " ".join(["python", "benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])])}
    print(f"torch {env['torch']}, {env['threads']} threads, fp32 GEMM peak {peak / 1e9:.0f} GFLOP/s, "
          f"{repeats} interleaved repeats", flush=True)
    header = ["workload", "contender", "median s", "min-max s", "vs base", "samples/s", "GFLOP/s", "% peak"]
    widths = [26, 22, 9, 15, 8, 10, 8, 6]
    rows, report = [], {"env": env, "workloads": {}}
    for name in args.only or list(WORKLOADS):
        start = time.perf_counter()
        title, results, baseline = WORKLOADS[name](args.quick, repeats)
        base = results[baseline].median
        report["workloads"][name] = {"title": title, "baseline": baseline,
                                     "contenders": [r.as_dict(peak) for r in results.values()]}
        for r in results.values():
            d = r.as_dict(peak)
            rows.append([title, r.name, f"{r.median:.3f}", f"{min(r.seconds):.3f}-{max(r.seconds):.3f}",
                         f"{r.median / base:.2f}x", f"{d['samples_per_s']:,.0f}" if "samples_per_s" in d else "",
                         f"{d['gflops']:.2f}" if "gflops" in d else "",
                         f"{100 * d['fraction_of_peak']:.1f}" if "fraction_of_peak" in d else ""]
                        + ([f"  {r.extra['note']}"] if "note" in r.extra else []))
            title = ""
        print(f"  {name}: done in {time.perf_counter() - start:.0f} s", flush=True)
    print()
    print(fmt_row(header, widths))
    print(fmt_row(["-" * w for w in widths], widths))
    for row in rows:
        print(fmt_row(row[:8], widths) + (row[8] if len(row) > 8 else ""))
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
