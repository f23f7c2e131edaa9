"""Step i1 recipe: ten epochs, OneCycle learning rate, small rotations."""

from tinycnn import Recipe, main


def recipe() -> Recipe:
    raise NotImplementedError('TODO(i1): return the recipe (lesson: "The recipe")')


if __name__ == "__main__":
    main(__file__)
