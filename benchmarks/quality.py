"""Quality report on real genomes: MCC of the bundled demo model (IA3 and full fine-tuning), a from-scratch model
of the same size and a 6-mer logistic regression, on two tasks, over several seeds; and the demo's held-out
masked-LM loss on hidden 6-mers beside a context-free 6-mer frequency table's and a k-mer context model's (the
model must beat the table by 0.5 nats: a model that ignores context ties it).

    python -m benchmarks quality            # or: python benchmarks/quality.py [--seeds 0 1 2] [--quick]

Tasks (../shared/data/genomes):
- coding: coding vs non-coding 300 bp windows (Prodigal CDS calls; entirely inside a CDS vs touching none),
  balanced; train on E. coli K-12 + S. aureus + H. pylori, test on V. cholerae;
- species: species of origin of 1 kb windows of five bacteria (E. coli K-12, E. coli DH1, S. aureus, H. pylori,
  V. cholerae); windows from the first 80% of each chromosome train, from the last 20% test. The two E. coli
  strains are nearly identical genomes, so those two classes are hard to tell apart by design.
Training sets are subsampled (see --train-windows) so that the whole report runs in under 30 minutes on 2 CPU
cores: 2 epochs, batch 32, learning rate 1e-4 (full, scratch) or 3e-3 (IA3, the NT paper's rate).
Writes quality-<machine>-<date>.{json,md,png} to benchmarks/results/.
"""

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from datasets import Dataset, concatenate_datasets
from sklearn.metrics import matthews_corrcoef
from transformers import AutoConfig, AutoModelForMaskedLM

from dna_zoo import load_tokenizer
from dna_zoo.checkpoints import DEMO_MODEL
from dna_zoo.data import balanced, interval_windows, read_fasta, read_intervals
from dna_zoo.plots import plot_grouped_bars
from dna_zoo.training import FinetuneConfig, finetune
from dna_zoo.training.baselines import KmerLogisticRegression

GENOMES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "genomes"
RESULTS = Path(__file__).resolve().parent / "results"
CODING_TRAIN = ["ecoli_k12_mg1655", "saureus_col", "hpylori_g27"]
CODING_TEST = ["vcholerae_o395"]
SPECIES = ["ecoli_k12_mg1655", "ecoli_dh1", "saureus_col", "hpylori_g27", "vcholerae_o395"]
MLM_MARGIN = 0.5  # nats per masked token the model must lose less than the context-free table (issue target)
MODELS = ("demo, IA3", "demo, full fine-tuning", "from scratch (same size)", "6-mer logistic regression")


