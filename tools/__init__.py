"""Authoring tools: what course authors run, never a learner's import.

    python -m tools derive   # steps/, checks/, nav and CI matrix from the manifest
    python -m tools docs     # the lessons' generated tables and images
    python -m tools check    # every rule tying the tree to the manifest:
                             # derived files fresh, each step complete,
                             # each check judged, no step named elsewhere
    python -m tools student-edition DIR [--gradescope ZIP --step STEP]
                             # the repository students get (and
                             # Gradescope's autograder zip)
"""
