"""Channel types from labels (files that store none), and the keep/drop list: only EEG reaches a decoder."""

import pytest

from reconstruct.datasets.channels import ChannelOptions, choose_channels, infer_type, parse_channels
from reconstruct.errors import DataFormatError, ParameterError

NON_EEG = {"VEOG": "eog", "HEOGL": "eog", "EOG left": "eog", "LO1": "eog", "IO2": "eog", "HEO": "eog", "VEOU": "eog", "ECG": "ecg", "EKG": "ecg",
           "EMG1": "emg", "Status": "stim", "Trigger": "stim", "TRIG Trigger": "stim", "STI 014": "stim",
           "Audio": "misc", "audio_L": "misc", "StimTrak": "misc", "Stim_Trak": "misc", "Sound": "misc", "Erg1": "misc",
           "AUX1": "misc", "EXG3": "misc", "MISC Audio": "misc", "Mic": "misc", "Photo": "misc", "GSR": "misc",
           "Resp": "misc", "Envelope": "misc"}
EEG_LABELS = ("Fp1", "AF7", "F3", "Fz", "FT9", "FC5", "T7", "C3", "Cz", "TP10", "CP1", "P9", "Pz", "PO8", "O1", "Oz",
              "Iz", "E1", "E65", "E128", "A1", "B32", "M1", "M2", "EEG Fp1", "1", "ch12")


@pytest.mark.parametrize("label, kind", NON_EEG.items())
def test_aux_labels_are_typed(label, kind):
    assert infer_type(label) == kind


@pytest.mark.parametrize("label", EEG_LABELS)
def test_electrode_labels_stay_eeg(label):
    assert infer_type(label) is None


def test_parse_channels():
    assert parse_channels("Fz, Cz") == (("Fz", "Cz"), ())
    assert parse_channels("-Fp1,-Fp2") == ((), ("Fp1", "Fp2"))
    assert parse_channels("") == ((), ())


@pytest.mark.parametrize("text, match", [("Fz,Fz", "names Fz twice"), ("@nowhere.txt", "not found")])
def test_bad_channel_lists_are_refused(text, match):
    with pytest.raises(ParameterError, match=match):
        parse_channels(text)


def test_choose_keeps_eeg_only_and_says_why():
    names = ["Fz", "Cz", "Pz", "VEOG", "Audio", "STI"]
    choice = choose_channels(names, ["eeg"] * 5 + ["stim"], ["Pz"], ChannelOptions(drop=("Cz",)), where="x")
    assert choice.kept == ["Fz"]
    assert choice.dropped == {"Cz": "dropped by --channels", "Pz": "marked bad in the file",
                              "VEOG": "eog (from its label)", "Audio": "misc (from its label)",
                              "STI": "stim (typed so in the file)"}


@pytest.mark.parametrize("options, match", [
    (ChannelOptions(drop=("Oz",)), "drops Oz, which the file has not got"),
    (ChannelOptions(keep=("Oz",)), "keeps Oz, which the file has not got"),
    (ChannelOptions(keep=("Audio",)), r"keeps Audio, but it is misc \(from its label\)"),
    (ChannelOptions(keep=("Pz",)), r"keeps Pz, but it is marked bad in the file; .*--bads interpolate"),
    (ChannelOptions(drop=("Fz",)), "no EEG channels left"),
])
def test_choose_refuses_what_cannot_be_done(options, match):
    with pytest.raises(DataFormatError, match=match):
        choose_channels(["Fz", "Pz", "Audio"], ["eeg"] * 3, ["Pz"], options, where="x")


def test_channel_options_refuse_nonsense():
    with pytest.raises(ParameterError, match="both keeps and drops Fz"):
        ChannelOptions(keep=("Fz",), drop=("Fz",))
    with pytest.raises(ParameterError, match="--bads='fix'"):
        ChannelOptions(bads="fix")
