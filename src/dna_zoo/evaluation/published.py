"""Published figures that `evaluate` shows beside a run of the same model on the same suite: facts from the papers,
each with its citation. A model matches by the Hub id it was evaluated under (`--model`)."""

DNABERT2_TABLE4 = (
    "Zhou et al., DNABERT-2, ICLR 2024, Table 4 (GUE test MCC, each model fine-tuned by the DNABERT-2 authors; "
    "the table is figures/Performance.png in github.com/MAGICS-LAB/DNABERT_2)"
)
NT_FIGURE = (
    "InstaDeep's fine-tuning results for the Nucleotide Transformer paper (Dalla-Torre et al.) on its 18 original "
    "tasks: mean MCC of 10-fold cross-validation, to 2 decimals as plotted in imgs/nt_results_rebuttal_2.png of "
    "github.com/instadeepai/nucleotide-transformer (shown in its docs/nucleotide_transformer.md; the file name says "
    "it was made for the paper's peer review, before the revised task set)"
)
TRINITY = "TrinityDNA, arXiv 2507.19229"

# Table 4's columns, in dna_zoo's GUE task names (evaluation.suites: EMP/H3 -> H3, tf/0 -> tf0, ...).
_GUE_COLUMNS = (
    *("H3", "H3K14ac", "H3K36me3", "H3K4me1", "H3K4me2", "H3K4me3", "H3K79me3", "H3K9ac", "H4", "H4ac"),
    *("prom_300_all", "prom_300_notata", "prom_300_tata"),
    *("tf0", "tf1", "tf2", "tf3", "tf4"),
    *("prom_core_all", "prom_core_notata", "prom_core_tata"),
    *("mouse0", "mouse1", "mouse2", "mouse3", "mouse4"),
    *("covid", "reconstructed"),
)
# MCC x 100 as printed, one row per model, in _GUE_COLUMNS order.
_GUE_TABLE4 = {
    "InstaDeepAI/nucleotide-transformer-500m-human-ref": (
        *(69.67, 33.55, 44.14, 37.15, 30.87, 24.06, 58.35, 45.81, 76.17, 33.74),
        *(87.71, 90.75, 78.07, 61.59, 66.75, 53.58, 42.95, 60.81, 63.45, 64.82, 71.34),
        *(31.04, 75.04, 61.67, 29.17, 29.27, 50.82, 79.71),
    ),
    "InstaDeepAI/nucleotide-transformer-500m-1000g": (
        *(72.52, 39.37, 45.58, 40.45, 31.05, 26.16, 59.33, 49.29, 76.29, 36.79),
        *(89.76, 91.75, 78.23, 63.64, 70.17, 52.73, 45.24, 62.82, 66.70, 67.17, 73.52),
        *(39.26, 75.49, 64.70, 33.07, 34.01, 52.06, 80.97),
    ),
    "InstaDeepAI/nucleotide-transformer-2.5b-1000g": (
        *(74.61, 44.08, 50.86, 43.10, 30.28, 30.87, 61.20, 52.36, 79.76, 41.46),
        *(90.95, 93.07, 75.80, 66.31, 68.30, 58.70, 49.08, 67.59, 67.39, 67.46, 69.66),
        *(48.31, 80.02, 70.14, 42.25, 43.40, 66.73, 85.78),
    ),
    "InstaDeepAI/nucleotide-transformer-2.5b-multi-species": (
        *(78.77, 56.20, 61.99, 55.30, 36.49, 40.34, 64.70, 56.01, 81.67, 49.13),
        *(91.01, 94.00, 79.43, 66.64, 70.28, 58.72, 51.65, 69.34, 70.33, 71.58, 72.97),
        *(63.31, 83.76, 71.52, 69.44, 47.07, 73.04, 89.35),
    ),
    "zhihan1996/DNABERT-2-117M": (
        *(78.27, 52.57, 56.88, 50.52, 31.13, 36.27, 67.39, 55.63, 80.71, 50.43),
        *(86.77, 94.27, 71.59, 71.99, 76.06, 66.52, 58.54, 77.43, 69.37, 68.04, 74.17),
        *(56.76, 84.77, 79.32, 66.47, 52.66, 71.02, 84.99),
    ),
}

# The NT figure's panels, in the task names of InstaDeepAI/nucleotide_transformer_downstream_tasks (the two
# enhancer names are UNVERIFIED against the published files; a task under another name shows no figure).
_NT_COLUMNS = (
    *("H3", "H3K14ac", "H3K36me3", "H3K4me1", "H3K4me2", "H3K4me3", "H3K79me3", "H3K9ac", "H4", "H4ac"),
    *("enhancers", "enhancers_types", "promoter_all", "promoter_no_tata", "promoter_tata"),
    *("splice_sites_all", "splice_sites_acceptors", "splice_sites_donors"),
)
_NT_FIGURE = {
    "InstaDeepAI/nucleotide-transformer-2.5b-multi-species": (
        *(0.79, 0.54, 0.62, 0.54, 0.32, 0.41, 0.62, 0.55, 0.81, 0.49),
        *(0.55, 0.44, 0.95, 0.95, 0.92, 0.97, 0.97, 0.97),
    ),
    "InstaDeepAI/nucleotide-transformer-2.5b-1000g": (
        *(0.75, 0.45, 0.53, 0.42, 0.28, 0.31, 0.57, 0.49, 0.79, 0.41),
        *(0.55, 0.43, 0.93, 0.93, 0.91, 0.96, 0.96, 0.96),
    ),
    "InstaDeepAI/nucleotide-transformer-500m-1000g": (
        *(0.74, 0.38, 0.47, 0.38, 0.26, 0.24, 0.56, 0.48, 0.76, 0.34),
        *(0.51, 0.40, 0.90, 0.90, 0.87, 0.95, 0.93, 0.94),
    ),
    "InstaDeepAI/nucleotide-transformer-500m-human-ref": (
        *(0.72, 0.37, 0.45, 0.36, 0.27, 0.24, 0.57, 0.45, 0.75, 0.33),
        *(0.50, 0.43, 0.90, 0.90, 0.88, 0.96, 0.92, 0.94),
    ),
    "zhihan1996/DNABERT-2-117M": (
        *(0.79, 0.52, 0.59, 0.51, 0.33, 0.35, 0.62, 0.55, 0.80, 0.46),
        *(0.52, 0.42, 0.94, 0.94, 0.91, 0.91, 0.95, 0.93),
    ),
}

# (suite, model, task) -> (MCC, citation)
PUBLISHED_TASKS = {
    **{
        ("gue", model, task): (value / 100, DNABERT2_TABLE4)
        for model, row in _GUE_TABLE4.items()
        for task, value in zip(_GUE_COLUMNS, row, strict=True)
    },
    **{
        ("nt_original", model, task): (value, NT_FIGURE)
        for model, row in _NT_FIGURE.items()
        for task, value in zip(_NT_COLUMNS, row, strict=True)
    },
}
# (suite, model) -> (mean MCC over the paper's own task set, citation)
PUBLISHED_MEANS = {
    ("gue", "TrinityDNA"): (0.708, f"{TRINITY}: GUE, 15 tasks, mean MCC"),
    ("gue", "InstaDeepAI/nucleotide-transformer-2.5b-multi-species"): (0.636, f"as reported in {TRINITY}"),
    ("gue", "zhihan1996/DNABERT-2-117M"): (0.621, f"as reported in {TRINITY}"),
    ("nt_original", "InstaDeepAI/nucleotide-transformer-v2-250m-multi-species"): (
        0.769,
        "Nucleotide Transformer, Nature Methods 2024: 18 tasks, mean MCC",
    ),
}
