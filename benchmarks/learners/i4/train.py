"""Step i4 recipe: fifteen epochs, OneCycle, small rotations only."""

from tinycnn import Recipe, main


def recipe() -> Recipe:
    return Recipe(
        num_epochs=15,
        batch_size=64,
        lr=0.2,
        momentum=0.9,
        nesterov=True,
        schedule="onecycle",
        rotation=7.0,
    )


if __name__ == "__main__":
    main(__file__)
