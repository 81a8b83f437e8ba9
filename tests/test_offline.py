"""Without network, a Hub id that is not cached gives one clear error saying how to pass a local path."""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import dna_zoo
    for load in (dna_zoo.NucleotideTransformerForMaskedLM.from_pretrained, dna_zoo.MistralDNATokenizer.from_pretrained,
                 dna_zoo.GenaLMTokenizer.from_pretrained, dna_zoo.NucleotideTransformerTokenizer.from_pretrained):
        try:
            load("some-lab/not-in-the-cache")
        except OSError as error:
            assert "not a local folder" in str(error) and "local path" in str(error), str(error)
        else:
            raise SystemExit(f"{load} did not refuse an unknown name")
    print("ok")
    """
)


def test_uncached_hub_id_offline_is_one_clear_error(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


def test_a_folder_without_tokenizer_files_is_refused(tmp_path):
    import pytest

    from dna_zoo import NucleotideTransformerForMaskedLM, NucleotideTransformerTokenizer

    with pytest.raises(OSError, match="holds none of"):
        NucleotideTransformerTokenizer.from_pretrained(tmp_path)  # transformers would build a default tokenizer
    with pytest.raises(OSError, match="config.json"):
        NucleotideTransformerForMaskedLM.from_pretrained(tmp_path)


def test_without_network_the_hub_is_not_asked_at_all(monkeypatch, tmp_path):
    """No HF_HUB_OFFLINE, but the Hub cannot be reached: only the cache is looked at (no client retries, the error
    comes at once)."""
    import pytest

    from dna_zoo import load_model
    from dna_zoo.models import pretrained

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(pretrained, "hub_reachable", lambda timeout=3.0: False)
    calls = []
    monkeypatch.setattr(pretrained, "cached_file", lambda *args, **kwargs: calls.append(kwargs) or None)
    with pytest.raises(OSError, match="not a local folder and could not be found in the Hugging Face cache"):
        load_model("some-lab/not-in-the-cache")
    assert calls and all(call.get("local_files_only") for call in calls)


def test_hub_reachable_answers_false_for_a_closed_endpoint(monkeypatch):
    from dna_zoo.models.pretrained import hub_reachable

    for key in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1")  # nothing listens on 127.0.0.1:443 here
    assert hub_reachable(timeout=1.0) is False
