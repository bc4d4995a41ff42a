"""One observation vocabulary for both strategies, with an explicit unknown slot."""
from zoo.web.types import CATEGORIES, CATEGORY_VOCAB, TAG_VOCAB, UNKNOWN, category_index, tag_index


def test_unknown_categories_and_tags_go_to_the_unknown_slot():
    assert CATEGORY_VOCAB[0] == TAG_VOCAB[0] == UNKNOWN
    assert category_index("something-new") == 0 and tag_index("x-custom-widget") == 0
    assert [category_index(c) for c in CATEGORIES] == list(range(1, len(CATEGORIES) + 1))
    assert tag_index("BUTTON") == tag_index("button") == TAG_VOCAB.index("button")


def test_both_strategies_embed_the_same_vocabulary():
    from strategies.compressive_rl import features
    from strategies.foundation import sequence

    assert features.CATEGORIES == list(CATEGORY_VOCAB) and features.TAGS == list(TAG_VOCAB)
    assert sequence.category_index is category_index  # Strategy 1 indexes categories through the same function
