from setuptools import find_packages, setup

setup(
    name="lth-tf",
    version="0.1.0",
    description="Find, test and export lottery tickets with TensorFlow/Keras 2 (tf-keras + tfmot).",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # configs/ is a package too, so the shipped studies install with it and `lth-tf run stability`
    # finds them from any directory.
    packages=find_packages(include=["lth_tf*", "components*", "pipelines*", "configs"]),
    package_data={"configs": ["*.gin"]},
    entry_points={"console_scripts": ["lth-tf = pipelines.cli:main"]},
    # Tested with: tensorflow 2.21.0, tf-keras 2.21.0, tensorflow-model-optimization 0.8.1,
    # tensorboard 2.21.0, tensorflow-datasets 4.9.10, gin-config 0.5.0, absl-py 1.4.0,
    # pandas 3.1.1, matplotlib 3.11.2, scikit-learn 1.9.1, mnist1d 0.0.2.post1, keras-tuner 1.4.8.
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "tf-keras>=2.21,<2.22",
        "tensorflow-model-optimization>=0.8.1,<0.9",
        "tensorboard>=2.21,<2.22",
        "tensorflow-datasets>=4.9.10,<5",
        "gin-config>=0.5,<0.6",
        "absl-py>=1.4,<3",
        "pandas>=2.2,<4",
        "matplotlib>=3.8,<4",
        "scikit-learn>=1.5,<2",
        "mnist1d>=0.0.2,<0.1",
        "keras-tuner>=1.4.8,<1.5",  # the sanity study's tuner (our own run_trial; tf_keras models)
    ],
    extras_require={"ray": ["ray>=2.9,<3"], "test": ["pytest>=8,<10", "ray>=2.9,<3"]},
)
