"""Step i3 recipe: fifteen epochs, OneCycle learning rate, small rotations."""

from tinycnn import Recipe, main


def recipe() -> Recipe:
    # >>> TODO: return the recipe (lesson: "The recipe")
    return Recipe(
        num_epochs=15,
        batch_size=128,
        lr=0.1,
        momentum=0.9,
        nesterov=True,
        schedule="onecycle",
        rotation=10.0,
        translate=0.1,
    )
    # <<<


if __name__ == "__main__":
    main(__file__)
