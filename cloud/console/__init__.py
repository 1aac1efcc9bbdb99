"""The operator console (`/console/...`): accounts and roles (auth, views), API
tokens, the audit log, and the sections, each in a module of its own listed in
SECTIONS. `init_app(app)` attaches it. Every console page needs a logged-in operator
(cloud.console.auth).

A section module has `bp` (a Blueprint with url_prefix under /console), `NAV` (menu
entries: (endpoint, permission, text key)), and registers its words with
cloud.console.text.add at import.
"""

SECTIONS = ("dashboard_views", "recall_views", "alerts_views", "complaint_views", "webhook_views", "export_views", "masterdata_views")  # module names under cloud.console, in menu order

CORE_NAV = [("console.home", "view", "c_home")]
ADMIN_NAV = [("console.operators", "operator.admin", "c_operators"),
             ("console.api_tokens", "token.admin", "c_tokens"),
             ("console.audit_log", "audit.read", "c_audit")]


def init_app(app):
    import importlib

    from flask import request

    from cloud.console import auth, text, views  # noqa: F401 - text registers the console's words
    app.config.setdefault("CONSOLE_IDLE_MINUTES", 30)
    app.config.setdefault("CONSOLE_SESSION_HOURS", 12)
    nav = list(CORE_NAV)
    app.register_blueprint(views.bp)
    for name in SECTIONS:
        module = importlib.import_module("cloud.console." + name)
        # once per blueprint: a second app (tests make many) finds it set up already
        if auth.before_console_request not in module.bp.before_request_funcs.get(None, ()):
            module.bp.before_request(auth.before_console_request)
        app.register_blueprint(module.bp)
        nav.extend(module.NAV)
    nav.extend(ADMIN_NAV)
    @app.after_request
    def _console_referrer(response):
        # the console's own forms must carry their Origin (checked at login); with
        # no-referrer, browsers send "Origin: null". Nothing secret is in console URLs.
        if request.path.startswith("/console"):
            response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    app.jinja_env.globals.update(csrf_token=auth.csrf_token, can=auth.can, console_operator=auth.current_operator,
                                 console_nav=nav)
