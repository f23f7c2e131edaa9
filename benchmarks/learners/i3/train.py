"""i3: the lesson's recipe, only what differs from Recipe's defaults."""

from tinycnn import Recipe, main


def recipe() -> Recipe:
    return Recipe(num_epochs=20, batch_size=64, lr=0.2, nesterov=True,
                  rotation=10.0, translate=0.1)


if __name__ == "__main__":
    main(__file__)
