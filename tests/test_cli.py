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
            params, context = line.split()[-2:]
            assert int(params.replace(",", "")) > 0 and int(context.replace(",", "")) > 0
    assert "InstaDeepAI/nucleotide-transformer-v2-50m-multi-species" in out and "52,484,608" in out


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
