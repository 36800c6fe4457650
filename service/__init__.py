"""The Flask API of nnservice: `create_app()` builds it (see service/app.py)."""

from service.app import create_app

__all__ = ["create_app"]
