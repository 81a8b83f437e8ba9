"""transformers pipelines work with dna_zoo models and tokenizers."""

import torch
from transformers import pipeline

import dna_zoo


def tiny(model_class, config_class, **overrides):
    torch.manual_seed(0)
    return model_class(config_class.from_preset("tiny", **overrides)).eval()


def test_fill_mask():
    model = tiny(dna_zoo.NucleotideTransformerForMaskedLM, dna_zoo.NucleotideTransformerConfig)
    fill = pipeline("fill-mask", model=model, tokenizer=dna_zoo.NucleotideTransformerTokenizer())
    predictions = fill("ACGTAC<mask>ACGTAC", top_k=3)
    assert len(predictions) == 3 and all(len(p["token_str"]) in (1, 6) for p in predictions)
    assert all(p["sequence"].startswith("ACGTAC") for p in predictions)


def test_feature_extraction_for_every_family():
    cases = [
        (
            dna_zoo.NucleotideTransformerModel,
            dna_zoo.NucleotideTransformerConfig,
            dna_zoo.NucleotideTransformerTokenizer,
        ),
        (dna_zoo.MistralDNAModel, dna_zoo.MistralDNAConfig, dna_zoo.MistralDNATokenizer),
        (dna_zoo.GenaLMModel, dna_zoo.GenaLMConfig, dna_zoo.GenaLMTokenizer),
        (dna_zoo.TrinityDNAModel, dna_zoo.TrinityDNAConfig, dna_zoo.TrinityDNATokenizer),
        (dna_zoo.DNABERT2Model, dna_zoo.DNABERT2Config, dna_zoo.DNABERT2Tokenizer),
        (dna_zoo.HyenaDNAModel, dna_zoo.HyenaDNAConfig, dna_zoo.HyenaDNATokenizer),
        (dna_zoo.CaduceusModel, dna_zoo.CaduceusConfig, dna_zoo.CaduceusTokenizer),  # RCPS: 2 x 16 channels
        (dna_zoo.NTv3Model, dna_zoo.NTv3Config, dna_zoo.NTv3Tokenizer),  # per base: the stem's 16 channels
    ]
    for model_class, config_class, tokenizer_class in cases:
        model = tiny(model_class, config_class)
        extract = pipeline("feature-extraction", model=model, tokenizer=tokenizer_class())
        features = extract("ACGTTGCAGGCTAAGT")
        width = model.config.embedding_size * (2 if getattr(model.config, "rcps", False) else 1)
        assert len(features[0][0]) == width == (16 if model_class is dna_zoo.NTv3Model else 32), model_class.__name__


def test_text_generation():
    model = tiny(dna_zoo.MistralDNAForCausalLM, dna_zoo.MistralDNAConfig)
    generate = pipeline("text-generation", model=model, tokenizer=dna_zoo.MistralDNATokenizer())
    text = generate("ACGTTGCAGGCTAAGT", max_new_tokens=8, do_sample=False)[0]["generated_text"]
    assert text.startswith("ACGTTGCAGGCTAAGT") and len(text) > 16 and set(text) <= set("ACGTN")


def test_text_and_token_classification():
    labels = {"id2label": {0: "non-coding", 1: "coding"}, "label2id": {"non-coding": 0, "coding": 1}}
    classifier = tiny(dna_zoo.GenaLMForSequenceClassification, dna_zoo.GenaLMConfig, num_labels=2, **labels)
    classify = pipeline("text-classification", model=classifier, tokenizer=dna_zoo.GenaLMTokenizer())
    assert classify("ACGTTGCAGGCTAAGTACGT")[0]["label"] in ("coding", "non-coding")
    tagger = tiny(dna_zoo.TrinityDNAForTokenClassification, dna_zoo.TrinityDNAConfig, num_labels=2, **labels)
    tag = pipeline("token-classification", model=tagger, tokenizer=dna_zoo.TrinityDNATokenizer())
    tags = tag("ACGTTGCA")
    assert len(tags) == 8 and [t["start"] for t in tags] == list(range(8))  # one prediction per base
