"""Package mapping: index/, train/ and eval/ install as lsr.index, lsr.train and lsr.eval.

Nested subpackages are computed per mapped folder, so a new subfolder cannot be forgotten.
"""

from setuptools import find_namespace_packages, find_packages, setup

MAPPED = {"lsr.index": "index", "lsr.train": "train", "lsr.eval": "eval"}

# lsr/data holds package data folders without __init__.py: list them as namespace packages.
packages = find_packages(include=["lsr", "lsr.*"])
packages += find_namespace_packages(include=["lsr.data", "lsr.data.*"])
package_dir = {"lsr": "lsr"}
for name, folder in MAPPED.items():
    packages.append(name)
    package_dir[name] = folder
    for sub in find_packages(where=folder):
        packages.append(f"{name}.{sub}")
        package_dir[f"{name}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"

setup(packages=packages, package_dir=package_dir)
