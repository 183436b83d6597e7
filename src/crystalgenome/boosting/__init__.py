"""Stage 4b: gradient-boosted trees on descriptor rows — the baselines, and the shipped property models.

``fit_boosted(features, labels, train_rows, valid_rows, num_classes=2)`` fits scikit-learn's
histogram gradient boosting, keeps the round count that scores best on the validation rows, and
returns a :class:`TreeEnsemble`: plain node arrays, saved as ``.npz`` and predicted with numpy.
"""

from __future__ import annotations

from crystalgenome.boosting.fit import BoostConfig, BoostResult, fit_boosted
from crystalgenome.boosting.trees import TreeEnsemble

__all__ = ["BoostConfig", "BoostResult", "TreeEnsemble", "fit_boosted"]
