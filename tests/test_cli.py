import re

import pytest

import dna_zoo
from dna_zoo import list_presets
from dna_zoo.cli import main


def test_presets_command_lists_every_preset_with_size_and_context(capsys):
    main(["presets"])
    out = capsys.readouterr().out
    for family, names in list_presets().items():
        for name in names:
            line = next(line for line in out.splitlines() if f" {name} " in f" {line} " and line.startswith(family))
            params, context = re.search(r"([\d,]+) +([\d,]+)(  UNVERIFIED: .*)?$", line).groups()[:2]
            assert int(params.replace(",", "")) > 0 and int(context.replace(",", "")) > 0
    assert "InstaDeepAI/nucleotide-transformer-v2-50m-multi-species" in out and "52,484,608" in out
    unverified = {line.split()[1] for line in out.splitlines() if "UNVERIFIED:" in line and "/" in line}
    assert unverified == {
        "InstaDeepAI/nucleotide-transformer-v2-250m-multi-species",
        "RaphaelMourad/Mistral-DNA-v1-17M-hg38",
        "RaphaelMourad/Mistral-DNA-v1-138M-hg38",
        "zhihan1996/DNABERT-2-117M",
        *(name for name in list_presets("hyena_dna")["hyena_dna"] if name != "tiny"),
        *(name for name in list_presets("caduceus_dna")["caduceus_dna"] if name != "tiny"),
        *(name for name in list_presets("ntv3_dna")["ntv3_dna"] if name not in ("tiny", "demo")),
    }


def test_an_error_is_one_message_without_traceback_and_debug_shows_it(tmp_path, capsys):
    fasta = tmp_path / "a.fa"
    fasta.write_text(">a\nACGT\n")
    arguments = ["embed", "--model", "dmeo", "--fasta", str(fasta), "--out", str(tmp_path / "e.npz")]
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    message = str(exit_info.value.code)
    assert message.startswith("dna-zoo embed: FileNotFoundError: 'dmeo' is neither a model folder, 'demo', nor a Hub")
    assert "Traceback" not in message and "\n" not in message
    with pytest.raises(FileNotFoundError, match="'dmeo' is neither"):
        main(["--debug", *arguments])


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"dna-zoo {dna_zoo.__version__}"


def test_every_flag_of_every_subcommand_is_documented_with_its_default():
    import argparse

    from dna_zoo.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, subparser in commands.choices.items():
        text = subparser.format_help()
        for action in subparser._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
                assert f"(default: {action.default})" in " ".join(text.split()), (name, action.option_strings)


def test_embed_refuses_an_output_format_it_does_not_write(tmp_path):
    fasta = tmp_path / "a.fa"
    fasta.write_text(">a\nACGTACGT\n")
    with pytest.raises(SystemExit, match=r"--out .*one.csv: embeddings are written as .parquet or .npz"):
        main(["embed", "--fasta", str(fasta), "--out", str(tmp_path / "one.csv")])
    assert not (tmp_path / "one.csv").exists()


@pytest.mark.parametrize(
    "arguments,message",
    [
        (["embed", "--fasta", "x.fa", "--out", "x.npz", "--chunk-size", "0"], "--chunk-size: must be > 0, got 0"),
        (["embed", "--fasta", "x.fa", "--out", "x.npz", "--batch-size", "-1"], "--batch-size: must be > 0, got -1"),
        (["finetune", "--train", "t.csv", "--output-dir", "o", "--epochs", "-1"], "--epochs: must be > 0, got -1"),
        (["pretrain", "--fasta", "a.fa", "--output-dir", "o", "--steps", "0"], "--steps: must be > 0, got 0"),
        (["pretrain", "--fasta", "a.fa", "--output-dir", "o", "--checkpoint-every", "0"], "--checkpoint-every: must"),
        (["pretrain", "--fasta", "a.fa", "--output-dir", "o", "--mlm-probability", "1.5"], "between 0 and 1"),
        (["embed", "--fasta", "x.fa", "--out", "x.npz", "--overlap", "-3"], "--overlap: must be >= 0, got -3"),
    ],
)
def test_numeric_arguments_are_checked_when_parsed(arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_a_layer_the_model_does_not_have_is_one_clear_error():
    model, tokenizer = dna_zoo.load_model("demo", task="base"), dna_zoo.load_tokenizer("demo")
    with pytest.raises(ValueError, match=r"layer 99: the model has 5 hidden states \(0 the embeddings .. 4 the last"):
        dna_zoo.embed(model, tokenizer, ["ACGTACGT"], layer=99)
    assert dna_zoo.embed(model, tokenizer, ["ACGTACGT"], layer=-1).shape == (1, 64)


def test_outputs_are_checked_before_any_work(tmp_path):
    fasta = tmp_path / "a.fa"
    fasta.write_text(">a\nACGTACGTACGTAAGGCCTT\n")
    (tmp_path / "tok").mkdir()
    (tmp_path / "tok" / "tokenizer.json").write_text("{}")
    with pytest.raises(SystemExit, match="tok exists; pass --overwrite"):
        main(["train-tokenizer", "--fasta", str(fasta), "--out", str(tmp_path / "tok"), "--vocab-size", "20"])
    main(
        ["train-tokenizer", "--fasta", str(fasta), "--out", str(tmp_path / "tok"), "--vocab-size", "20", "--overwrite"]
    )
    with pytest.raises(SystemExit, match="the folder .*missing does not exist"):
        main(["embed", "--fasta", str(fasta), "--out", str(tmp_path / "missing" / "e.npz")])


def test_a_second_job_writing_the_same_output_is_refused(tmp_path):
    from dna_zoo.outputs import exclusive

    fasta = tmp_path / "a.fa"
    fasta.write_text(">a\nACGTACGTACGT\n")
    out = tmp_path / "same.npz"
    with exclusive(str(out)):  # the first job, still running
        with pytest.raises(SystemExit, match="another dna_zoo job is writing .*same.npz"):
            main(["embed", "--fasta", str(fasta), "--out", str(out)])
    main(["embed", "--fasta", str(fasta), "--out", str(out)])
    assert out.exists()
