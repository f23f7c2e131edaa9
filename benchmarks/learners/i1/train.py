"""Step i1 recipe: ten epochs, OneCycle learning rate, small rotations."""

from tinycnn import Recipe, main


def recipe() -> Recipe:
    return Recipe(
        num_epochs=10,
        batch_size=128,
        lr=0.2,
        momentum=0.9,
        nesterov=True,
        schedule="onecycle",
        rotation=7.0,
    )


if __name__ == "__main__":
    main(__file__)
