"""Dify's cleaning and splitting rules: lengths in characters, automatic 500/50, custom separators."""

from __future__ import annotations

import pytest

from knowledge.split import (
    FixedSeparatorSplitter,
    RecursiveSplitter,
    clean_text,
    split_pages,
    validate_segmentation,
)

CUSTOM = {
    "pre_processing_rules": [],
    "segmentation": {"separator": "\\n", "max_tokens": 50, "chunk_overlap": 0},
}


def test_cleaning_removes_invalid_symbols_always_and_extra_spaces_when_asked():
    raw = "a<|b|>\x00c\ufffe\n\n\n\nd    e\t\tf"
    assert clean_text(raw, None) == "a<b>c\n\n\n\nd    e\t\tf"
    rules = {"pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": True}]}
    assert clean_text(raw, rules) == "a<b>c\n\nd e f"


def test_cleaning_removes_urls_and_emails_but_keeps_markdown_image_targets():
    rules = {"pre_processing_rules": [{"id": "remove_urls_emails", "enabled": True}]}
    text = "mail me@example.com see https://example.com/x ![pic](https://img.example/p.png)"
    assert clean_text(text, rules) == "mail  see  ![image](https://img.example/p.png)"


def test_automatic_chunks_stay_within_500_characters_with_overlap():
    sentence = "The quick brown fox jumps over the lazy dog. "
    text = sentence * 40  # 1800 characters, no blank lines
    chunks = RecursiveSplitter(chunk_size=500, chunk_overlap=50).split_text(text)
    assert len(chunks) >= 4
    assert all(len(c) <= 500 for c in chunks)
    # consecutive chunks share text (the overlap)
    assert chunks[0][-20:].split()[-1] in chunks[1]


def test_custom_separator_splits_first_and_only_long_pieces_recurse():
    text = "short line\n" + ("word " * 30).strip() + "\nlast"
    chunks = FixedSeparatorSplitter(separator="\\n", chunk_size=50, chunk_overlap=0).split_text(text)
    assert chunks[0] == "short line" and chunks[-1] == "last"
    middle = chunks[1:-1]
    assert len(middle) >= 3 and all(len(c) <= 50 for c in middle)
    assert " ".join(middle).split() == ["word"] * 30  # words are never glued together


def test_chunks_are_measured_in_characters_not_tokens():
    # 60 CJK characters are many tokens but fit a 60-character budget exactly
    text = "知" * 60
    assert FixedSeparatorSplitter(separator="\\n\\n", chunk_size=60, chunk_overlap=0).split_text(text) == [
        text
    ]
    assert (
        len(FixedSeparatorSplitter(separator="\\n\\n", chunk_size=59, chunk_overlap=0).split_text(text)) == 2
    )


def test_empty_chunks_are_dropped_and_a_leading_full_stop_is_stripped():
    chunks = split_pages(["first\n\n\n.second\n\n   \n"], mode="custom", rules=CUSTOM, doc_form="text_model")
    assert [c.content for c in chunks] == ["first", "second"]


def test_pages_are_split_separately():
    chunks = split_pages(["row one", "row two"], mode="automatic", rules=None, doc_form="text_model")
    assert [c.content for c in chunks] == ["row one", "row two"]


def test_parent_child_mode_splits_parents_then_children():
    rules = {
        "pre_processing_rules": [],
        "parent_mode": "paragraph",
        "segmentation": {"separator": "\\n\\n", "max_tokens": 500},
        "subchunk_segmentation": {"separator": "\\n", "max_tokens": 50},
    }
    chunks = split_pages(
        ["alpha one\nalpha two\n\nbeta one\nbeta two"],
        mode="hierarchical",
        rules=rules,
        doc_form="hierarchical_model",
    )
    assert [c.content for c in chunks] == ["alpha one\nalpha two", "beta one\nbeta two"]
    assert [c.children for c in chunks] == [["alpha one", "alpha two"], ["beta one", "beta two"]]


@pytest.mark.parametrize(
    ("segmentation", "message"),
    [
        ({"separator": "\n", "max_tokens": 10}, "between 50 and 4000"),
        ({"separator": "\n", "max_tokens": 5000}, "between 50 and 4000"),
        ({"separator": "\n", "max_tokens": 100, "chunk_overlap": 200}, "larger chunk overlap"),
        ({"separator": "\n"}, "max_tokens is invalid"),
    ],
)
def test_invalid_custom_rules_are_refused_with_difys_messages(segmentation, message):
    with pytest.raises(ValueError, match=message):
        validate_segmentation(segmentation)
