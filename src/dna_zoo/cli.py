"""The `dna-zoo` command."""

import argparse
import csv
import functools
import os
from contextlib import nullcontext

import torch
from transformers import AutoModel

from . import __version__
from .auto import FAMILIES
from .checkpoints import CONFIG_CLASSES, PRESETS, config_from_preset, load_model, load_tokenizer
from .convert import convert
from .data import fasta_chunks, read_fasta, read_intervals
from .inference import write_scores
from .inference.embedding_files import FORMATS as EMBEDDING_FORMATS
from .inference.embedding_files import write_embeddings
from .inference.variants import iter_scores, score_columns
from .models import GenaLMTokenizer, InvalidSequenceError, MistralDNATokenizer
from .outputs import check_output, exclusive, storage_failure, writing

BPE_TOKENIZERS = {"gena_lm": GenaLMTokenizer, "mistral_dna": MistralDNATokenizer}


def list_presets_table() -> list[tuple[str, str, int, int, str]]:
    """(family, preset, parameters of the base model, context in tokens, note) for every preset."""
    rows = []
    for family, presets in PRESETS.items():
        unverified = CONFIG_CLASSES[family].unverified_presets
        for name in presets:
            config = config_from_preset(family, name)
            with torch.device("meta"):
                model = FAMILIES[type(config)][AutoModel](config)
            note = f"UNVERIFIED: {unverified[name]}" if name in unverified else ""
            rows.append((family, name, sum(p.numel() for p in model.parameters()), config.max_tokens, note))
    return rows


def presets_command(args) -> None:
    rows = list_presets_table()
    width = max(len(name) for _, name, *_ in rows)
    print(f"{'family':<24} {'preset':<{width}} {'base params':>14} {'context (tokens)':>17}  note")
    for family, name, params, context, note in rows:
        print(f"{family:<24} {name:<{width}} {params:>14,} {context:>17,}  {note}".rstrip())
    print("UNVERIFIED: sizes no primary source confirmed; a loaded checkpoint's own config.json always decides.")


def train_tokenizer_command(args) -> None:
    refuse_existing_output(args)
    tokenizer_class = BPE_TOKENIZERS[args.family]
    tokenizer = tokenizer_class.train(
        fasta_chunks(args.fasta, args.chunk_length), vocab_size=args.vocab_size, alphabet=args.alphabet
    )
    with writing(args.out) as temporary:
        if args.out.endswith(".json"):
            tokenizer.backend_tokenizer.save(temporary)
        else:
            tokenizer.save_pretrained(temporary)
    print(f"trained a {len(tokenizer)}-token {tokenizer_class.__name__} on {', '.join(args.fasta)} -> {args.out}")


def convert_command(args) -> None:
    check_output(args.destination, overwrite=True)  # convert itself refuses a non-empty destination unasked
    report = convert(args.source, args.destination, args.probe_length, overwrite=args.overwrite)
    print(f"converted {args.source} -> {args.destination}\nparity report:\n{report}")
    if not report.tokenizer_converted:
        print(
            f"note: {args.source} has no tokenizer (tokenizer.json or vocab.txt); save the family's tokenizer into "
            f"{args.destination} before embedding with it, e.g. dna_zoo.load_tokenizer(OTHER).save_pretrained(DEST)"
        )


def refuse_existing_output(args) -> None:
    check_output(args.out, args.overwrite)


def embed_command(args) -> None:
    if not args.out.endswith(EMBEDDING_FORMATS):
        raise SystemExit(f"--out {args.out}: embeddings are written as {' or '.join(EMBEDDING_FORMATS)}")
    refuse_existing_output(args)
    model, tokenizer = load_model(args.model, task="base"), load_tokenizer(args.model)
    options = dict(layer=args.layer, strand=args.strand, batch_size=args.batch_size)
    options.update(window=args.window, overlap=args.overlap, chunk_size=args.chunk_size, pooling=args.pooling)
    options.update(file_format=os.path.splitext(args.out)[1])
    with writing(args.out) as temporary:  # a killed or failed run never leaves a half-written output
        count, shape = write_embeddings(model, tokenizer, read_fasta(args.fasta), args.fasta, temporary, **options)
    print(f"{count} sequences -> {args.out} (embeddings {shape})")


