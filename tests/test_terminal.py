"""A quiet terminal: without -v a command prints cocktail's own lines, not the libraries' progress bars, even where
those libraries were imported before the command ran (an earlier command in the same process, a notebook)."""
import transformers.utils.logging

from sweeps.cli.main import main


def test_no_progress_bar_from_a_library_imported_before_the_command(tmp_path, capsys):
    transformers.utils.logging.enable_progress_bar()
    try:
        assert main(["model", "tiny", "--out", str(tmp_path / "m")]) == 0
        captured = capsys.readouterr()
        assert "Writing model shards" not in captured.err + captured.out
        assert captured.out.strip().splitlines() == [f"wrote phi3 tiny model and tokenizer to {tmp_path / 'm'}"]
    finally:
        transformers.utils.logging.enable_progress_bar()
