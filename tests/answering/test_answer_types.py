"""Expected answer types (rag/answering/answer_types.py): what a question asks for, and
whether a sentence holds a candidate of that type that the question does not state."""
from __future__ import annotations

import pytest

from rag.answering.answer_types import DATE, PERSON, PLACE, QUANTITY, expected_type, has_type


@pytest.mark.parametrize("question, kind", [
    ("Who founded the company?", PERSON), ("Whose idea was it?", PERSON),
    ("When did the Normans arrive?", DATE), ("In what year was it built?", DATE),
    ("How many people died?", QUANTITY), ("How much did the bridge cost?", QUANTITY),
    ("Where is the hall?", PLACE), ("In which country is Normandy?", PLACE),
    ("What is the boiling point of water?", None), ("Why did they leave?", None),
])
def test_expected_answer_type_of_a_question(question, kind):
    assert expected_type(question) == kind


@pytest.mark.parametrize("question, sentence, found", [
    ("How many people died?", "The attack killed 133 people.", True),
    ("How many people died?", "People mourned across the country.", False),
    ("When did it open?", "The hall opened in March 2009.", True),
    ("When did it open?", "The hall opened to great applause.", False),
    ("Who founded Apple?", "Apple was founded by Steve Jobs.", True),
    ("Who founded Apple?", "Apple was founded in a garage.", False),  # only the asked name
    ("Where is the hall?", "The hall stands near Krasnogorsk.", True),
    ("Where is the hall?", "The hall is very large.", False),
    ("How many died in 1999?", "Bombings in 1999 shook the city.", False),  # number is asked
])
def test_a_candidate_of_the_expected_type_must_be_new_to_the_question(question, sentence, found):
    assert has_type(expected_type(question), sentence, question) is found
