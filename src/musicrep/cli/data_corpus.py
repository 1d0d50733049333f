"""``musicrep data corpus`` (being written)."""


def register(sub):
    pass