def explain_regions(args, explain) -> list:
    """Run `explain(name, offset, sequence)` on each region (or record) of --fasta; a bad character names the
    record or region and its position in the record."""
    from .interpret.files import TABLE_FORMATS, read_regions

    if os.path.splitext(args.out)[1] not in TABLE_FORMATS:
        raise SystemExit(f"--out {args.out}: the table is written as {' or '.join(TABLE_FORMATS)}")
    refuse_existing_output(args)
    results = []
    for name, offset, sequence in read_regions(args.fasta, args.region):
        try:
            results.append(explain(name, offset, sequence))
        except InvalidSequenceError as error:
            raise ValueError(
                f"{args.fasta}: {name}: character {error.character!r} at position {offset + error.position} "
                f"(0-based) is not a base the model reads"
            ) from None
    return results


def write_explanations(args, results, figures) -> tuple[int, list[str]]:
    """The table of every result at --out, then `figures(result, genes)` -> [(kind, draw(path))] as
    OUT.NAME.KIND.png for each result (genes: the --gff intervals over it). Returns (rows, the plots' paths)."""
    from .interpret.files import safe_name, write_rows

    suffix = os.path.splitext(args.out)[1]
    rows = [row for result in results for row in result.table()]
    with writing(args.out) as temporary:
        write_rows(rows, temporary, suffix)
    genes = read_intervals(args.gff, feature=args.feature) if args.gff else {}
    plots = []
    for result in results:
        record = result.name.rsplit(":", 1)[0] if args.region else result.name
        end = result.offset + len(result.sequence)
        overlapping = [(a, b, strand) for a, b, strand in genes.get(record, []) if a < end and b > result.offset]
        for kind, draw in figures(result, overlapping):
            path = f"{args.out[: -len(suffix)]}.{safe_name(result.name)}.{kind}.png"
            with writing(path) as temporary:
                draw(temporary)
            plots.append(path)
    return len(rows), plots


def parse_target(text: str | None):
    return int(text) if text and text.isdigit() else text


def ism_command(args) -> None:
    from .interpret import saturation_mutagenesis
    from .interpret.plots import plot_importance_logo, plot_ism_heatmap, plot_track

    model, tokenizer = load_model(args.model), load_tokenizer(args.model)
    options = dict(target=parse_target(args.target), strand=args.strand, deletions=args.deletions)
    options.update(method=args.method, batch_size=args.batch_size)
    results = explain_regions(
        args,
        lambda name, offset, sequence: saturation_mutagenesis(
            model, tokenizer, sequence, **options, name=name, offset=offset
        ),
    )

    def figures(result, genes):
        return [
            ("heatmap", lambda path: plot_ism_heatmap(result, path)),
            ("logo", lambda path: plot_importance_logo(result, path)),
            ("track", lambda path: plot_track(result.importance(), path, result.offset, genes, "ISM importance")),
        ]

    mutants, plots = write_explanations(args, results, figures)
    print(f"{len(results)} sequences, {mutants} mutants scored ({results[0].score_name}) -> {args.out}")
    print(f"plots: {', '.join(plots)}")


def attribute_command(args) -> None:
    from .interpret import attribute
    from .interpret.plots import plot_importance_logo, plot_track

    model, tokenizer = load_model(args.model), load_tokenizer(args.model)
    options = dict(method=args.method, target=parse_target(args.target), steps=args.steps, shuffles=args.shuffles)
    results = explain_regions(
        args, lambda name, offset, sequence: attribute(model, tokenizer, sequence, **options, name=name, offset=offset)
    )

    def figures(result, genes):
        label = f"attribution ({result.method})"
        return [
            ("logo", lambda path: plot_importance_logo(result, path, result.values, label)),
            ("track", lambda path: plot_track(result.values, path, result.offset, genes, label)),
        ]

    _, plots = write_explanations(args, results, figures)
    print(f"{len(results)} sequences attributed ({results[0].score_name}, {args.method}) -> {args.out}")
    print(f"plots: {', '.join(plots)}")


