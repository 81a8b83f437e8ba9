"""Zero-shot check of variant effect scores: stop-gained vs synonymous SNVs in the genes of a held-out genome.

    python examples/variant_effects.py --out runs/variants      # demo model, lambda phage genes (tests/data)
    python examples/variant_effects.py --genome GENOMES_DIR/vcholerae_o395 --out runs/variants  # the recorded run

For genes sampled from Prodigal's CDS calls, every codon (first and last excepted) is tried with each single-base
substitution; those that turn a sense codon into a stop (TAA, TAG, TGA: genetic code 11) are "stop-gained", those
that keep the amino acid are "synonymous". An equal number of each is sampled, written to a VCF and scored with
`dna_zoo.score_variants` (masked-LM log-likelihood ratio, alt vs ref, every token overlapping the variant masked).
A stop-gained variant should look less likely (more damaging): the score is -llr, and AUROC > 0.5 means the model
ranks stop-gained variants as more damaging. A 95% interval comes from bootstrap resampling of the variants.
Writes variants.vcf, scores.tsv, results.json, results.md and roc.png to --out.
"""

import argparse
import json
import os
from itertools import product
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from dna_zoo import load_model, load_tokenizer
from dna_zoo.data import read_fasta, read_intervals
from dna_zoo.inference import reverse_complement, score_variants, write_scores
from dna_zoo.plots import plot_curves

GENOMES = Path(__file__).resolve().parent.parent / "tests" / "data"  # the lambda phage ships with the repository
BASES = "TCAG"
AMINO_ACIDS = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"  # NCBI table 11, TCAG order
CODE = {"".join(codon): aa for codon, aa in zip(product(BASES, repeat=3), AMINO_ACIDS)}


def candidate_variants(sequence: str, genes: list[tuple[int, int, str]], record: str) -> dict[str, list]:
    """{"stop_gained": [...], "synonymous": [...]} of (record, 1-based position, ref, alt) on the forward strand."""
    found = {"stop_gained": [], "synonymous": []}
    for start, end, strand in genes:
        gene = sequence[start:end] if strand == "+" else reverse_complement(sequence[start:end])
        for codon_start in range(3, len(gene) - 5, 3):  # skip the start and the stop codon
            codon = gene[codon_start : codon_start + 3]
            if codon not in CODE or CODE[codon] == "*":
                continue
            for offset, base in product(range(3), "ACGT"):
                if base == codon[offset]:
                    continue
                mutated = codon[:offset] + base + codon[offset + 1 :]
                kind = "stop_gained" if CODE[mutated] == "*" else "synonymous" if CODE[mutated] == CODE[codon] else None
                if kind is None:
                    continue
                in_gene = codon_start + offset
                if strand == "+":
                    position, ref, alt = start + in_gene, codon[offset], base
                else:  # the gene's base i sits at end - 1 - i on the forward strand, complemented
                    position, ref, alt = end - 1 - in_gene, reverse_complement(codon[offset]), reverse_complement(base)
                found[kind].append((record, position + 1, ref, alt))
    return found


def write_vcf(path: str, variants: list[tuple], lengths: dict[str, int]) -> None:
    with open(path, "w") as handle:
        handle.write("##fileformat=VCFv4.2\n")
        handle.writelines(f"##contig=<ID={name},length={length}>\n" for name, length in lengths.items())
        handle.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for record, position, ref, alt, name in sorted(variants, key=lambda v: (v[0], v[1])):
            handle.write(f"{record}\t{position}\t{name}\t{ref}\t{alt}\t.\t.\t.\n")


