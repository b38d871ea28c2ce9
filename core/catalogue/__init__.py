"""The domain catalogue, loaded from the package's data files and validated at start.

>>> cat = load_catalogue()
>>> cat.station("1462A").city
'xian'
"""
from ._catalogue import EXTRA_ENV, Catalogue, CatalogueError, extra_dirs, load_catalogue
from ._model import City, Kind, Parameter, River, Section, Station

__all__ = ["EXTRA_ENV", "Catalogue", "CatalogueError", "City", "Kind", "Parameter", "River",
           "Section", "Station", "extra_dirs", "load_catalogue"]
