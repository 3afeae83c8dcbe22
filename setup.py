"""Find Sasha's packages for setuptools; everything else is in pyproject.toml.

`find_packages` finds every package under sasha/; the prompt templates are the one package that
lives elsewhere (prompts/, mapped to sasha.templates in pyproject.toml), so it is added by name.
"""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["sasha", "sasha.*"]), "sasha.templates"])
