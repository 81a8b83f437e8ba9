"""DNABERT-2: the shared family checks, parity with multimolecule's native DnaBert2 (an implementation nobody here
wrote) on the same weights in the authors' published layout, ALiBi, and the one loader telling a DNABERT-2 "bert"
config from a GENA one."""

import json

import torch
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from dna_zoo import (
    DNABERT2Config,
    DNABERT2ForMaskedLM,
    DNABERT2ForSequenceClassification,
    DNABERT2ForTokenClassification,
    DNABERT2Model,
    DNABERT2Tokenizer,
    load_model,
)
from dna_zoo.checkpoints import detect_checkpoint
from dna_zoo.models.modeling_dnabert2 import alibi_slopes

from model_tester import FamilyModelTests

TOKENIZER = DNABERT2Tokenizer()
SEQUENCES = ["ACGTACGTTTGACCAGGCTAGCTAGGATCGATCGAAATTTCCCGGG", "TTGACCAGGCATCG", "GGGCCCAAATTTACGT" * 3]


def padded_batch(sequences=SEQUENCES):
    batch = TOKENIZER(sequences, padding=True, return_tensors="pt")
    return batch["input_ids"], batch["attention_mask"]


class TestDNABERT2Family(FamilyModelTests):
    config_class = DNABERT2Config
    base_class = DNABERT2Model
    model_classes = {
        DNABERT2Model: AutoModel,
        DNABERT2ForMaskedLM: AutoModelForMaskedLM,
        DNABERT2ForSequenceClassification: AutoModelForSequenceClassification,
        DNABERT2ForTokenClassification: AutoModelForTokenClassification,
    }

    def make_batch(self, config):
        return padded_batch()


class TestDNABERT2MeanPoolingFamily(TestDNABERT2Family):
    def make_model(self, cls, **overrides):
        return super().make_model(cls, classifier_pooling="mean", **overrides)


def test_alibi_slopes_are_the_papers():
    """Press et al.: 2^(-8 i / n) for n a power of two; else the power of two below, then every other one above."""
    assert torch.allclose(alibi_slopes(8), torch.tensor([2.0 ** (-i) for i in range(1, 9)]))
    twelve = [2.0 ** (-i) for i in range(1, 9)] + [2.0 ** (-(2 * i + 1) / 2) for i in range(4)]
    assert torch.allclose(alibi_slopes(12), torch.tensor(twelve))


# ------------------------------------------------------------------ the authors' published layout


def published_checkpoint(folder, hidden=32, layers=2, heads=4, intermediate=64, vocab=4096, seed=0):
    """A folder as the authors publish DNABERT-2 (config.json for their `bert_layers` remote code, weights under
    their names in pytorch_model.bin), random weights; returns the state dict."""
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape, around=0.0):
        return around + 0.2 * torch.randn(*shape, generator=generator)

    weights = {
        "bert.embeddings.word_embeddings.weight": rand(vocab, hidden),
        "bert.embeddings.token_type_embeddings.weight": rand(2, hidden),
        "bert.embeddings.LayerNorm.weight": rand(hidden, around=1.0),
        "bert.embeddings.LayerNorm.bias": rand(hidden),
    }
    for i in range(layers):
        layer = f"bert.encoder.layer.{i}."
        weights.update(
            {
                layer + "attention.self.Wqkv.weight": rand(3 * hidden, hidden),
                layer + "attention.self.Wqkv.bias": rand(3 * hidden),
                layer + "attention.output.dense.weight": rand(hidden, hidden),
                layer + "attention.output.dense.bias": rand(hidden),
                layer + "attention.output.LayerNorm.weight": rand(hidden, around=1.0),
                layer + "attention.output.LayerNorm.bias": rand(hidden),
                layer + "mlp.gated_layers.weight": rand(2 * intermediate, hidden),
                layer + "mlp.wo.weight": rand(hidden, intermediate),
                layer + "mlp.wo.bias": rand(hidden),
                layer + "mlp.layernorm.weight": rand(hidden, around=1.0),
                layer + "mlp.layernorm.bias": rand(hidden),
            }
        )
    weights.update(
        {
            "cls.predictions.bias": rand(vocab),
            "cls.predictions.transform.dense.weight": rand(hidden, hidden),
            "cls.predictions.transform.dense.bias": rand(hidden),
            "cls.predictions.transform.LayerNorm.weight": rand(hidden, around=1.0),
            "cls.predictions.transform.LayerNorm.bias": rand(hidden),
        }
    )
    weights["cls.predictions.decoder.weight"] = weights["bert.embeddings.word_embeddings.weight"]  # tied
    weights["cls.predictions.decoder.bias"] = weights["cls.predictions.bias"]
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(weights, folder / "pytorch_model.bin")
    config = {
        "model_type": "bert",
        "architectures": ["BertForMaskedLM"],
        "auto_map": {
            "AutoConfig": "configuration_bert.BertConfig",
            "AutoModel": "bert_layers.BertModel",
            "AutoModelForMaskedLM": "bert_layers.BertForMaskedLM",
            "AutoModelForSequenceClassification": "bert_layers.BertForSequenceClassification",
        },
        "alibi_starting_size": 512,
        "attention_probs_dropout_prob": 0.0,
        "hidden_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "vocab_size": vocab,
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
    }
    (folder / "config.json").write_text(json.dumps(config))
    return weights, config


