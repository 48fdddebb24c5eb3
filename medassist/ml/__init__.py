"""Tensor-side code of MedAssist: preprocessing, networks, training, synthetic data.

Nothing in this package imports Django or any other part of the project; the Django apps
call into it, never the other way round.
"""