def evaluate_command(args) -> None:
    from .evaluation import EvaluationConfig, evaluate

    peft = {"recipe": "recipe", "none": None}.get(args.peft, args.peft)
    config = EvaluationConfig(
        suite=args.suite,
        tasks=[task.strip() for task in args.tasks.split(",") if task.strip()],
        model=args.model,
        output_dir=args.output_dir,
        seeds=args.seeds,
        source=args.source,
        peft=peft,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        epochs=args.epochs,
        max_train=args.max_train,
    )
    with exclusive(args.output_dir):
        results = evaluate(config)
    for task, row in results["summary"].items():
        print(f"{task}: MCC {row['mcc_mean']:.3f} +- {row['mcc_sd']:.3f} ({row['seeds']} seeds)")
    print(f"results in {args.output_dir}/results.json, summary.md and mcc.png")


def score_variants_command(args) -> None:
    refuse_existing_output(args)
    model, tokenizer = load_model(args.model, task="lm"), load_tokenizer(args.model)  # masked or causal LM
    skipped = 0

    def counted(rows):
        nonlocal skipped
        for row in rows:
            skipped += row["status"] != "ok"
            yield row

    rows = iter_scores(model, tokenizer, args.fasta, args.vcf, args.window, args.strand, args.strict)
    count = write_scores(counted(rows), args.out, overwrite=True, columns=score_columns(model))
    print(f"{count - skipped} variants scored, {skipped} skipped (the reason is in `status`) -> {args.out}")


def pretrain_command(args) -> None:
    from dataclasses import fields

    from .training import PretrainConfig, pretrain

    config = PretrainConfig(**{f.name: getattr(args, f.name) for f in fields(PretrainConfig) if hasattr(args, f.name)})
    result = pretrain(config, resume=args.resume, overwrite=args.overwrite)
    summary = f"trained {result['step']} steps; final loss {result['losses'][-1]:.4f}"
    if result["validation"]:
        summary += f"; validation loss {result['validation'][-1][1]:.4f}"
    print(f"{summary}; model in {args.output_dir}/final, loss curve in {args.output_dir}/loss_curve.png")


def finetune_command(args) -> None:
    from .training import FinetuneConfig, finetune

    config = FinetuneConfig(
        model=args.model,
        train=args.train,
        validation=args.validation,
        test=args.test,
        output_dir=args.output_dir,
        task=args.task,
        sequence_column=args.sequence_column,
        label_columns=args.label_columns,
        peft=args.peft,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        class_weights=args.class_weights,
        early_stopping_patience=args.early_stopping_patience,
        eval_steps=args.eval_steps,
        max_length=args.max_length,
        too_long=args.too_long,
        seed=args.seed,
        fsdp=args.fsdp,
        rank_timeout=args.rank_timeout,
    )
    result = finetune(config, resume=args.resume, overwrite=args.overwrite)
    for split, metrics in result["metrics"].items():
        values = {key.removeprefix(f"{split}_"): value for key, value in metrics.items()}
        shown = ", ".join(f"{name} {values[name]:.4f}" for name in SHOWN if name in values)
        print(f"{split}: {shown}")
    if args.peft:
        merged = os.path.join(args.output_dir, "merged")
        print(f"adapter and head in {result['model_dir']}; the merged model (for predict) in {merged}")
    else:
        print(f"model in {result['model_dir']}")
    print(f"metrics and training log in {args.output_dir}/metrics.json")
    if result["plots"]:
        print(f"plots: {', '.join(result['plots'])}")


SHOWN = ("mcc", "f1", "f1_macro", "accuracy", "auroc", "auprc", "pearson", "spearman", "mse", "loss")


