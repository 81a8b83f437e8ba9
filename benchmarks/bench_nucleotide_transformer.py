"""dna_zoo Nucleotide Transformer against transformers' EsmForMaskedLM, on the same weights and inputs.

Model: the NT-v1 architecture at 500M width (H 1280, 20 heads, FFN 5120, token dropout) with fewer layers,
batch 4 x 1000 tokens, fp32. Workloads: inference forward (no grad) and one training step (forward, MLM loss,
backward, AdamW step). Tokenizer: dna_zoo against EsmTokenizer and InstaDeep's plain-Python k-mer algorithm on
the same vocabulary, batched and one window per call, identical ids required.

    python benchmarks/bench_nucleotide_transformer.py [--layers 2] [--repeats 5] [--device cpu]

Prints throughput and peak-memory ratios (reference / dna_zoo for time, dna_zoo / reference for memory) from
one run, and PASS / FAIL against the targets.
"""

import argparse
import random
import sys
import tempfile
from pathlib import Path

import torch
from transformers import EsmConfig, EsmForMaskedLM, EsmTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    dense_matmul_rate,
    efficiency_lines,
    interleaved_timings,
    peak_memory_mib,
    report_timing,
    target_line,
)

from dna_zoo import NucleotideTransformerForMaskedLM, NucleotideTransformerTokenizer  # noqa: E402
from dna_zoo.models.tokenization_dna import kmer_vocabulary  # noqa: E402


