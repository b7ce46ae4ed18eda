def test_adds():
    assert 1 + 1 == 2


def test_wrong():
    assert 1 + 1 == 3, "arithmetic is broken"
