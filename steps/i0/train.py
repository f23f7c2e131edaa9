"""Step i0 recipe: one epoch of SGD with momentum, the baseline to beat."""

from tinycnn import Recipe, main


def recipe() -> Recipe:
    raise NotImplementedError('TODO(i0): return the recipe (lesson: "The recipe")')


if __name__ == "__main__":
    main(__file__)