def build_models(layers: int, device: str):
    torch.manual_seed(0)
    config = EsmConfig(
        vocab_size=4105,
        hidden_size=1280,
        num_hidden_layers=layers,
        num_attention_heads=20,
        intermediate_size=5120,
        max_position_embeddings=1002,
        position_embedding_type="absolute",
        token_dropout=True,
        pad_token_id=1,
        mask_token_id=2,
        layer_norm_eps=1e-12,
        emb_layer_norm_before=False,
        tie_word_embeddings=False,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    reference = EsmForMaskedLM(config)
    with tempfile.TemporaryDirectory() as tmp:
        reference.save_pretrained(tmp)
        ours = NucleotideTransformerForMaskedLM.from_pretrained(tmp)
    return reference.to(device), ours.to(device)


def make_batch(batch_size: int, length: int, device: str):
    torch.manual_seed(1)
    input_ids = torch.randint(4, 4100, (batch_size, length))
    input_ids[:, 0] = 3
    masked = torch.rand(batch_size, length) < 0.15
    masked[:, 0] = False
    labels = torch.where(masked, input_ids, -100)
    input_ids = torch.where(masked, 2, input_ids)
    return input_ids.to(device), torch.ones_like(input_ids).to(device), labels.to(device)


def matmul_flops(model, batch: int, length: int) -> tuple[float, list[tuple[int, int, int]]]:
    """Matmul FLOPs of one forward: every Linear (2 x tokens x in x out) plus attention's two L x L products
    per layer (2 x 2 x B x L^2 x H), and the Linear shapes (tokens, in, out)."""
    tokens = batch * length
    shapes = [(tokens, m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    linear = sum(2 * t * i * o for t, i, o in shapes)
    attention = 4 * batch * length**2 * model.config.hidden_size * model.config.num_hidden_layers
    return float(linear + attention), shapes


def model_benchmark(args) -> list[str]:
    reference, ours = build_models(args.layers, args.device)
    input_ids, attention_mask, labels = make_batch(args.batch, args.length, args.device)
    with torch.no_grad():
        difference = (reference(input_ids, attention_mask).logits - ours(input_ids, attention_mask).logits).abs().max()
    print(f"max abs logit difference on the benchmark batch: {difference:.2e}")

    def forward(model):
        def run():
            with torch.no_grad():
                model(input_ids=input_ids, attention_mask=attention_mask)

        return run

    optimizers = {id(m): torch.optim.AdamW(m.parameters(), lr=1e-6) for m in (reference, ours)}

    def train_step(model):
        def run():
            optimizer = optimizers[id(model)]
            loss = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        return run

    tokens = args.batch * args.length
    forward_flops, shapes = matmul_flops(ours, args.batch, args.length)
    matmul_rate = dense_matmul_rate(shapes, args.device)
    lines = [f"INFO  torch dense fp32 matmul on the model's Linear shapes: {matmul_rate / 1e9:.0f} GFLOP/s"]
    for workload, make, repeats in (
        ("forward", forward, args.repeats),
        ("train step", train_step, max(2, args.repeats // 2)),
    ):
        for model in (reference, ours):
            model.train(workload == "train step")
        fns = {"EsmForMaskedLM": make(reference), "dna_zoo": make(ours)}
        timings = interleaved_timings(fns, repeats=repeats, device=args.device)
        memory = {name: peak_memory_mib(fn, args.device) for name, fn in fns.items()}
        for name, timing in timings.items():
            report_timing("nucleotide_transformer", workload, name, timing, memory[name], tokens)
        speed = timings["EsmForMaskedLM"].median / timings["dna_zoo"].median
        memory_ratio = memory["dna_zoo"] / memory["EsmForMaskedLM"]
        flops = forward_flops * (3 if workload == "train step" else 1)  # backward: twice the forward's matmuls
        lines += efficiency_lines(f"NT {workload}", timings, flops, matmul_rate)
        lines.append(target_line(f"NT {workload} throughput vs EsmForMaskedLM", speed, 1.0, higher_is_better=True))
        lines.append(
            target_line(f"NT {workload} peak memory vs EsmForMaskedLM", memory_ratio, 1.0, higher_is_better=False)
        )
    return lines


class InstaDeepKmerTokenizer:
    """InstaDeep's k-mer algorithm as their nucleotide-transformer repository writes it in plain Python
    (NucleotidesKmersTokenizer.tokenize, prepend_cls_token=True; batch_tokenize then pad_tokens_batch), rewritten
    here from reading it, on the same v2 vocabulary: split at each N, cut each piece into k-mers from the left,
    leftover bases one by one, ids looked up token by token."""

    def __init__(self, vocabulary: list[str], k: int = 6):
        self.tokens_to_ids = {token: index for index, token in enumerate(vocabulary)}
        self.k = k

    def token_to_id(self, token: str) -> int:
        try:
            return self.tokens_to_ids[token]
        except KeyError:
            raise KeyError(f"Token {token} not found in vocabulary") from None

    def tokenize(self, sequence: str) -> list[int]:
        pieces = sequence.split("N")
        tokens = []
        for i, piece in enumerate(pieces):
            chunks = [piece[j * self.k : (j + 1) * self.k] for j in range(len(piece) // self.k)]
            if len(piece) % self.k:
                chunks.append(piece[len(piece) // self.k * self.k :])
            for chunk in chunks:
                tokens.extend([chunk] if len(chunk) == self.k else list(chunk))
            if i < len(pieces) - 1:
                tokens.append("N")
        return [self.token_to_id(token) for token in ["<cls>", *tokens]]

    def batch_tokenize(self, sequences: list[str]) -> list[list[int]]:
        batch = [self.tokenize(sequence) for sequence in sequences]
        width, pad = max(map(len, batch)), self.tokens_to_ids["<pad>"]
        return [ids + [pad] * (width - len(ids)) for ids in batch]


def tokenizer_benchmark(args) -> list[str]:
    rng = random.Random(0)
    sequences = []
    for _ in range(args.tokenizer_sequences):  # 6 kb windows with the odd N run and soft-masked stretch
        seq = "".join(rng.choice("ACGT") for _ in range(6000))
        at = rng.randrange(0, 5900)
        seq = seq[:at] + "N" * rng.randint(1, 20) + seq[at + 20 :]
        sequences.append(seq)
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = Path(tmp) / "vocab.txt"
        vocab_file.write_text("\n".join(kmer_vocabulary("v2")))
        reference = EsmTokenizer(str(vocab_file), eos_token=None)
    instadeep = InstaDeepKmerTokenizer(kmer_vocabulary("v2"))
    ours = NucleotideTransformerTokenizer()
    batched = {
        "EsmTokenizer": lambda: reference(sequences, padding=True, return_tensors="pt")["input_ids"],
        "InstaDeep (plain Python)": lambda: torch.tensor(instadeep.batch_tokenize(sequences)),
        "dna_zoo": lambda: ours(sequences, padding=True, return_tensors="pt")["input_ids"],
    }
    per_call = {  # one window per call, as a data loader does
        "EsmTokenizer": lambda: [reference(s)["input_ids"] for s in sequences],
        "InstaDeep (plain Python)": lambda: [instadeep.tokenize(s) for s in sequences],
        "dna_zoo": lambda: [ours(s)["input_ids"] for s in sequences],
    }
    expected = batched["EsmTokenizer"]()
    identical = all(torch.equal(fn(), expected) for fn in batched.values())
    identical &= all(fn() == per_call["EsmTokenizer"]() for fn in per_call.values())
    bases = 6000 * len(sequences)
    lines = [f"{'PASS' if identical else 'FAIL'}  tokenizer ids identical to EsmTokenizer on {len(sequences)} x 6 kb"]
    for mode, fns in (("batched", batched), ("per call", per_call)):
        timings = interleaved_timings(fns, repeats=args.repeats)
        for name, timing in timings.items():
            report_timing("tokenizer", f"{mode} {bases / 1e6:.1f} Mbases", name, timing)
            print(f"  {mode} {name}: {bases / timing.median / 1e6:.1f} Mbp/s")
        ours_s = timings["dna_zoo"].median
        target = 10.0 if mode == "batched" else 1.0
        lines.append(
            target_line(f"tokenizer {mode} vs EsmTokenizer", timings["EsmTokenizer"].median / ours_s, target, True)
        )
        instadeep_s = timings["InstaDeep (plain Python)"].median
        lines.append(target_line(f"tokenizer {mode} vs InstaDeep's algorithm", instadeep_s / ours_s, 1.0, True))
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokenizer-sequences", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-model", action="store_true", help="run the tokenizer benchmark only")
    args = parser.parse_args(argv)
    torch.set_grad_enabled(True)
    lines = [] if args.skip_model else model_benchmark(args)
    lines += tokenizer_benchmark(args)
    print(
        "\n".join(["", f"device: {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}", *lines])
    )


if __name__ == "__main__":
    main()
