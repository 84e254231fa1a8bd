"""The words BM25 and the lexical checks compare (rag/lexical.py): a question and a passage
that use a word in different forms meet on one term; words that carry no content do not."""
from __future__ import annotations

from rag.lexical import stopwords, words


def test_inflections_and_case_of_a_word_give_one_term():
    forms = ["connect", "Connected", "CONNECTING", "connection", "connections"]
    assert {w for f in forms for w in words(f)} == set(words("connect"))
    assert len(words("connect")) == 1


def test_a_question_and_a_passage_meet_on_the_words_they_share_in_other_forms():
    question = words("Which bridges connected the cities?")
    passage = words("The bridge connecting both city centres opened in 1932.")
    assert set(question) - set(passage) == set(words("which"))


def test_stopwords_and_one_character_tokens_carry_no_terms():
    assert words("The and of to is a I x 7 . , ?") == []
    assert all(words(w) == [] for w in stopwords()), "a stopword came through"
    assert "the" in stopwords() and "river" not in stopwords()


def test_repeated_words_are_kept_in_text_order_for_term_frequency():
    got = words("River bridge, river; RIVER!")
    assert len(got) == 4 and got[0] == got[2] == got[3] != got[1]
    assert got[1] == words("bridges")[0]


def test_numbers_and_non_ascii_words_are_terms_and_punctuation_splits_words():
    assert words("In 1932 Zürich's ÉCOLE") == words("in 1932 zürich's école")
    assert "1932" in words("In 1932") and words("Zürich") == ["zürich"]
    assert words("state-of-the-art e-mail") == words("state art mail")
