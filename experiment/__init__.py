"""The AB-X listening-study web app: `create_app` is the only thing here (imports happen inside it)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

BLUEPRINT_MODULES: tuple[str, ...] = ("experiment.participant", "experiment.api", "experiment.admin")
"""Modules each holding a blueprint `bp` and optionally `init_app(app)`; add the admin panel's here."""


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults → environment → `config`; database, security, then the blueprints.

    Served by `gunicorn 'experiment:create_app()'`; settings come from the environment
    (`DATABASE_URL`, `SECRET_KEY`, `TUNEBACK_*`), see experiment/config.py.
    """
    import importlib

    from flask import Flask

    from experiment import i18n, security, webdb
    from experiment.config import Config

    settings = Config.from_sources(config)
    root = Path(__file__).resolve().parent.parent
    app = Flask(__name__, instance_path=settings.INSTANCE_PATH, template_folder=str(root / "templates"),
                static_folder=str(root / "static"))
    app.config.update(settings.as_dict())
    app.config.update({k: v for k, v in (config or {}).items() if k not in Config.names()})
    if settings.PROXY_HOPS > 0:  # client address and scheme from the proxy's X-Forwarded-* headers
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.PROXY_HOPS
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    webdb.init_app(app)
    security.init_app(app)
    i18n.init_app(app)
    for name in BLUEPRINT_MODULES:
        module = importlib.import_module(name)
        app.register_blueprint(module.bp)
        if hasattr(module, "init_app"):
            module.init_app(app)
    from experiment import throttle

    throttle.init_app(app)  # after the blueprints: it limits their routes
    return app