def test_published_layout_matches_multimolecule_on_the_same_weights(tmp_path):
    """multimolecule's converter reads the authors' layout into its own DnaBert2; the one loader reads it into
    dna_zoo's: the same logits on every real token, fp32."""
    import multimolecule.models as multimolecule  # the dev extra: a test-only reference
    from multimolecule.models.dnabert2.convert_checkpoint import _convert_checkpoint

    weights, raw = published_checkpoint(tmp_path / "published")
    config = multimolecule.DnaBert2Config(
        vocab_size=raw["vocab_size"],
        hidden_size=raw["hidden_size"],
        num_hidden_layers=raw["num_hidden_layers"],
        num_attention_heads=raw["num_attention_heads"],
        intermediate_size=raw["intermediate_size"],
        hidden_dropout=0.0,
        attention_dropout=0.0,
        position_embedding_type="alibi",
        layer_norm_eps=raw["layer_norm_eps"],
        pad_token_id=TOKENIZER.pad_token_id,
    )
    reference = multimolecule.DnaBert2ForMaskedLM(config).eval()
    reference.load_state_dict(_convert_checkpoint(config, weights))
    ours = load_model(str(tmp_path / "published")).eval()
    assert isinstance(ours, DNABERT2ForMaskedLM)
    input_ids, attention_mask = padded_batch()
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=attention_mask).logits
        logits = ours(input_ids=input_ids, attention_mask=attention_mask).logits
    real = attention_mask.bool()
    assert (logits - expected)[real].abs().max() <= 1e-4
    assert expected[real].std() > 0.5  # guard: the outputs are not trivially equal


def test_the_one_loader_tells_dnabert2_from_gena_and_saves_dna_zoos_layout(tmp_path):
    published_checkpoint(tmp_path / "published")
    checkpoint = detect_checkpoint(str(tmp_path / "published"))
    assert checkpoint.family == "dnabert_2" and checkpoint.layout == "bert-alibi"
    model = load_model(str(tmp_path / "published"))
    model.save_pretrained(tmp_path / "saved")
    assert detect_checkpoint(str(tmp_path / "saved")).layout == "dna_zoo"
    reloaded = load_model(str(tmp_path / "saved"))
    input_ids, attention_mask = padded_batch()
    with torch.no_grad():
        assert torch.equal(
            model(input_ids=input_ids, attention_mask=attention_mask).logits,
            reloaded(input_ids=input_ids, attention_mask=attention_mask).logits,
        )
    classifier = load_model(str(tmp_path / "published"), task="sequence-classification", num_labels=2)
    assert isinstance(classifier, DNABERT2ForSequenceClassification)  # a new pooler and classifier on the backbone


def test_alibi_runs_past_the_starting_size_and_padding_changes_nothing():
    torch.manual_seed(0)
    model = DNABERT2Model(DNABERT2Config.from_preset("tiny", max_position_embeddings=16)).eval()
    generator = torch.Generator().manual_seed(0)
    sequences = ["".join("ACGT"[i] for i in torch.randint(0, 4, (n,), generator=generator)) for n in (300, 90, 170)]
    input_ids, attention_mask = padded_batch(sequences)
    assert input_ids.shape[1] > 16  # longer than the ALiBi table built at start: the bias is computed per length
    with torch.no_grad():
        batch = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        for row, sequence in enumerate(sequences):
            ids, mask = padded_batch([sequence])
            alone = model(input_ids=ids, attention_mask=mask).last_hidden_state[0]
            assert torch.allclose(batch[row, : ids.shape[1]], alone, atol=1e-5)


def test_multimolecule_installed_beside_dna_zoo_takes_none_of_its_auto_classes(tmp_path):
    """multimolecule registers its own "dnabert2" and "hyenadna" model types: dna_zoo's are other names."""
    import multimolecule.models  # noqa: F401  (registers its Auto classes)
    from transformers import AutoConfig

    DNABERT2ForMaskedLM(DNABERT2Config.from_preset("tiny")).save_pretrained(tmp_path)
    assert type(AutoConfig.from_pretrained(tmp_path)) is DNABERT2Config
    assert type(AutoModelForMaskedLM.from_pretrained(tmp_path)) is DNABERT2ForMaskedLM
