"""tl.models: the tutorials' networks, each with the recipe it was trained with (RECIPES).

This package lives in the repository's top-level ``models/`` folder; setuptools installs
it as ``tinygrad_lite.models`` (see pyproject.toml's package-dir).
"""
from .mnist_nets import MLP, MLP1000, ThreeLayerNet, TinyMLP, TwoLayerNet, predict_proba
from .recipes import (DEFAULT_MNIST_RECIPE, GATES, MNIST_RECIPES, RECIPES, Recipe, iris_split, make_optimizer,
                      mnist_data, train_recipe)
from .small_nets import IrisNet, LogisticRegression, XORNet

__all__ = ["MLP", "MLP1000", "ThreeLayerNet", "TinyMLP", "TwoLayerNet", "LogisticRegression", "XORNet",
           "IrisNet", "RECIPES", "MNIST_RECIPES", "DEFAULT_MNIST_RECIPE", "Recipe", "GATES", "train_recipe",
           "make_optimizer", "iris_split", "mnist_data", "predict_proba"]
