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


@pytest.mark.parametrize("question, kind", [
    ("How many years did the war last?", QUANTITY),  # a count of years, not a date
    ("How old was she when she died?", QUANTITY),
    ("What percentage of voters turned out?", QUANTITY),
    ("In what year did the war begin?", DATE),
    ("Which company built the bridge?", PERSON),  # organisations count as who
    ("In which city is the hall?", PLACE),
    ("Who was president when the wall fell?", PERSON),  # the question's wh-word, not the
    ("Where did she live when the war began?", PLACE),  # one opening a clause inside it
    ("Which company built the bridge where they met?", PERSON),
    ("When did the man who founded it die?", DATE),
    ("How many died when the bridge fell?", QUANTITY),  # a quantity wins wherever it stands
    ("When the war ended, how many soldiers came home?", QUANTITY),
])
def test_the_first_fitting_type_wins_where_question_words_overlap(question, kind):
    assert expected_type(question) == kind


@pytest.mark.parametrize("kind, question, sentence, found", [
    (PERSON, "Who met?", "Yesterday the council met.", False),  # a capital that starts it
    (PERSON, "Who met?", "The council met with Mayor Ada Brown.", True),
    (QUANTITY, "How many people attended?", "Several hundred people attended.", True),
    (DATE, "When did the 1999 bombing happen?", "The 1999 bombing shook Moscow.", False),
    (DATE, "When did the 1999 bombing happen?", "It happened in September 1999.", True),
    (DATE, "When was it built?", "It was built in the 19th century.", True),
    (PLACE, "Where is Krasnogorsk?", "Krasnogorsk is a city.", False),
    (None, "Why did she go?", "In 1999 Ada Brown went to Paris.", False),  # nothing asked
])
def test_which_words_count_as_a_candidate_of_each_type(kind, question, sentence, found):
    assert has_type(kind, sentence, question) is found
