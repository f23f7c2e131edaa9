"""Variant of i0: SGD lr 0.05, batch 128 (too hot without BatchNorm)."""

from tinycnn import Recipe, main


def recipe() -> Recipe:
    # >>> TODO: return the recipe (lesson: "The recipe")
    return Recipe(
        num_epochs=1,
        batch_size=128,
        lr=0.05,
        momentum=0.9,
        schedule="step",
        step_size=1,
        gamma=0.1,
    )
    # <<<


if __name__ == "__main__":
    main(__file__)