def read_sequences(path: str, sequence_column: str, id_column: str | None) -> tuple[list[str], list[str]]:
    """(ids, sequences) from a FASTA file or a table (CSV/TSV/Parquet/JSONL)."""
    from .data import read_table

    name = path[:-3] if path.endswith(".gz") else path
    if name.endswith((".fa", ".fasta", ".fna", ".fas")):
        records = list(read_fasta(path))
        return [r[0] for r in records], [r[1] for r in records]
    table = read_table(path)
    if sequence_column not in table.column_names:
        raise SystemExit(f"{path}: no column {sequence_column!r}; columns are {', '.join(table.column_names)}")
    ids = table[id_column] if id_column else [str(i) for i in range(len(table))]
    return [str(i) for i in ids], table[sequence_column]


def predict_command(args) -> None:
    from .checkpoints import detect_checkpoint
    from .inference import predict

    refuse_existing_output(args)
    task = detect_checkpoint(args.model).own_task
    if task not in ("sequence-classification", "token-classification"):
        raise SystemExit(
            f"{args.model} is a {task} model without a trained classification or regression head; "
            "fine-tune it first (dna-zoo finetune) and predict with OUTPUT_DIR/final"
        )
    token_task = task == "token-classification"
    model, tokenizer = load_model(args.model, task=task), load_tokenizer(args.model)
    ids, sequences = read_sequences(args.input, args.sequence_column, args.id_column)
    values = predict(model, tokenizer, sequences, batch_size=args.batch_size)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    with writing(args.out) as temporary, open(temporary, "w", newline="", encoding="utf-8") as handle:
        table = csv.writer(handle, delimiter="\t", lineterminator="\n")  # an id with a tab or newline is quoted
        if token_task:  # one row per base: id, position (0-based), predicted class, probabilities
            table.writerow(["id", "position", "prediction", *names])
            for name, per_base in zip(ids, values):
                for position, row in enumerate(per_base):
                    table.writerow([name, position, names[int(row.argmax())], *(f"{v:.6g}" for v in row)])
        else:
            regression = model.config.problem_type == "regression"
            multilabel = model.config.problem_type == "multi_label_classification"
            table.writerow(["id", *([] if regression or multilabel else ["prediction"]), *names])
            for name, row in zip(ids, values):
                label = [] if regression or multilabel else [names[int(row.argmax())]]
                table.writerow([name, *label, *(f"{v:.6g}" for v in row)])
    print(f"{len(ids)} sequences -> {args.out}")


def _checked(kind, test, requirement: str):
    """An argparse type: `kind` (int or float), refused with one line unless `test(value)` holds."""

    def parse(text: str):
        value = kind(text)
        if not test(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text}")
        return value

    parse.__name__ = f"{requirement} {kind.__name__}"  # argparse's "invalid ... value" message
    return parse


def positive(kind):
    return _checked(kind, lambda value: value > 0, "> 0")


def non_negative(kind):
    return _checked(kind, lambda value: value >= 0, ">= 0")


fraction = _checked(float, lambda value: 0 < value < 1, "between 0 and 1")
share = _checked(float, lambda value: 0 <= value <= 1, "from 0 to 1")


class HelpFormatter(argparse.HelpFormatter):
    """Every option with a default value shows it."""

    def _get_help_string(self, action) -> str:
        shown = action.default not in (None, False, argparse.SUPPRESS) and not action.required
        return f"{action.help} (default: {action.default})" if shown and action.option_strings else action.help


