"""i1: the lesson's recipe, only what differs from Recipe's defaults."""

from tinycnn import Recipe, main


def recipe() -> Recipe:
    return Recipe(num_epochs=10, lr=0.2, nesterov=True, rotation=7.0)


if __name__ == "__main__":
    main(__file__)
