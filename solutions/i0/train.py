"""Step i0 recipe: one epoch of SGD with momentum, the baseline to beat."""

from tinycnn import Recipe, main


def recipe() -> Recipe:
    # >>> TODO: return the recipe (lesson: "The recipe")
    return Recipe(
        num_epochs=1,
        batch_size=32,
        lr=0.05,
        momentum=0.9,
        schedule="onecycle",
    )
    # <<<


if __name__ == "__main__":
    main(__file__)
