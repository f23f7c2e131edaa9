"""Step i3 recipe: twenty epochs (the cap), OneCycle, rotations and shifts."""

from tinycnn import Recipe, main


def recipe() -> Recipe:
    return Recipe(
        num_epochs=20,
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