def coding_task(genomes: Path, train_windows: int, test_windows: int, seed: int) -> tuple[Dataset, Dataset]:
    def windows(names, per_genome):
        parts = []
        for name in names:
            intervals = read_intervals(genomes / f"{name}.prodigal.gff.gz", feature="CDS")
            found = interval_windows(str(genomes / f"{name}.fa.gz"), intervals, 300, 50)
            parts.append(balanced(found, per_class=per_genome // 2, seed=seed))
        return concatenate_datasets(parts)

    return windows(CODING_TRAIN, train_windows // len(CODING_TRAIN)), windows(CODING_TEST, test_windows)


def species_task(genomes: Path, train_windows: int, test_windows: int, seed: int) -> tuple[Dataset, Dataset]:
    rng = np.random.default_rng(seed)
    rows = {"train": {"sequence": [], "label": []}, "test": {"sequence": [], "label": []}}
    for label, name in enumerate(SPECIES):
        records = [s.upper() for _, s in read_fasta(genomes / f"{name}.fa.gz")]
        chromosome = max(records, key=len)
        cut = int(len(chromosome) * 0.8)
        for split, (begin, end), count in (
            ("train", (0, cut), train_windows // len(SPECIES)),
            ("test", (cut, len(chromosome)), test_windows // len(SPECIES)),
        ):
            for start in rng.integers(begin, end - 1000, count):
                rows[split]["sequence"].append(chromosome[start : start + 1000])
                rows[split]["label"].append(label)
    return Dataset.from_dict(rows["train"]), Dataset.from_dict(rows["test"])


def neural_mcc(model: str, peft: str | None, train: Dataset, test: Dataset, seed: int, epochs: float) -> float:
    split = train.train_test_split(test_size=0.1, seed=seed)
    with tempfile.TemporaryDirectory() as output:
        result = finetune(
            FinetuneConfig(
                model=model,
                train=split["train"],
                validation=split["test"],
                test=test,
                output_dir=output,
                peft=peft,
                epochs=epochs,
                batch_size=32,
                learning_rate=3e-3 if peft == "ia3" else 1e-4,
                seed=seed,
                merge=False,
            )
        )
    return result["metrics"]["test"]["test_mcc"]


def masked_lm_against_kmer_table(genomes: Path, windows: int, seed: int, model_folder: str = DEMO_MODEL) -> dict:
    """Held-out masked-LM loss of a masked LM beside context-free and k-mer-context baselines, on the same hidden
    6-mers: 600-base windows of V. cholerae (held out from the demo's pretraining) cut into 100 6-mers, 15% of them
    hidden (a fixed generator). A 6-mer model sees a hidden 6-mer as one <mask>, a single-base model as six, and
    predicts it as the product of its six bases' probabilities: both are distributions over the same 4,096
    6-mers (the model's probabilities renormalised over its nucleotide tokens), so the nats compare. Baselines:
    the context-free 6-mer frequency table, and the best k-mer context model (a bidirectional order-4 Markov
    model filling the gap from the 4 bases either side), counted on the demo's training genomes (both strands,
    smoothed) and, as a ceiling no model here is given, on V. cholerae's other chromosome."""
    import torch

    from dna_zoo import load_model
    from dna_zoo.inference import reverse_complement
    from dna_zoo.training.baselines import KmerFrequencyTable, MarkovGapFiller, overlapping_kmer_indices

    model, tokenizer = load_model(model_folder, task="masked-lm").eval(), load_tokenizer(model_folder)
    both_strands = lambda sequences: sequences + [reverse_complement(s) for s in sequences]  # noqa: E731
    training = both_strands([s.upper() for name in CODING_TRAIN for _, s in read_fasta(genomes / f"{name}.fa.gz")])
    rng = np.random.default_rng(seed)
    (_, chromosome), (_, other_chromosome), *_ = read_fasta(genomes / f"{CODING_TEST[0]}.fa.gz")
    starts = rng.choice(len(chromosome) - 600, size=4 * windows, replace=False)
    held_out = [w for w in (chromosome[s : s + 600].upper() for s in starts) if "N" not in w][:windows]
    generator = torch.Generator().manual_seed(seed)
    hidden = (torch.rand((len(held_out), 101), generator=generator) < 0.15)[:, 1:]  # (W, 100) hidden 6-mers
    encoded = tokenizer(held_out, return_offsets_mapping=True, return_tensors="pt")
    input_ids, offsets = encoded["input_ids"], encoded["offset_mapping"]  # (W, T), (W, T, 2)
    width = offsets[..., 1] - offsets[..., 0]  # (W, T): bases per token, 0 for special tokens
    masked = (width > 0) & hidden.gather(1, (offsets[..., 0] // 6).clamp(max=99))  # every token of a hidden 6-mer
    k = int(width[masked][0])
    if not (width[masked] == k).all() or 6 % k:
        raise ValueError(f"{model_folder}: the check needs 6-mer or single-base tokens aligned to the window")
    nucleotides = {
        token: i for token, i in tokenizer.get_vocab().items() if len(token) == k and set(token) <= set("ACGT")
    }
    columns = torch.tensor(sorted(nucleotides.values()))  # the vocabulary ids the model's distribution is over
    with torch.no_grad():
        logits = model(input_ids=input_ids.masked_fill(masked, tokenizer.mask_token_id)).logits[masked][:, columns]
    targets = torch.searchsorted(columns, input_ids[masked])  # (M,) each masked token's column
    model_nats = torch.nn.functional.cross_entropy(logits.float(), targets, reduction="sum").item() / hidden.sum()
    six_mers = np.stack([overlapping_kmer_indices(w, 6)[::6] for w in held_out])[hidden.numpy()]  # (N,)
    gaps = [(w, 6 * slot) for w, slot in zip(*np.nonzero(hidden.numpy()))]
    table = KmerFrequencyTable(6).fit(training)
    markov = MarkovGapFiller(4).fit(training)
    in_species = MarkovGapFiller(4).fit(both_strands([other_chromosome.upper()]))
    table_nats = float(table.nats(six_mers).mean())
    return {
        "windows": len(held_out),
        "hidden_6mers": int(hidden.sum()),
        "model_nats": float(model_nats),
        "kmer_table_nats": table_nats,
        "markov_nats": float(markov.nats(held_out, gaps).mean()),
        "markov_in_species_nats": float(in_species.nats(held_out, gaps).mean()),
        "uniform_nats": float(np.log(4**6)),
        "model_below_table": float(table_nats - model_nats),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--genomes", default=str(GENOMES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--train-windows", type=int, default=3000)
    parser.add_argument("--test-windows", type=int, default=2000)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--tasks", nargs="+", choices=["coding", "species"], default=["coding", "species"])
    parser.add_argument("--mlm-windows", type=int, default=256, help="held-out windows of the masked-LM check")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    genomes = Path(args.genomes)
    if not genomes.is_dir():
        raise SystemExit(f"genomes not found at {genomes} (../shared/data/genomes): the quality report needs them")
    started = time.time()
    masked_lm = masked_lm_against_kmer_table(genomes, args.mlm_windows, args.seeds[0])
    verdict = "PASS" if masked_lm["model_below_table"] >= MLM_MARGIN else "FAIL"
    print(
        f"{verdict}  demo masked-LM loss on held-out V. cholerae: {masked_lm['model_nats']:.3f} nats per hidden 6-mer, "
        f"context-free 6-mer table {masked_lm['kmer_table_nats']:.3f}, order-4 Markov gap filler "
        f"{masked_lm['markov_nats']:.3f} (counted on V. cholerae itself {masked_lm['markov_in_species_nats']:.3f}), "
        f"uniform {masked_lm['uniform_nats']:.3f}: {masked_lm['model_below_table']:.3f} below the table "
        f"(target >= {MLM_MARGIN})",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as scratch:
        scratch_model = AutoModelForMaskedLM.from_config(AutoConfig.from_pretrained(DEMO_MODEL))
        scratch_model.save_pretrained(scratch)  # the demo architecture, randomly initialised
        load_tokenizer("demo").save_pretrained(scratch)
        runs = {
            MODELS[0]: lambda *a: neural_mcc("demo", "ia3", *a, args.epochs),
            MODELS[1]: lambda *a: neural_mcc("demo", None, *a, args.epochs),
            MODELS[2]: lambda *a: neural_mcc(scratch, None, *a, args.epochs),
            MODELS[3]: lambda train, test, seed: float(
                matthews_corrcoef(
                    test["label"],
                    KmerLogisticRegression(seed=seed).fit(train["sequence"], train["label"]).predict(test["sequence"]),
                )
            ),
        }
        tasks = {"coding": coding_task, "species": species_task}
        scores = {task: {name: [] for name in runs} for task in args.tasks}
        for task in args.tasks:
            for seed in args.seeds:
                train, test = tasks[task](genomes, args.train_windows, args.test_windows, seed)
                for name, run in runs.items():
                    scores[task][name].append(run(train, test, seed))
                    print(f"{task} seed {seed} {name}: MCC {scores[task][name][-1]:.4f}", flush=True)
    summary = {
        task: {
            name: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "runs": v}
            for name, v in by_model.items()
        }
        for task, by_model in scores.items()
    }
    report = {
        "machine": platform.node(),
        "date": date.today().isoformat(),
        "minutes": round((time.time() - started) / 60, 1),
        "settings": vars(args),
        "mcc": summary,
        "masked_lm": masked_lm,
    }
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"quality-{platform.node()}-{date.today().isoformat()}")
    with open(stem + ".json", "w") as handle:
        json.dump(report, handle, indent=1)
    lines = [
        f"| model | {' | '.join(f'{task} MCC (mean ± sd, {len(args.seeds)} seeds)' for task in summary)} |",
        "| --- |" + " --- |" * len(summary),
    ]
    for name in MODELS:
        cells = [f"{summary[task][name]['mean']:.3f} ± {summary[task][name]['sd']:.3f}" for task in summary]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    lines += [
        "",
        "| held-out masked-LM loss (V. cholerae, nats per hidden 6-mer) | demo model | 6-mer table "
        "| order-4 Markov | order-4 Markov, counted on V. cholerae | uniform |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| {masked_lm['hidden_6mers']:,} hidden 6-mers in {masked_lm['windows']} windows of 600 bases | "
        f"{masked_lm['model_nats']:.3f} | {masked_lm['kmer_table_nats']:.3f} | {masked_lm['markov_nats']:.3f} | "
        f"{masked_lm['markov_in_species_nats']:.3f} | {masked_lm['uniform_nats']:.3f} |",
    ]
    with open(stem + ".md", "w") as handle:
        handle.write("\n".join(lines) + "\n")
    plot_grouped_bars(
        {task: {name: (v["mean"], v["sd"]) for name, v in by_model.items()} for task, by_model in summary.items()},
        stem + ".png",
        "MCC on held-out data (mean ± sd)",
        "quality on real genomes",
    )
    print("\n".join(lines) + f"\n({report['minutes']} minutes) -> {stem}.json / .md / .png")
    return report


if __name__ == "__main__":
    main()
