"""Coding vs non-coding 300 bp windows: fine-tune a DNA model on three genomes, test on a fourth, and compare with
a 6-mer-count logistic regression on the same split.

    python examples/coding_windows.py --out runs/coding      # demo model, the lambda phage shipped in tests/data
    python examples/coding_windows.py --genomes GENOMES_DIR --train ecoli_k12_mg1655 saureus_col hpylori_g27 \
        --test vcholerae_o395 --out runs/coding                # the recorded run (model_cards/demo.md)

Windows entirely inside a Prodigal CDS call are "coding", windows touching no call are "non-coding" (those that
straddle a boundary are left out); coding windows are subsampled to the number of non-coding ones, per genome.
--genomes holds <name>.fa.gz and <name>.prodigal.gff.gz for each name. Train on some genomes and test on another,
never seen in pretraining or fine-tuning; a genome named in both --train and --test is split by position instead
(windows before --split of each record train, those after it test; none crosses the cut), so the default run on
the lambda phage alone does not test on its training windows (`dna_zoo.data.split_windows`). The training windows
in the last 10% of each record (again no window across the cut: overlapping windows of a random split would share
bases) drive early stopping. Writes results.json, results.md and results.png to --out.
"""

import argparse
import json
import os
from pathlib import Path

from datasets import concatenate_datasets
from sklearn.metrics import matthews_corrcoef

from dna_zoo.data import balanced, interval_windows, read_intervals, split_windows
from dna_zoo.plots import plot_bars
from dna_zoo.training import FinetuneConfig, finetune
from dna_zoo.training.baselines import KmerLogisticRegression

GENOMES = Path(__file__).resolve().parent.parent / "tests" / "data"  # the lambda phage ships with the repository


def balanced_windows(genome: str, window: int, stride: int, limit: int | None, seed: int, part=None, split=0.7):
    """Coding (1) and non-coding (0) windows of one genome, as many of each; with `part` "train" or "test", only the
    windows before or after `split` of each record's length."""
    intervals = read_intervals(f"{genome}.prodigal.gff.gz", feature="CDS")
    windows = interval_windows(f"{genome}.fa.gz", intervals, window, stride)
    if part is not None:  # no window crosses the cut, so train and test share no base
        windows = split_windows(windows, test=1 - split, by="position")[part]
    return balanced(windows, per_class=limit, seed=seed)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="demo", help="model to fine-tune (default: the bundled demo model)")
    parser.add_argument("--genomes", default=str(GENOMES), help="folder with <name>.fa.gz and <name>.prodigal.gff.gz")
    parser.add_argument("--train", nargs="+", default=["lambda_phage"], help="training genome names")
    parser.add_argument("--test", nargs="+", default=["lambda_phage"], help="test genome names")
    parser.add_argument("--split", type=float, default=0.7, help="cut of a genome in both --train and --test")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--window", type=int, default=300)
    parser.add_argument("--stride", type=int, default=50, help="bases between window starts")
    parser.add_argument("--limit", type=int, help="at most this many windows per class and genome (a quick run)")
    parser.add_argument("--epochs", type=float, default=4.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--peft", choices=["ia3", "lora"], help="adapter instead of full fine-tuning")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    def windows(names, part):
        parts = [
            balanced_windows(
                os.path.join(args.genomes, name),
                args.window,
                args.stride,
                args.limit,
                args.seed,
                part if name in args.train and name in args.test else None,
                args.split,
            )
            for name in names
        ]
        return concatenate_datasets(parts)

    train, test = windows(args.train, "train"), windows(args.test, "test")
    split = split_windows(train, test=0.1, by="position")  # the last 10% of each record: no base shared
    print(f"windows: {len(split['train'])} train, {len(split['test'])} validation, {len(test)} test (balanced)")

    baseline = KmerLogisticRegression(k=6, seed=args.seed).fit(split["train"]["sequence"], split["train"]["label"])
    baseline_mcc = float(matthews_corrcoef(test["label"], baseline.predict(test["sequence"])))
    print(f"6-mer logistic regression: test MCC {baseline_mcc:.4f}")

    result = finetune(
        FinetuneConfig(
            model=args.model,
            train=split["train"],
            validation=split["test"],
            test=test,
            output_dir=os.path.join(args.out, "model"),
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            peft=args.peft,
            seed=args.seed,
        )
    )
    model_mcc = result["metrics"]["test"]["test_mcc"]
    name = f"{args.model} ({args.peft or 'full'} fine-tuning)"
    print(f"{name}: test MCC {model_mcc:.4f}")
    results = {
        "task": f"coding vs non-coding {args.window} bp windows",
        "train": args.train,
        "test": args.test,
        "windows": {"train": len(split["train"]), "validation": len(split["test"]), "test": len(test)},
        "mcc": {name: model_mcc, "6-mer logistic regression": baseline_mcc},
        "model_test_metrics": result["metrics"]["test"],
        "command": "python examples/coding_windows.py " + " ".join(argv if argv is not None else os.sys.argv[1:]),
    }
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump(results, handle, indent=1)
    with open(os.path.join(args.out, "results.md"), "w") as handle:
        handle.write(f"| model | test MCC ({', '.join(args.test)}) |\n| --- | --- |\n")
        handle.writelines(f"| {k} | {v:.4f} |\n" for k, v in results["mcc"].items())
    plot_bars(results["mcc"], os.path.join(args.out, "results.png"), "MCC on the held-out genome", results["task"])
    return results


if __name__ == "__main__":
    main()
