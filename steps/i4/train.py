"""Step i4 recipe: fifteen epochs, OneCycle, small rotations only."""

from tinycnn import Recipe, main


def recipe() -> Recipe:
    raise NotImplementedError('TODO(i4): return the recipe (lesson: "The recipe")')


if __name__ == "__main__":
    main(__file__)
