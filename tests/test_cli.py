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
