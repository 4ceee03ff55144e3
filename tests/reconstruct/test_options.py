"""The shared CLI options: named SNR levels, split settings, and bad values refused with a reason."""

import pytest
from click.testing import CliRunner

from reconstruct.cli import cli
from reconstruct.config import DEFAULT_SNR, LITERATURE_SNR
from reconstruct.options import SnrLevel


@pytest.mark.parametrize("value, snr", [("literature", LITERATURE_SNR), ("default", DEFAULT_SNR), ("0.2", 0.2),
                                        ("0", 0.0)])
def test_snr_levels(value, snr):
    assert SnrLevel().convert(value, None, None) == snr


@pytest.mark.parametrize("args, reason", [(["--snr", "loud"], "literature"),
                                          (["--split-scope", "chunk"], "song"),
                                          (["--split-guard", "3"], "0<=x<=2")])
def test_bad_values_are_refused_with_a_reason(args, reason, tmp_path):
    result = CliRunner().invoke(cli, ["split", "--run-dir", str(tmp_path), *args])
    assert result.exit_code == 2 and reason in result.output