def add_explanation_arguments(parser, columns: str, plots: str) -> None:
    """The input and output flags `ism` and `attribute` share."""
    parser.add_argument("--fasta", required=True, help="FASTA file; each record is explained unless --region is given")
    parser.add_argument(
        "--region", nargs="+", help="RECORD:START-END (1-based, inclusive) of an indexed FASTA, one or more"
    )
    parser.add_argument(
        "--out", required=True, help=f"table .tsv or .parquet ({columns}); beside it OUT.NAME.{plots}.png"
    )
    parser.add_argument("--target", help="fine-tuned models: the label (name or index) explained (default: predicted)")
    parser.add_argument("--gff", help="GFF/BED of genes drawn under the track plot")
    parser.add_argument("--feature", default="CDS", help="GFF feature type drawn (e.g. CDS, gene)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def add_distributed_arguments(parser) -> None:
    """The options of a training command run on several processes (under torchrun)."""
    parser.add_argument(
        "--fsdp",
        action="store_true",
        help="shard weights, gradients and optimizer state across the processes (FSDP2; launch with torchrun)",
    )
    parser.add_argument(
        "--rank-timeout",
        type=positive(float),
        default=300.0,
        help="seconds a process of a distributed job may stay silent before the job stops, naming it",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dna-zoo", description="DNA language models for transformers.", formatter_class=HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"dna-zoo {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser = functools.partial(commands.add_parser, formatter_class=HelpFormatter)
    presets = commands.add_parser("presets", help="list every preset with its size and context length")
    presets.set_defaults(run=presets_command)
    train = commands.add_parser("train-tokenizer", help="train a BPE vocabulary on FASTA files")
    train.add_argument("--family", choices=sorted(BPE_TOKENIZERS), default="mistral_dna", help="whose BPE pipeline")
    train.add_argument("--fasta", nargs="+", required=True, help="FASTA files (plain, gzip or bgzip)")
    train.add_argument(
        "--vocab-size", type=positive(int), default=4096, help="tokens in the vocabulary, specials included"
    )
    train.add_argument("--alphabet", default="ACGTN", help="single bases always in the vocabulary")
    train.add_argument(
        "--chunk-length", type=positive(int), default=1000, help="sequences are cut into pieces of this length"
    )
    train.add_argument("--out", required=True, help="a directory (save_pretrained) or a tokenizer .json file")
    train.add_argument("--overwrite", action="store_true", help="replace an existing output")
    train.set_defaults(run=train_tokenizer_command)
    embedding = commands.add_parser("embed", help="one vector per FASTA record (or per base), saved as Parquet or NPZ")
    embedding.add_argument(
        "--model", default="demo", help="a dna_zoo folder, a published one (converted on load), or 'demo'"
    )
    embedding.add_argument("--fasta", required=True, help="FASTA file (plain, gzip or bgzip)")
    embedding.add_argument(
        "--out",
        required=True,
        help="output .parquet (one row per record: name, length, embedding; per base: name, position, embedding) or "
        ".npz (names, embeddings; per base: names, lengths, embeddings_0 .. one (length, H) array per record)",
    )
    embedding.add_argument("--chunk-size", type=positive(int), default=1024, help="records per Parquet write")
    embedding.add_argument("--layer", type=int, default=-1, help="hidden state: 0 the embeddings, -1 the last layer")
    embedding.add_argument(
        "--pooling",
        choices=["mean", "max", "cls", "base"],
        default="mean",
        help="over each record's own tokens; base: one vector per base, streamed to --out (any record length)",
    )
    embedding.add_argument(
        "--strand", choices=["forward", "both"], default="forward", help="both: average with the reverse complement"
    )
    embedding.add_argument("--batch-size", type=positive(int), default=16, help="sequences per forward pass")
    embedding.add_argument(
        "--window", type=positive(int), default=None, help="cut longer records into windows of this many bases"
    )
    embedding.add_argument("--overlap", type=non_negative(int), default=0, help="bases shared by consecutive windows")
    embedding.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    embedding.set_defaults(run=embed_command)
    scoring = commands.add_parser("score-variants", help="zero-shot variant effect scores from a VCF and a FASTA")
    scoring.add_argument(
        "--model", default="demo", help="a masked or causal LM: folder, Hub id or 'demo' (the default)"
    )
    scoring.add_argument("--fasta", required=True, help="reference FASTA (plain, gzip or bgzip)")
    scoring.add_argument("--vcf", required=True, help="VCF or BCF, plain or bgzipped")
    scoring.add_argument("--out", required=True, help="output TSV")
    scoring.add_argument("--window", type=positive(int), default=512, help="bases of reference around each variant")
    scoring.add_argument(
        "--strand", choices=["forward", "both"], default="forward", help="both: average with the reverse complement"
    )
    scoring.add_argument("--strict", action="store_true", help="a REF mismatch is an error, not a reported row")
    scoring.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    scoring.set_defaults(run=score_variants_command)
    ism = commands.add_parser(
        "ism", help="in-silico saturation mutagenesis: every base to each other base, scored (table + plots)"
    )
    ism.add_argument(
        "--model", default="demo", help="a masked or causal LM, or a fine-tuned folder (e.g. OUTPUT_DIR/final)"
    )
    add_explanation_arguments(ism, "name, position, ref, alt, score", "heatmap/logo/track")
    ism.add_argument(
        "--strand", choices=["forward", "both"], default="forward", help="both: average with the reverse complement"
    )
    ism.add_argument("--deletions", action="store_true", help="also score deleting each base (alt '-')")
    ism.add_argument(
        "--method",
        choices=["auto", "marginal", "exact"],
        default="auto",
        help="masked LMs: marginal (one masked forward per token, exact); exact: one forward per mutant",
    )
    ism.add_argument("--batch-size", type=positive(int), default=32, help="sequences per forward pass")
    ism.set_defaults(run=ism_command)
    attributing = commands.add_parser(
        "attribute", help="per-base attributions of a fine-tuned model's output (Captum; table + plots)"
    )
    attributing.add_argument("--model", required=True, help="a fine-tuned folder (e.g. OUTPUT_DIR/final)")
    add_explanation_arguments(attributing, "name, position, base, attribution", "logo/track")
    attributing.add_argument(
        "--method",
        choices=["integrated_gradients", "gradient_x_input"],
        default="integrated_gradients",
        help="on the input embeddings",
    )
    attributing.add_argument("--steps", type=positive(int), default=32, help="integrated gradients: points per path")
    attributing.add_argument(
        "--shuffles", type=positive(int), default=8, help="integrated gradients: shuffled baselines averaged"
    )
    attributing.set_defaults(run=attribute_command)
    evaluating = commands.add_parser(
        "evaluate", help="fine-tune and test on benchmark tasks (GUE, NT tasks, genomic-benchmarks), several seeds"
    )
    evaluating.add_argument(
        "--suite",
        required=True,
        choices=["gue", "nt", "nt_original", "genomic_benchmarks"],
        help="GUE, the NT downstream tasks (revised or original 18), or genomic-benchmarks",
    )
    evaluating.add_argument("--tasks", required=True, help="comma-separated task names, e.g. tf0,prom_300_all")
    evaluating.add_argument(
        "--model",
        default="demo",
        help="a dna_zoo folder, a published checkpoint, or 'demo'; under a Hub id a paper reports on the suite "
        "(e.g. zhihan1996/DNABERT-2-117M on GUE) the summary shows the published MCC per task beside ours",
    )
    evaluating.add_argument("--output-dir", required=True, help="results.json, summary.md, mcc.png and every run")
    evaluating.add_argument("--source", help="a local copy of the suite in its own layout (default: the Hub)")
    evaluating.add_argument("--seeds", type=positive(int), default=3, help="fine-tuning runs per task")
    evaluating.add_argument(
        "--peft", choices=["recipe", "none", "ia3", "lora"], default="recipe", help="recipe: the suite paper's"
    )
    evaluating.add_argument("--learning-rate", type=positive(float), help="default: the suite's recipe")
    evaluating.add_argument("--batch-size", type=positive(int), help="default: the suite's recipe")
    evaluating.add_argument("--epochs", type=positive(float), help="default: the suite's recipe")
    evaluating.add_argument("--max-train", type=positive(int), help="at most this many training sequences per task")
    evaluating.set_defaults(run=evaluate_command)
    training = commands.add_parser(
        "pretrain", help="pretrain a preset on FASTA windows (MLM, or causal LM for mistral_dna)"
    )
    training.add_argument("--family", choices=sorted(PRESETS), help="needed with a preset name")
    training.add_argument("--preset", default="tiny", help="a preset name, or a config.json file / model folder")
    training.add_argument("--fasta", nargs="+", required=True, help="training FASTA files (plain, gzip or bgzip)")
    training.add_argument("--output-dir", required=True, help="checkpoints, losses, plot and the final model")
    training.add_argument("--validation-fasta", nargs="*", default=[], help="held-out FASTA files (whole genomes)")
    training.add_argument("--validation-records", nargs="*", default=[], help="records of --fasta held out")
    training.add_argument("--validation-windows", type=positive(int), default=256, help="validation windows evaluated")
    training.add_argument("--eval-every", type=positive(int), default=100, help="steps between validation losses")
    training.add_argument("--window", type=positive(int), default=600, help="bases per window")
    training.add_argument(
        "--stride", type=positive(int), default=None, help="bases between window starts (default: window)"
    )
    training.add_argument("--random-offsets", action="store_true", help="jitter window starts by up to --stride")
    training.add_argument("--both-strands", action="store_true", help="add the reverse complement of each window")
    training.add_argument(
        "--split-n-run", type=positive(int), default=1, help="runs of at least this many N split windows"
    )
    training.add_argument(
        "--lowercase", choices=["upper", "exclude"], default="upper", help="soft-masked bases: train on them or not"
    )
    training.add_argument(
        "--max-tokens", type=positive(int), default=None, help="tokens per window (default: the context)"
    )
    training.add_argument("--steps", type=positive(int), default=1000, help="optimizer steps")
    training.add_argument("--batch-size", type=positive(int), default=8, help="windows per step and process")
    training.add_argument("--gradient-accumulation", type=positive(int), default=1, help="batches per optimizer step")
    training.add_argument("--learning-rate", type=positive(float), default=5e-4, help="peak learning rate (AdamW)")
    training.add_argument("--weight-decay", type=non_negative(float), default=0.01, help="AdamW weight decay")
    training.add_argument("--warmup-steps", type=non_negative(int), default=0, help="linear warm-up steps")
    training.add_argument("--lr-scheduler", default="linear", help="a transformers scheduler name, e.g. cosine")
    training.add_argument("--mlm-probability", type=fraction, default=0.15, help="fraction of tokens masked (MLM)")
    training.add_argument(
        "--mask-replace",
        type=share,
        default=0.8,
        help="of the masked tokens, the fraction shown as the mask token; half the rest random, half kept (MLM)",
    )
    training.add_argument("--checkpoint-every", type=positive(int), default=100, help="steps between checkpoints")
    training.add_argument(
        "--seed", type=non_negative(int), default=0, help="seeds initialisation, window order and masking"
    )
    training.add_argument(
        "--mixed-precision",
        choices=["no", "bf16", "fp16"],
        default="no",
        help="autocast precision (accelerate): bf16 on a GPU or a CPU with AMX / AVX-512 BF16, fp16 on a GPU",
    )
    add_distributed_arguments(training)
    training.add_argument("--resume", action="store_true", help="continue from the newest complete checkpoint")
    training.add_argument("--overwrite", action="store_true", help="start over in an output dir with checkpoints")
    training.set_defaults(run=pretrain_command)
    tuning = commands.add_parser("finetune", help="fine-tune on a labelled table (Trainer; full, IA3 or LoRA)")
    tuning.add_argument("--model", default="demo", help="a dna_zoo folder, a published checkpoint, or 'demo'")
    tuning.add_argument("--train", required=True, help="CSV/TSV/Parquet/JSONL with a sequence and label column(s)")
    tuning.add_argument("--validation", help="held-out table: early stopping and the best checkpoint")
    tuning.add_argument("--test", help="table evaluated once at the end")
    tuning.add_argument("--output-dir", required=True, help="Trainer checkpoints, metrics.json and the final model")
    tuning.add_argument(
        "--task",
        choices=["classification", "multilabel", "regression", "token"],
        default="classification",
        help="token: one label per base (a list column, e.g. from BED/GFF intervals)",
    )
    tuning.add_argument("--sequence-column", default="sequence", help="table column holding the sequences")
    tuning.add_argument("--label-columns", nargs="+", default=["label"], help="several for multi-label/regression")
    tuning.add_argument("--peft", choices=["ia3", "lora"], help="train an adapter (backbone frozen) and the head")
    tuning.add_argument("--epochs", type=positive(float), default=3.0, help="passes over the training table")
    tuning.add_argument("--batch-size", type=positive(int), default=8, help="sequences per training step")
    tuning.add_argument("--learning-rate", type=positive(float), help="default 5e-5 full, 3e-3 IA3, 5e-4 LoRA")
    tuning.add_argument("--class-weights", help="'balanced' (inverse frequency); default unweighted")
    tuning.add_argument(
        "--early-stopping-patience", type=non_negative(int), default=3, help="evaluations without improvement"
    )
    tuning.add_argument("--eval-steps", type=positive(int), help="evaluate every N steps (default: every epoch)")
    tuning.add_argument("--max-length", type=positive(int), help="tokens per sequence (default: the model's context)")
    tuning.add_argument(
        "--too-long", choices=["truncate", "error"], default="truncate", help="sequences longer than --max-length"
    )
    tuning.add_argument(
        "--seed", type=non_negative(int), default=0, help="seeds the new head, any adapter and the data order"
    )
    add_distributed_arguments(tuning)
    tuning.add_argument("--resume", action="store_true", help="continue from the newest Trainer checkpoint")
    tuning.add_argument("--overwrite", action="store_true", help="start over in an output dir with checkpoints")
    tuning.set_defaults(run=finetune_command)
    predicting = commands.add_parser("predict", help="predictions of a fine-tuned model for a FASTA file or table")
    predicting.add_argument("--model", required=True, help="a fine-tuned folder (e.g. OUTPUT_DIR/final)")
    predicting.add_argument("--input", required=True, help="FASTA, or CSV/TSV/Parquet/JSONL with a sequence column")
    predicting.add_argument("--out", required=True, help="output TSV")
    predicting.add_argument("--sequence-column", default="sequence", help="table column holding the sequences")
    predicting.add_argument("--id-column", help="table column naming each sequence (default: the row number)")
    predicting.add_argument("--batch-size", type=positive(int), default=16, help="sequences per forward pass")
    predicting.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    predicting.set_defaults(run=predict_command)
    conversion = commands.add_parser("convert", help="convert a published checkpoint folder to the dna_zoo layout")
    conversion.add_argument("source", help="folder in a published layout (config.json + weights)")
    conversion.add_argument("destination", help="output folder (dna_zoo layout)")
    conversion.add_argument("--probe-length", type=positive(int), default=64, help="tokens of the parity probe batch")
    conversion.add_argument("--overwrite", action="store_true", help="replace a destination that holds files")
    conversion.set_defaults(run=convert_command)
    return parser


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    output = getattr(args, "out", None) or getattr(args, "destination", None)  # pretrain and finetune lock their own
    try:
        with exclusive(output) if output and os.path.isdir(os.path.dirname(os.path.abspath(output))) else nullcontext():
            args.run(args)
    except Exception as error:  # one clear message on stderr and a non-zero exit; --debug shows the traceback
        if args.debug:
            raise
        written = output or getattr(args, "output_dir", None)
        if reason := storage_failure(error):
            raise SystemExit(
                f"dna-zoo {args.command}: a write failed: {reason} (output {written}). Nothing half-written was left "
                "(a run folder keeps its complete checkpoints, for --resume); free some space and run it again"
            ) from None
        raise SystemExit(f"dna-zoo {args.command}: {type(error).__name__}: {error}") from None


if __name__ == "__main__":
    main()