def bootstrap_auroc(labels: np.ndarray, scores: np.ndarray, rounds: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        pick = rng.integers(len(labels), size=len(labels))
        if labels[pick].min() != labels[pick].max():
            values.append(roc_auc_score(labels[pick], scores[pick]))
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="demo", help="a masked LM (default: the bundled demo model)")
    parser.add_argument("--genome", default=str(GENOMES / "lambda_phage"), help="<genome>.fa.gz + .prodigal.gff.gz")
    parser.add_argument("--out", required=True)
    parser.add_argument("--genes", type=int, default=300, help="genes sampled")
    parser.add_argument("--per-class", type=int, default=500, help="variants of each kind")
    parser.add_argument("--window", type=int, default=600, help="bases of reference around each variant")
    parser.add_argument("--strand", choices=["forward", "both"], default="both")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    genes = read_intervals(f"{args.genome}.prodigal.gff.gz", feature="CDS")
    sequences = dict(read_fasta(f"{args.genome}.fa.gz"))
    all_genes = [(record, gene) for record, spans in genes.items() for gene in spans]
    chosen = rng.choice(len(all_genes), min(args.genes, len(all_genes)), replace=False)
    candidates = {"stop_gained": [], "synonymous": []}
    for index in chosen:
        record, gene = all_genes[index]
        for kind, found in candidate_variants(sequences[record].upper(), [gene], record).items():
            candidates[kind] += found
    per_class = min(args.per_class, *(len(v) for v in candidates.values()))
    variants = []
    for kind, found in candidates.items():
        for i in rng.choice(len(found), per_class, replace=False):
            variants.append((*found[i], f"{kind}_{i}"))

    reference = os.path.join(args.out, "reference.fa")  # plain copy: pysam indexes it (the .gz is not bgzip)
    with open(reference, "w") as handle:
        handle.writelines(f">{name}\n{sequence}\n" for name, sequence in sequences.items())
    vcf = os.path.join(args.out, "variants.vcf")
    write_vcf(vcf, variants, {name: len(s) for name, s in sequences.items()})

    model, tokenizer = load_model(args.model, task="masked-lm"), load_tokenizer(args.model)
    rows = score_variants(model, tokenizer, reference, vcf, window=args.window, strand=args.strand, strict=True)
    write_scores(rows, os.path.join(args.out, "scores.tsv"), overwrite=True)

    labels = np.array([row["ID"].startswith("stop_gained") for row in rows], dtype=int)
    damage = -np.array([row["llr"] for row in rows])
    auroc = float(roc_auc_score(labels, damage))
    low, high = bootstrap_auroc(labels, damage, args.bootstrap, args.seed)
    embedding_auroc = float(roc_auc_score(labels, [row["cosine_distance"] for row in rows]))
    results = {
        "genome": os.path.basename(args.genome),
        "model": args.model,
        "variants": {"stop_gained": per_class, "synonymous": per_class},
        "genes_sampled": len(chosen),
        "auroc_minus_llr": auroc,
        "auroc_95ci": [low, high],
        "auroc_cosine_distance": embedding_auroc,
        "window": args.window,
        "strand": args.strand,
        "command": "python examples/variant_effects.py " + " ".join(argv if argv is not None else os.sys.argv[1:]),
    }
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump(results, handle, indent=1)
    with open(os.path.join(args.out, "results.md"), "w") as handle:
        handle.write("| score | AUROC stop-gained vs synonymous | 95% bootstrap interval |\n| --- | --- | --- |\n")
        handle.write(f"| -llr (masked LM) | {auroc:.3f} | {low:.3f} - {high:.3f} |\n")
        handle.write(f"| cosine distance of embeddings | {embedding_auroc:.3f} | |\n")
    false_positive, true_positive, _ = roc_curve(labels, damage)
    plot_curves(
        {f"-llr (AUROC {auroc:.3f})": (false_positive, true_positive), "chance": ([0, 1], [0, 1])},
        os.path.join(args.out, "roc.png"),
        "false positive rate (synonymous)",
        "true positive rate (stop-gained)",
        f"{per_class} stop-gained vs {per_class} synonymous SNVs, {results['genome']}",
    )
    print(
        f"AUROC (stop-gained more damaging): {auroc:.3f} (95% CI {low:.3f}-{high:.3f}); cosine: {embedding_auroc:.3f}"
    )
    return results


if __name__ == "__main__":
    main()
