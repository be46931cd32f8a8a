"""PopChoice shared library.

Public modules: ``settings``, ``logs``, ``errors``, ``identity``, ``movie_text``, ``db`` (pool,
migrations, embedded PostgreSQL, repositories) and ``embedders``. ``testing`` is the pytest plugin.
"""

__version__ = "0.1.0"
