"""Step i2 recipe: twelve epochs, OneCycle, batch 64, rotations and shifts."""

from tinycnn import Recipe, main


def recipe() -> Recipe:
    return Recipe(
        num_epochs=12,
        batch_size=64,
        lr=0.2,
        momentum=0.9,
        nesterov=True,
        schedule="onecycle",
        rotation=10.0,
        translate=0.1,
    )


if __name__ == "__main__":
    main(__file__)
