"""The studies shipped with lth-tf (gin files), installed as package data so that a study can be
named from any directory: `lth-tf run stability`. In a checkout or an editable install this is
the checkout's configs/; after `pip install .` it is site-packages/configs/."""
from pathlib import Path

from lth_tf.errors import ConfigError

DIR = Path(__file__).resolve().parent


def names():
    """The shipped studies, e.g. ['data_diet', ..., 'smoke', 'stability']."""
    return sorted(p.stem for p in DIR.glob("*.gin"))


def resolve(config: str) -> Path:
    """A gin file as given (relative to the cwd, as before), else the shipped study it names:
    `stability`, `stability.gin` and `configs/stability.gin` all name configs/stability.gin."""
    given = Path(config)
    if given.is_file():
        return given
    shipped = DIR / (given.name if given.suffix == ".gin" else f"{given.name}.gin")
    if shipped.is_file() and given.parent in (Path("."), Path("configs")):
        return shipped
    known = ", ".join(f"configs/{name}.gin" for name in names())
    raise ConfigError(f"Config file {config!r} not found: it is neither a file nor a study shipped with lth-tf. "
                      f"Known configs: {known or 'none'}. Name one by its path or by its name alone "
                      f"(e.g. `lth-tf run stability`), or give the path of your own gin file.")
